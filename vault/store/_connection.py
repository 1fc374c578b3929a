"""The SQLite connection: file creation, pragmas, transactions, migrations, maintenance.

Design choices:

- One connection per store in autocommit mode; every write runs in an explicit
  ``BEGIN IMMEDIATE ... COMMIT`` (``write()``), because a deferred transaction that later
  writes can fail with "database is locked" despite the busy timeout. Mutating statements
  (``_exec``) refuse to run outside ``write()``, so no write can slip out of its transaction.
- Pragmas on every connection: WAL, ``synchronous=FULL``, ``busy_timeout``, ``foreign_keys``,
  ``secure_delete``. The file is created 0600 before SQLite touches it; SQLite gives its
  ``-wal`` and ``-shm`` files the mode of the database file, and ``open`` tightens any
  sidecar that is looser.
- ``sqlite3`` errors are translated into ``StoreError`` here and never leave this package.
- A lock serialises use of the connection, so threads of one process may share a store.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ParamSpec, Self, TypeVar

from vault.errors import IntegrityError, StoreError, VaultExists, VaultNotFound
from vault.store._migrations import MIGRATIONS, MIGRATIONS_TABLE

BUSY_TIMEOUT_MS = 30_000
SIDECARS = ("-wal", "-shm")

P = ParamSpec("P")
T = TypeVar("T")


def _translated(func: Callable[P, T]) -> Callable[P, T]:
    """Turn any ``sqlite3`` error (or undecodable schema text) raised by ``func`` into a
    ``StoreError`` or ``IntegrityError``."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except sqlite3.Error as exc:
            raise store_error(exc) from exc
        except UnicodeDecodeError as exc:  # a damaged name in the schema table itself
            raise IntegrityError("the vault holds a damaged text value") from exc

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def store_error(exc: sqlite3.Error) -> StoreError | IntegrityError:
    # One line, bounded: a damaged schema makes SQLite quote whole CREATE statements.
    lines = str(exc).splitlines()
    text = lines[0][:160] if lines else type(exc).__name__
    if "Could not decode" in text:
        return IntegrityError("the vault holds a damaged text value")
    if "locked" in text or "busy" in text:
        return StoreError("the vault is busy: another process held its lock for too long")
    if "not a database" in text or "malformed" in text:
        return StoreError(f"the vault file is damaged or not a questa-vault database ({text})")
    if "append-only" in text:
        return StoreError("the access log is append-only")
    # sqlite3 messages name tables and columns, never bound values.
    return StoreError(f"vault database error: {text}")


def _check_is_vault(path: Path) -> None:
    """Refuse (``StoreError``) a file that is not a vault, reading it through a read-only
    connection, so that somebody else's SQLite file is left byte for byte as it was.

    A vault has our migrations table, its first recorded migration is our first one, and it
    has the ``vault_meta`` table that migration makes. Later unknown migrations pass here:
    ``_migrate`` reports a vault of a newer version.
    """
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise store_error(exc) from exc
    try:
        _check_schema(path, conn)
    finally:
        conn.close()


@_translated
def _check_schema(path: Path, conn: sqlite3.Connection) -> None:
    not_a_vault = StoreError(f"{path} is not a questa-vault database")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"schema_migrations", "vault_meta"} <= tables:
        raise not_a_vault
    columns = [r[1] for r in conn.execute("PRAGMA table_info(schema_migrations)")]
    if columns != ["id", "name", "applied_at"]:
        raise not_a_vault
    first = conn.execute("SELECT name FROM schema_migrations ORDER BY id LIMIT 1").fetchone()
    if first is None or first[0] != MIGRATIONS[0][0]:
        raise not_a_vault


class Connection:
    """An open vault file: connection, transactions, schema. ``Store`` adds the rows."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()
        self._depth = 0  # nesting of write()/read() on this connection
        self._writing = False  # the open transaction is a write (BEGIN IMMEDIATE)

    # ----------------------------------------------------------------- opening

    @classmethod
    def create(cls, path: Path) -> Self:
        """Create a new vault file (mode 0600) with the current schema; ``VaultExists``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError as exc:
            raise VaultExists(
                f"a vault already exists at {path}; refusing to overwrite it"
            ) from exc
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror}") from exc
        os.close(fd)
        for suffix in SIDECARS:  # leftovers of an older file of that name would be replayed
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
        try:
            return cls._connect(path, new=True)
        except BaseException:
            cls._remove(path)
            raise

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open an existing vault and bring its schema up to date; ``VaultNotFound``."""
        path = Path(path)
        if not path.is_file():
            raise VaultNotFound(f"no vault at {path}: run questa-vault init")
        return cls._connect(path, new=False)

    @classmethod
    def _connect(cls, path: Path, *, new: bool) -> Self:
        if not new:
            # Before anything can write: the WAL pragma and the migrations change the file.
            _check_is_vault(path)
        try:
            conn = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except sqlite3.Error as exc:
            raise store_error(exc) from exc
        store = cls(path, conn)
        try:
            store._configure()
            store._migrate()
            store._tighten_modes()
        except BaseException:
            conn.close()
            raise
        return store

    @_translated
    def _configure(self) -> None:
        c = self._conn
        c.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = c.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise StoreError("the vault file cannot use write-ahead logging")
        c.execute("PRAGMA synchronous = FULL")
        c.execute("PRAGMA foreign_keys = ON")
        c.execute("PRAGMA secure_delete = ON")

    @_translated
    def _migrate(self) -> None:
        known = [name for name, _ in MIGRATIONS]
        with self.write():
            self._conn.execute(MIGRATIONS_TABLE)
            applied = [
                r[0] for r in self._conn.execute("SELECT name FROM schema_migrations ORDER BY id")
            ]
            if applied != known[: len(applied)]:
                raise StoreError(
                    "this vault was written by a newer or different version of questa-vault"
                )
            for number, (name, statements) in enumerate(MIGRATIONS, start=1):
                if name in applied:
                    continue
                for sql in statements:
                    self._conn.execute(sql)
                self._conn.execute(
                    "INSERT INTO schema_migrations (id, name, applied_at) "
                    "VALUES (?, ?, julianday('now'))",
                    (number, name),
                )

    def _tighten_modes(self) -> None:
        for name in (str(self.path), *(f"{self.path}{s}" for s in SIDECARS)):
            with contextlib.suppress(FileNotFoundError, PermissionError):
                mode = stat.S_IMODE(os.stat(name).st_mode)
                if mode & 0o077:
                    os.chmod(name, 0o600)

    @staticmethod
    def _remove(path: Path) -> None:
        for name in (str(path), *(f"{path}{s}" for s in SIDECARS)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pragmas(self) -> dict[str, int | str]:
        """The connection settings that matter for safety (for ``verify`` and tests)."""
        out: dict[str, int | str] = {}
        for name in (
            "journal_mode",
            "synchronous",
            "busy_timeout",
            "foreign_keys",
            "secure_delete",
        ):
            value = self._query(f"PRAGMA {name}")[0][0]
            out[name] = value if isinstance(value, int) else str(value)
        return out

    def migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        return [r[0] for r in self._query("SELECT name FROM schema_migrations ORDER BY id")]

    # ----------------------------------------------------------------- transactions

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE ... COMMIT``; rolls back on any exception. Nested calls join."""
        with self._lock:
            if self._depth:
                if not self._writing:  # upgrading a deferred snapshot could fail half-way
                    raise StoreError("internal: a write inside a read snapshot")
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise store_error(exc) from exc
            self._depth, self._writing = 1, True
            try:
                yield
            except BaseException:
                self._depth, self._writing = 0, False
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            self._depth, self._writing = 0, False
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise store_error(exc) from exc

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        """A consistent snapshot for several reads (``BEGIN DEFERRED``); joins a write."""
        with self._lock:
            if self._depth:
                yield
                return
            try:
                self._conn.execute("BEGIN")
            except sqlite3.Error as exc:
                raise store_error(exc) from exc
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._conn.execute(sql, tuple(params)).fetchall())
            except sqlite3.Error as exc:
                raise store_error(exc) from exc

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one mutating statement inside ``write()``; the number of rows changed."""
        with self._lock:
            if not self._writing:
                raise StoreError("internal: a write outside a write transaction")
            try:
                return int(self._conn.execute(sql, tuple(params)).rowcount)
            except sqlite3.Error as exc:
                raise store_error(exc) from exc

    def _exec_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one mutating statement for many rows inside ``write()``."""
        with self._lock:
            if not self._writing:
                raise StoreError("internal: a write outside a write transaction")
            try:
                self._conn.executemany(sql, rows)
            except sqlite3.Error as exc:
                raise store_error(exc) from exc

    # ----------------------------------------------------------------- maintenance

    @_translated
    def checkpoint(self) -> None:
        """Copy the WAL into the main file and truncate it to zero bytes."""
        with self._lock:
            if self._depth:
                raise StoreError("internal: checkpoint inside a transaction")
            row = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if row is not None and int(row[0]) != 0:
                raise StoreError("the vault is busy: the write-ahead log could not be emptied")

    @_translated
    def vacuum(self) -> None:
        """Rebuild the file so freed pages leave it."""
        with self._lock:
            if self._depth:
                raise StoreError("internal: vacuum inside a transaction")
            self._conn.execute("VACUUM")

    @_translated
    def integrity_check(self) -> list[str]:
        """SQLite's own page-level check; an empty list when the file is sound."""
        rows = self._query("PRAGMA integrity_check")
        problems = [str(r[0]) for r in rows]
        return [] if problems == ["ok"] else problems

    def backup(self, dest: Path) -> None:
        """A consistent online copy through the SQLite backup API (dest created 0600)."""
        dest = Path(dest)
        try:
            fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError as exc:
            raise VaultExists(f"{dest} already exists; refusing to overwrite it") from exc
        except OSError as exc:
            raise StoreError(f"cannot create {dest}: {exc.strerror}") from exc
        os.close(fd)
        try:
            target = sqlite3.connect(str(dest), isolation_level=None)
            try:
                with self._lock:
                    self._conn.backup(target)
                target.execute("PRAGMA journal_mode = WAL")
            finally:
                target.close()
        except sqlite3.Error as exc:
            self._remove(dest)
            raise store_error(exc) from exc
        except BaseException:
            self._remove(dest)
            raise

    def count(self, table: str) -> int:
        """Rows in one of the vault's tables (for checks and tests)."""
        names = self._query("SELECT name FROM sqlite_master WHERE type = 'table'")
        if (table,) not in names:
            raise StoreError(f"no table {table}")
        return int(self._query(f"SELECT count(*) FROM [{table}]")[0][0])

    # ----------------------------------------------------------------- verify support
    # (used by ``vault.lifecycle.verify``: whole-vault checks without reading ciphertext)

    def schema_problems(self) -> list[str]:
        """How the file's schema differs from the one the migrations make (dropped triggers,
        altered tables, unknown objects, unexpected migrations); empty when it matches."""
        problems: list[str] = []
        applied = self.migrations()
        known = [name for name, _ in MIGRATIONS]
        if applied != known:
            problems.append(f"applied migrations {applied} differ from the expected {known}")
        expected = _expected_schema()
        actual = {
            (str(r[0]), str(r[1])): _normalise_sql(r[2])
            for r in self._query("SELECT type, name, sql FROM sqlite_master")
        }
        for key in sorted(set(expected) - set(actual)):
            problems.append(f"{key[0]} {key[1]} is missing")
        for key in sorted(set(actual) - set(expected)):
            problems.append(f"unexpected {key[0]} {key[1]}")
        for key in sorted(set(actual) & set(expected)):
            if actual[key] != expected[key]:
                problems.append(f"{key[0]} {key[1]} differs from its definition")
        return problems


def _normalise_sql(sql: object) -> str:
    return " ".join(str(sql).split()) if sql is not None else ""


def _expected_schema() -> dict[tuple[str, str], str]:
    """``(type, name) -> SQL`` of a fresh database with every migration applied."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(MIGRATIONS_TABLE)
        for _, statements in MIGRATIONS:
            for sql in statements:
                conn.execute(sql)
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    finally:
        conn.close()
    return {(str(r[0]), str(r[1])): _normalise_sql(r[2]) for r in rows}
