"""The SQLite file: connection, pragmas, transactions, migrations, and row access.

Design choices:

- One connection per ``Store`` in autocommit mode; every write runs in an explicit
  ``BEGIN IMMEDIATE ... COMMIT`` (``write()``), because a deferred transaction that later
  writes can fail with "database is locked" despite the busy timeout. Mutating methods refuse
  to run outside ``write()``, so no write can slip out of its transaction.
- Pragmas on every connection: WAL, ``synchronous=FULL``, ``busy_timeout``, ``foreign_keys``,
  ``secure_delete``. The file is created 0600 before SQLite touches it; SQLite gives its
  ``-wal`` and ``-shm`` files the mode of the database file, and ``open`` tightens any
  sidecar that is looser.
- ``sqlite3`` errors are translated into ``StoreError`` here and never leave this package.
- A lock serialises use of the connection, so threads of one process may share a store.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlite_utils

from vault.errors import IntegrityError, StoreError, VaultExists, VaultNotFound
from vault.store._migrations import MIGRATIONS, MIGRATIONS_TABLE
from vault.store._rows import BlobRow, GrantRow, JobRow, LogRow, UserRow

BUSY_TIMEOUT_MS = 30_000
SIDECARS = ("-wal", "-shm")

P = ParamSpec("P")
T = TypeVar("T")

_JOB_COLUMNS = (
    "job_id, status, file_type, source, created_at, submitted_at, fetched_at, archived_at, "
    "expires_at, entity_count, map_size, entity_counts, shared_placeholders, "
    "placeholder_like_originals, file_size, chunk_count, ciphertext_size, key_version, seal, "
    "updated_at"
)
# Binary columns are read through CAST so that a value whose storage class was changed
# (e.g. by an edit that concatenated text) still reaches the integrity checks as bytes.
_JOB_SELECT = _JOB_COLUMNS.replace(" seal,", " CAST(seal AS BLOB),")
_USER_COLUMNS = (
    "id, name, enabled, created_at, public_key, wrapped_key, kdf_algorithm, kdf_memory_kib, "
    "kdf_passes, kdf_lanes, kdf_salt, key_changed_at"
)
_USER_SELECT = (
    "id, name, enabled, created_at, CAST(public_key AS BLOB), CAST(wrapped_key AS BLOB), "
    "kdf_algorithm, kdf_memory_kib, kdf_passes, kdf_lanes, CAST(kdf_salt AS BLOB), "
    "key_changed_at"
)


def _translated(func: Callable[P, T]) -> Callable[P, T]:
    """Turn any ``sqlite3`` error raised by ``func`` into a ``StoreError``."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except sqlite3.Error as exc:
            raise _store_error(exc) from exc

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def _store_error(exc: sqlite3.Error) -> StoreError | IntegrityError:
    text = str(exc)
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


class Store:
    """An open vault file. Use ``create`` or ``open``; close it (or use ``with``)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
        self._lock = threading.RLock()
        self._depth = 0

    # ----------------------------------------------------------------- opening

    @classmethod
    def create(cls, path: Path) -> Store:
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
    def open(cls, path: Path) -> Store:
        """Open an existing vault and bring its schema up to date; ``VaultNotFound``."""
        path = Path(path)
        if not path.is_file():
            raise VaultNotFound(f"no vault at {path}: run questa-vault init")
        return cls._connect(path, new=False)

    @classmethod
    def _connect(cls, path: Path, *, new: bool) -> Store:
        try:
            conn = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except sqlite3.Error as exc:
            raise _store_error(exc) from exc
        store = cls(path, conn)
        try:
            if not new:
                store._check_is_vault()
            store._configure()
            store._migrate()
            store._tighten_modes()
        except BaseException:
            conn.close()
            raise
        return store

    @_translated
    def _check_is_vault(self) -> None:
        # Never add our schema to somebody else's database.
        if "schema_migrations" not in self._db.table_names():
            raise StoreError(f"{self.path} is not a questa-vault database")

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

    def __enter__(self) -> Store:
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
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _store_error(exc) from exc
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise _store_error(exc) from exc

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
                raise _store_error(exc) from exc
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
                return list(self._db.execute(sql, tuple(params)).fetchall())
            except sqlite3.Error as exc:
                raise _store_error(exc) from exc

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one mutating statement inside ``write()``; the number of rows changed."""
        with self._lock:
            if not self._depth:
                raise StoreError("internal: a write outside a transaction")
            try:
                return int(self._db.execute(sql, tuple(params)).rowcount)
            except sqlite3.Error as exc:
                raise _store_error(exc) from exc

    # ----------------------------------------------------------------- vault_meta

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM vault_meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self._exec(
            "INSERT INTO vault_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # ----------------------------------------------------------------- users

    def insert_user(self, row: UserRow) -> int:
        """Insert a user (``row.id`` is ignored); the new id. ``StoreError`` if the name exists."""
        if self.get_user(row.name) is not None:
            raise StoreError(f"user {row.name} already exists")
        self._exec(
            f"INSERT INTO users ({_USER_COLUMNS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.name,
                int(row.enabled),
                row.created_at,
                row.public_key,
                row.wrapped_key,
                row.kdf_algorithm,
                row.kdf_memory_kib,
                row.kdf_passes,
                row.kdf_lanes,
                row.kdf_salt,
                row.key_changed_at,
            ),
        )
        found = self.get_user(row.name)
        if found is None:
            raise StoreError("internal: a user vanished inside its own transaction")
        return found.id

    def get_user(self, name: str) -> UserRow | None:
        rows = self._query(f"SELECT {_USER_SELECT} FROM users WHERE name = ?", (name,))
        return _user(rows[0]) if rows else None

    def list_users(self) -> list[UserRow]:
        return [_user(r) for r in self._query(f"SELECT {_USER_SELECT} FROM users ORDER BY id")]

    def set_user_enabled(self, name: str, enabled: bool) -> None:
        self._exec("UPDATE users SET enabled = ? WHERE name = ?", (int(enabled), name))

    def update_user_key(
        self,
        name: str,
        *,
        wrapped_key: bytes,
        kdf_algorithm: str,
        kdf_memory_kib: int,
        kdf_passes: int,
        kdf_lanes: int,
        kdf_salt: bytes,
        changed_at: float,
    ) -> None:
        self._exec(
            "UPDATE users SET wrapped_key = ?, kdf_algorithm = ?, kdf_memory_kib = ?, "
            "kdf_passes = ?, kdf_lanes = ?, kdf_salt = ?, key_changed_at = ? WHERE name = ?",
            (
                wrapped_key,
                kdf_algorithm,
                kdf_memory_kib,
                kdf_passes,
                kdf_lanes,
                kdf_salt,
                changed_at,
                name,
            ),
        )

    # ----------------------------------------------------------------- jobs

    def get_job(self, job_id: str) -> JobRow | None:
        rows = self._query(f"SELECT {_JOB_SELECT} FROM jobs WHERE job_id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def list_jobs(self, status: str | None = None) -> list[JobRow]:
        if status is None:
            rows = self._query(f"SELECT {_JOB_SELECT} FROM jobs ORDER BY rowid")
        else:
            rows = self._query(
                f"SELECT {_JOB_SELECT} FROM jobs WHERE status = ? ORDER BY rowid", (status,)
            )
        return [_job(r) for r in rows]

    def put_job(self, row: JobRow) -> None:
        """Insert or wholly replace the job's row (its grants and blobs stay)."""
        values = (
            row.job_id,
            row.status,
            row.file_type,
            row.source,
            row.created_at,
            row.submitted_at,
            row.fetched_at,
            row.archived_at,
            row.expires_at,
            row.entity_count,
            row.map_size,
            json.dumps(dict(row.entity_counts), sort_keys=True),
            row.shared_placeholders,
            row.placeholder_like_originals,
            row.file_size,
            row.chunk_count,
            row.ciphertext_size,
            row.key_version,
            row.seal,
            row.updated_at,
        )
        columns = _JOB_COLUMNS.split(", ")
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        self._exec(
            f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT (job_id) DO UPDATE SET {updates}",
            values,
        )

    def set_job_status(self, job_id: str, status: str, updated_at: float) -> None:
        self._exec(
            "UPDATE jobs SET status = ?, updated_at = ? WHERE job_id = ?",
            (status, updated_at, job_id),
        )

    def recipients(self, job_id: str | None = None) -> dict[str, tuple[str, ...]]:
        """Users holding a grant at each job's current key version, by job id."""
        sql = (
            "SELECT g.job_id, u.name FROM grants g JOIN users u ON u.id = g.user_id "
            "JOIN jobs j ON j.job_id = g.job_id AND j.key_version = g.key_version"
        )
        params: tuple[str, ...] = ()
        if job_id is not None:
            sql += " WHERE g.job_id = ?"
            params = (job_id,)
        out: dict[str, list[str]] = {}
        for jid, name in self._query(sql + " ORDER BY u.name", params):
            out.setdefault(jid, []).append(name)
        return {k: tuple(v) for k, v in out.items()}

    # ----------------------------------------------------------------- grants

    def insert_grant(self, row: GrantRow) -> None:
        user = self.get_user(row.user)
        if user is None:
            raise StoreError(f"internal: no user {row.user}")
        self._exec(
            "INSERT INTO grants (job_id, user_id, key_version, sealed_dek, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id, user_id, key_version) "
            "DO UPDATE SET sealed_dek = excluded.sealed_dek, created_at = excluded.created_at",
            (row.job_id, user.id, row.key_version, row.sealed_dek, row.created_at),
        )

    def grants(self, job_id: str, user: str | None = None) -> list[GrantRow]:
        sql = (
            "SELECT g.job_id, u.name, g.key_version, CAST(g.sealed_dek AS BLOB), g.created_at "
            "FROM grants g JOIN users u ON u.id = g.user_id WHERE g.job_id = ?"
        )
        params: list[Any] = [job_id]
        if user is not None:
            sql += " AND u.name = ?"
            params.append(user)
        rows = self._query(sql + " ORDER BY g.key_version, u.name", params)
        return [GrantRow(r[0], r[1], int(r[2]), bytes(r[3]), float(r[4])) for r in rows]

    def prune_grants(self, job_id: str, keep_versions: Sequence[int]) -> int:
        """Delete the job's grants of every key version not in ``keep_versions``."""
        keep = sorted({int(v) for v in keep_versions})
        marks = ", ".join("?" * len(keep)) or "NULL"
        return self._exec(
            f"DELETE FROM grants WHERE job_id = ? AND key_version NOT IN ({marks})",
            (job_id, *keep),
        )

    def delete_grants(self, job_id: str, user: str | None = None) -> int:
        if user is None:
            return self._exec("DELETE FROM grants WHERE job_id = ?", (job_id,))
        return self._exec(
            "DELETE FROM grants WHERE job_id = ? "
            "AND user_id = (SELECT id FROM users WHERE name = ?)",
            (job_id, user),
        )

    # ----------------------------------------------------------------- blobs

    def insert_blobs(self, rows: Sequence[BlobRow]) -> None:
        with self._lock:
            if not self._depth:
                raise StoreError("internal: a write outside a transaction")
            try:
                self._conn.executemany(
                    "INSERT INTO blobs (job_id, field, idx, key_version, data) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(r.job_id, r.field, r.idx, r.key_version, r.data) for r in rows],
                )
            except sqlite3.Error as exc:
                raise _store_error(exc) from exc

    def blobs(self, job_id: str, field: str | None = None) -> list[BlobRow]:
        sql = (
            "SELECT job_id, field, idx, key_version, CAST(data AS BLOB) FROM blobs WHERE job_id = ?"
        )
        params: list[Any] = [job_id]
        if field is not None:
            sql += " AND field = ?"
            params.append(field)
        rows = self._query(sql + " ORDER BY field, idx", params)
        return [BlobRow(r[0], r[1], int(r[2]), int(r[3]), bytes(r[4])) for r in rows]

    def delete_blobs(self, job_id: str) -> int:
        return self._exec("DELETE FROM blobs WHERE job_id = ?", (job_id,))

    # ----------------------------------------------------------------- access log

    def last_log(self) -> LogRow | None:
        rows = self._query(
            "SELECT seq, time, user, action, job_id, counts, prev_hash, entry_hash, subject "
            "FROM access_log ORDER BY seq DESC LIMIT 1"
        )
        return _log(rows[0]) if rows else None

    def insert_log(self, row: LogRow) -> None:
        self._exec(
            "INSERT INTO access_log (seq, time, user, action, job_id, counts, prev_hash, "
            "entry_hash, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.seq,
                row.time,
                row.user,
                row.action,
                row.job_id,
                json.dumps(dict(row.counts), sort_keys=True),
                row.prev_hash,
                row.entry_hash,
                row.subject,
            ),
        )

    def log_rows(
        self,
        *,
        user: str | None = None,
        action: str | None = None,
        job_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[LogRow]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, op, value in (
            ("user", "=", user),
            ("action", "=", action),
            ("job_id", "=", job_id),
            ("time", ">=", since),
            ("time", "<", until),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._query(
            "SELECT seq, time, user, action, job_id, counts, prev_hash, entry_hash, subject "
            f"FROM access_log{where} ORDER BY seq",
            params,
        )
        return [_log(r) for r in rows]

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
            raise _store_error(exc) from exc
        except BaseException:
            self._remove(dest)
            raise

    def count(self, table: str) -> int:
        """Rows in one of the vault's tables (for checks and tests)."""
        if table not in self._db.table_names():
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

    def blob_layout(self) -> list[tuple[str, str, int, int]]:
        """``(job_id, field, idx, key_version)`` of every blob, without the data."""
        rows = self._query("SELECT job_id, field, idx, key_version FROM blobs")
        return [(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]

    def grant_layout(self) -> list[tuple[str, str, int]]:
        """``(job_id, user, key_version)`` of every grant, without the sealed key."""
        rows = self._query(
            "SELECT g.job_id, u.name, g.key_version FROM grants g JOIN users u ON u.id = g.user_id"
        )
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]


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


def _user(r: Sequence[Any]) -> UserRow:
    return UserRow(
        id=int(r[0]),
        name=str(r[1]),
        enabled=bool(r[2]),
        created_at=float(r[3]),
        public_key=bytes(r[4]),
        wrapped_key=None if r[5] is None else bytes(r[5]),
        kdf_algorithm=r[6],
        kdf_memory_kib=r[7],
        kdf_passes=r[8],
        kdf_lanes=r[9],
        kdf_salt=None if r[10] is None else bytes(r[10]),
        key_changed_at=r[11],
    )


def _counts(text: str) -> Mapping[str, int]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise IntegrityError("a counts column of the vault is not valid JSON") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, int) for k, v in data.items()
    ):
        raise IntegrityError("a counts column of the vault has the wrong shape")
    return data


def _job(r: Sequence[Any]) -> JobRow:
    return JobRow(
        job_id=str(r[0]),
        status=str(r[1]),
        file_type=str(r[2]),
        source=str(r[3]),
        created_at=r[4],
        submitted_at=r[5],
        fetched_at=r[6],
        archived_at=r[7],
        expires_at=r[8],
        entity_count=int(r[9]),
        map_size=int(r[10]),
        entity_counts=_counts(r[11]),
        shared_placeholders=int(r[12]),
        placeholder_like_originals=int(r[13]),
        file_size=int(r[14]),
        chunk_count=int(r[15]),
        ciphertext_size=int(r[16]),
        key_version=int(r[17]),
        seal=None if r[18] is None else bytes(r[18]),
        updated_at=float(r[19]),
    )


def _log(r: Sequence[Any]) -> LogRow:
    return LogRow(
        seq=int(r[0]),
        time=float(r[1]),
        user=str(r[2]),
        action=str(r[3]),
        job_id=r[4],
        counts=_counts(r[5]),
        prev_hash=str(r[6]),
        entry_hash=str(r[7]),
        subject=r[8],
    )
