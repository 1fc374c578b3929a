"""The backend-neutral database object: one open vault database (SQLite file or PostgreSQL
database), its transactions, its schema, and its query objects, one per part of the vault:

    db = open_database(location)          # or create_database; vault.store._open
    with db.write():                      # one transaction, one writer per vault
        db.jobs.put(row); db.blobs.insert(blobs); db.grants.insert(grant); db.log.append(entry)
    db.users.get(name); db.meta.get("vault_id"); db.audit.audit_totals(...)

The custodian and the lifecycle only ever talk to this interface; ``_sqlite`` and ``_postgres``
implement its backend hooks. Maintenance (checkpoint, vacuum, backup) lives in
``_maintenance``, on top of ``maintenance_statement``.

Design choices:

- Every write runs in ``write()``: one transaction, and one writer per vault at a time
  (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory lock taken first), so
  reading the log head and appending after it can never fork the hash chain, whichever host
  writes. Nested calls join the open transaction; a write inside a ``read()`` snapshot is
  refused, because upgrading a snapshot could fail half-way.
- Mutating statements (``execute``) refuse to run outside ``write()``, so no write can slip out
  of its transaction.
- SQL is written once, in the subset both engines accept, with ``?`` parameters; a backend
  rewrites what it must (``_postgres`` turns ``?`` into ``%s`` and ``BLOB`` casts into
  ``BYTEA``). Where the engines differ in substance (aggregating JSON, the schema catalogue)
  the query asks ``dialect``.
- Foreign errors are translated by the backend into ``StoreError``/``IntegrityError`` and
  never leave this package.
- A lock serialises use of the connection, so threads of one process may share a store.
- Inside one write transaction nobody else can change the vault (that is what makes it the one
  writer), so a value read there may be kept for the rest of the transaction (``memo``): the
  users and the log head are read once per batch of stored jobs instead of several times per
  job. A statement of the transaction that writes a table drops what was read from it.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from vault.config import DatabaseUrl
from vault.errors import StoreError
from vault.store._grants import Grants
from vault.store._jobs import Blobs, Jobs
from vault.store._log import AccessLog
from vault.store._meta import Meta
from vault.store._users import Users

if TYPE_CHECKING:
    from vault.store._audit_view import Audit

Dialect = Literal["sqlite", "postgresql"]
T = TypeVar("T")


@functools.lru_cache(maxsize=512)  # a statement's text is a constant of its query object
def written_table(sql: str) -> str | None:
    """The table a mutating statement writes (``INSERT INTO t``, ``UPDATE t``, ``DELETE FROM
    t``, with an ``OR ...`` clause), lower case; ``None`` when it cannot tell (anything else)."""
    words = sql.split(None, 5)
    upper = [w.upper() for w in words[:4]]
    if len(words) >= 3 and upper[0] == "UPDATE":
        at = 2 if upper[1] == "OR" else 1
    elif len(words) >= 3 and upper[0] == "DELETE" and upper[1] == "FROM":
        at = 2
    elif len(words) >= 3 and upper[0] in ("INSERT", "REPLACE"):
        at = upper.index("INTO") + 1 if "INTO" in upper else 0
    else:
        return None
    if not 0 < at < len(words):
        return None
    name = words[at].split("(", 1)[0].strip('"').lower()
    return name or None


class Database(ABC):
    """An open vault database. Subclasses: ``SqliteDatabase``, ``PostgresDatabase``."""

    dialect: Dialect

    def __init__(self, location: Path | DatabaseUrl) -> None:
        self.location = location
        self._lock = threading.RLock()
        self._depth = 0  # nesting of write()/read()
        self._writing = False  # the open transaction is a write
        # What the open write transaction has read and may reuse: key -> (tables it was read
        # from, value). Emptied when a transaction begins or ends.
        self._memo: dict[str, tuple[frozenset[str], Any]] = {}
        self.meta = Meta(self)
        self.users = Users(self)
        self.jobs = Jobs(self)
        self.blobs = Blobs(self)
        self.grants = Grants(self)
        self.log = AccessLog(self)

    @functools.cached_property
    def audit(self) -> Audit:
        """``db.audit``: the read-only aggregates and listings behind ``vault.audit``, loaded
        on first use (a restore never needs them: cold start)."""
        from vault.store._audit_view import Audit

        return Audit(self)

    # ----------------------------------------------------------------- backend hooks

    @abstractmethod
    def _begin_write(self) -> None: ...

    @abstractmethod
    def _begin_read(self) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None:
        """Roll back, never raising (the connection may already be gone)."""

    @abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _change(self, sql: str, params: Sequence[Any]) -> int: ...

    @abstractmethod
    def _change_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Close the connection (idempotent)."""

    @abstractmethod
    def tables(self) -> list[str]:
        """Names of the tables in the vault's schema."""

    @abstractmethod
    def schema_problems(self) -> list[str]:
        """How the database's schema differs from the one the migrations make."""

    @abstractmethod
    def log_guarded(self) -> bool:
        """Whether the triggers that keep the access log append-only are in place (a cheap
        catalogue read, asked before every release of plaintext)."""

    @abstractmethod
    def integrity_check(self) -> list[str]:
        """The engine's own consistency check; an empty list when all is sound."""

    @abstractmethod
    def discard(self) -> None:
        """Close and remove the vault this process has just created (a failed ``init``)."""

    def missing_privileges(self, wanted: Sequence[tuple[str, str]]) -> list[str]:
        """Which ``(table, privilege)`` pairs the connection lacks, as ``PRIVILEGE on table``
        (PostgreSQL's roles; a SQLite file has none: whoever opened it may write it)."""
        return []

    @abstractmethod
    def settings(self) -> dict[str, int | str]:
        """The connection settings that matter for safety (for ``verify`` and tests)."""

    def same_database(self, other: Database) -> bool:
        """True when ``other`` is this very vault, however its location is spelled (another
        path to the same file, URL parameters in another order, another name of the host):
        decided by identity, never by the text. Different engines are never the same."""
        return False

    # ----------------------------------------------------------------- transactions

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction, one writer per vault; rolls back on any exception."""
        with self._lock:
            if self._depth:
                if not self._writing:
                    raise StoreError("internal: a write inside a read snapshot")
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._begin_write()
            self._memo.clear()
            self._depth, self._writing = 1, True
            try:
                yield
            except BaseException:
                self._depth, self._writing = 0, False
                self._memo.clear()
                self._rollback()
                raise
            self._depth, self._writing = 0, False
            self._memo.clear()
            try:
                self._commit()
            except BaseException:
                self._rollback()
                raise

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        """A consistent snapshot for several reads; joins an open transaction."""
        with self._lock:
            if self._depth:
                yield
                return
            self._begin_read()
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                self._end_read()

    def _end_read(self) -> None:
        try:
            self._commit()
        except StoreError:
            self._rollback()

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def memo(self, key: str, tables: Iterable[str], read: Callable[[], T]) -> T:
        """``read()``, kept under ``key`` for the rest of the open write transaction, until a
        statement of it writes one of ``tables`` (the tables ``read`` reads; a name with a dot
        is a part of a table that only its own query object writes, ``forget`` says when).
        Outside a write transaction this is just ``read()``. The caller must not mutate the
        value (rows are frozen; a list is handed out as it was kept)."""
        with self._lock:
            if not self._writing:
                return read()
            kept = self._memo.get(key)
            if kept is not None:
                return kept[1]  # type: ignore[no-any-return]
            value = read()
            self._memo[key] = (frozenset(tables), value)
            return value

    def remember(self, key: str, tables: Iterable[str], value: Any) -> None:
        """Keep ``value`` under ``key`` as ``memo`` would (the caller has just written it)."""
        with self._lock:
            if self._writing:
                self._memo[key] = (frozenset(tables), value)

    def forget(self, tables: Iterable[str], *, parts: bool = True) -> None:
        """Drop what was read from any of ``tables``; with ``parts``, a bare table name also
        drops what was read from its dotted parts (``access_log`` drops
        ``access_log.subjects``)."""
        names = set(tables)
        with self._lock:
            for key, (read_from, _) in list(self._memo.items()):
                if not names.isdisjoint(read_from) or (
                    parts and any(t.split(".", 1)[0] in names for t in read_from)
                ):
                    del self._memo[key]

    def _written(self, sql: str, touches: Iterable[str] | None) -> None:
        if not self._memo:
            return
        if touches is not None:
            self.forget(touches, parts=False)
            return
        table = written_table(sql)
        if table is None:
            self._memo.clear()  # DDL or a statement not recognised: drop everything
        else:
            self.forget((table,))

    # ----------------------------------------------------------------- statements

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._fetch(sql, params)

    def execute(
        self, sql: str, params: Sequence[Any] = (), *, touches: Iterable[str] | None = None
    ) -> int:
        """Run one mutating statement inside ``write()``; the number of rows changed.
        ``touches`` names exactly what it writes for ``memo`` (default: the statement's table,
        all of it)."""
        with self._lock:
            if not self._writing:
                raise StoreError("internal: a write outside a write transaction")
            self._written(sql, touches)
            return self._change(sql, params)

    def execute_returning(
        self, sql: str, params: Sequence[Any] = (), *, touches: Iterable[str] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one mutating statement with ``RETURNING`` inside ``write()``; its rows
        (``touches`` as for ``execute``)."""
        with self._lock:
            if not self._writing:
                raise StoreError("internal: a write outside a write transaction")
            self._written(sql, touches)
            return self._fetch(sql, params)

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one mutating statement for many rows inside ``write()``."""
        with self._lock:
            if not self._writing:
                raise StoreError("internal: a write outside a write transaction")
            if rows:
                self._written(sql, None)
                self._change_many(sql, rows)

    def maintenance_statement(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement that must not run inside a transaction (a checkpoint, VACUUM);
        its rows. Refused inside ``write()``/``read()``."""
        with self._lock:
            if self._depth:
                raise StoreError("internal: maintenance inside a transaction")
            return self._fetch(sql, ())

    def log_head_guarded(self, head_sql: str) -> tuple[list[tuple[Any, ...]], bool]:
        """The rows of ``head_sql`` (a parameterless read of the log's head) and
        ``log_guarded()``: what the check before every release reads. A backend where every
        statement is a round trip answers both in one (``_postgres``)."""
        return self.query(head_sql), self.log_guarded()

    def migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        return [str(r[0]) for r in self.query("SELECT name FROM schema_migrations ORDER BY id")]

    def count(self, table: str) -> int:
        """Rows in one of the vault's tables (for checks and tests)."""
        if table not in self.tables():
            raise StoreError(f"no table {table}")
        return int(self.query(f'SELECT count(*) FROM "{table}"')[0][0])

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
