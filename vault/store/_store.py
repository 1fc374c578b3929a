"""Row access: one method per thing the custodian reads or writes, rows as frozen dataclasses.

Every mutating method runs inside the caller's ``write()`` transaction (the database refuses
otherwise); the custodian decides what the bytes in the rows mean. The SQL is shared by both
backends (``_database``); ``Store.create``/``Store.open`` pick the backend from the location:
a path is a SQLite file, a ``postgresql://`` URL a PostgreSQL database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from vault.config import DatabaseUrl, Location, vault_location
from vault.errors import IntegrityError, StoreError
from vault.store._audit import AuditQueries
from vault.store._copy import copy_rows
from vault.store._database import Database
from vault.store._listing import ListingQueries
from vault.store._rows import (
    JOB_COLUMNS,
    JOB_SELECT,
    BlobRow,
    GrantRow,
    JobRow,
    LogRow,
    UserRow,
    counts_column,
    facts_column,
    job_from_sql,
    job_to_sql,
)
from vault.store._sqlite import SqliteDatabase, check_new_file

if TYPE_CHECKING:
    from vault.store._postgres import PostgresDatabase

_USER_COLUMNS = (
    "id, name, enabled, created_at, public_key, wrapped_key, kdf_algorithm, kdf_memory_kib, "
    "kdf_passes, kdf_lanes, kdf_salt, key_changed_at"
)
# Binary columns are read through CAST, as in JOB_SELECT.
_USER_SELECT = (
    "id, name, enabled, created_at, CAST(public_key AS BLOB), CAST(wrapped_key AS BLOB), "
    "kdf_algorithm, kdf_memory_kib, kdf_passes, kdf_lanes, CAST(kdf_salt AS BLOB), "
    "key_changed_at"
)
# ``user`` is quoted: PostgreSQL reserves the word (SQLite accepts the quotes too).
_LOG_COLUMNS = 'seq, time, "user", action, job_id, counts, prev_hash, entry_hash, subject, facts'
R = TypeVar("R")


def _checked(what: str) -> Callable[[Callable[[Sequence[Any]], R]], Callable[[Sequence[Any]], R]]:
    """A row whose values have the wrong types (a damaged page) is an ``IntegrityError``."""

    def decorate(convert: Callable[[Sequence[Any]], R]) -> Callable[[Sequence[Any]], R]:
        def wrapper(r: Sequence[Any]) -> R:
            try:
                return convert(r)
            except (TypeError, ValueError) as exc:
                raise IntegrityError(f"the vault holds a damaged {what} row") from exc

        return wrapper

    return decorate


def _postgres() -> type[PostgresDatabase]:
    """The PostgreSQL backend, imported on first use: psycopg loads asyncio, which a command
    on a SQLite vault should not pay for at start-up (tests/test_cold_start.py)."""
    from vault.store._postgres import PostgresDatabase

    return PostgresDatabase


class Store(AuditQueries, ListingQueries):  # both extend StoreBase
    """An open vault. Use ``create`` or ``open``; close it (or use ``with``)."""

    # ----------------------------------------------------------------- lifetime

    @classmethod
    def create(cls, location: Location | str) -> Store:
        """A new vault with the current schema; ``VaultExists`` if one is there."""
        where = vault_location(location)
        if isinstance(where, DatabaseUrl):
            return cls(_postgres().create(where))
        return cls(SqliteDatabase.create(where))

    @staticmethod
    def check_new(location: Location | str) -> None:
        """Refuse, before any work, a file location where ``create`` would fail: a vault or
        another file already there, a directory (a database is checked by ``create``)."""
        where = vault_location(location)
        if not isinstance(where, DatabaseUrl):
            check_new_file(where)

    @classmethod
    def open(cls, location: Location | str) -> Store:
        """An existing vault, its schema brought up to date; ``VaultNotFound``."""
        where = vault_location(location)
        if isinstance(where, DatabaseUrl):
            return cls(_postgres().open(where))
        return cls(SqliteDatabase.open(where))

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.path: Location = db.location

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.db.close()

    def discard(self) -> None:
        """Close and remove a vault this process has just created (a failed ``init``)."""
        self.db.discard()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- schema, maintenance

    def pragmas(self) -> dict[str, int | str]:
        """The connection settings that matter for safety (for ``verify`` and tests)."""
        return self.db.settings()

    def migrations(self) -> list[str]:
        return self.db.migrations()

    def schema_problems(self) -> list[str]:
        return self.db.schema_problems()

    def log_guarded(self) -> bool:
        return self.db.log_guarded()

    def integrity_check(self) -> list[str]:
        return self.db.integrity_check()

    def count(self, table: str) -> int:
        return self.db.count(table)

    def checkpoint(self) -> None:
        """After an erase: SQLite empties its WAL; PostgreSQL vacuums the shredded tables."""
        self.db.checkpoint()

    def vacuum(self) -> None:
        self.db.vacuum()

    def backup(self, dest: Path) -> None:
        """A consistent copy into the new SQLite file ``dest`` (0600; ``VaultExists``): the
        SQLite backup API for a file, a logical export of every row for PostgreSQL."""
        if isinstance(self.db, SqliteDatabase):
            self.db.backup(dest)
            return
        copy = Store.create(Path(dest))
        try:
            with self.read(), copy.write():
                copy_rows(self, copy)
        except BaseException:
            copy.discard()
            raise
        copy.close()

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
            f"INSERT INTO users ({_USER_COLUMNS}) VALUES "
            "((SELECT COALESCE(MAX(id), 0) + 1 FROM users), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        rows = self._query(f"SELECT {JOB_SELECT} FROM jobs WHERE job_id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def job_ids_with_prefix(self, prefix: str, *, limit: int) -> list[str]:
        """Up to ``limit`` job ids starting with ``prefix``, in id order (short ids)."""
        rows = self._query(
            "SELECT job_id FROM jobs WHERE substr(job_id, 1, ?) = ? ORDER BY job_id LIMIT ?",
            (len(prefix), prefix, limit),
        )
        return [str(r[0]) for r in rows]

    def list_jobs(self, status: str | None = None) -> list[JobRow]:
        if status is None:
            rows = self._query(f"SELECT {JOB_SELECT} FROM jobs ORDER BY rowid")
        else:
            rows = self._query(
                f"SELECT {JOB_SELECT} FROM jobs WHERE status = ? ORDER BY rowid", (status,)
            )
        return [_job(r) for r in rows]

    def put_job(self, row: JobRow) -> None:
        """Insert or wholly replace the job's row (its grants and blobs stay)."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in JOB_COLUMNS[1:])
        self._exec(
            f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(JOB_COLUMNS))}) "
            f"ON CONFLICT (job_id) DO UPDATE SET {updates}",
            job_to_sql(row),
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
        return [_grant(r) for r in rows]

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
        self._exec_many(
            "INSERT INTO blobs (job_id, field, idx, key_version, data) VALUES (?, ?, ?, ?, ?)",
            [(r.job_id, r.field, r.idx, r.key_version, r.data) for r in rows],
        )

    def blobs(self, job_id: str, field: str | None = None) -> list[BlobRow]:
        sql = (
            "SELECT job_id, field, idx, key_version, CAST(data AS BLOB) FROM blobs WHERE job_id = ?"
        )
        params: list[Any] = [job_id]
        if field is not None:
            sql += " AND field = ?"
            params.append(field)
        rows = self._query(sql + " ORDER BY field, idx", params)
        return [_blob(r) for r in rows]

    def delete_blobs(self, job_id: str) -> int:
        return self._exec("DELETE FROM blobs WHERE job_id = ?", (job_id,))

    # ----------------------------------------------------------------- access log

    def last_log(self) -> LogRow | None:
        rows = self._query(f"SELECT {_LOG_COLUMNS} FROM access_log ORDER BY seq DESC LIMIT 1")
        return _log(rows[0]) if rows else None

    def insert_log(self, row: LogRow) -> None:
        self._exec(
            f"INSERT INTO access_log ({_LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                None if row.facts is None else json.dumps(dict(row.facts), sort_keys=True),
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
        subject: str | None = None,
    ) -> list[LogRow]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, op, value in (
            ('"user"', "=", user),
            ("action", "=", action),
            ("job_id", "=", job_id),
            ("subject", "=", subject),
            ("time", ">=", since),
            ("time", "<", until),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._query(
            f"SELECT {_LOG_COLUMNS} FROM access_log{where} ORDER BY seq",
            params,
        )
        return [_log(r) for r in rows]

    def log_entry(self, seq: int) -> LogRow | None:
        rows = self._query(f"SELECT {_LOG_COLUMNS} FROM access_log WHERE seq = ?", (seq,))
        return _log(rows[0]) if rows else None

    def blob_layout(self) -> list[tuple[str, str, int, int]]:
        """``(job_id, field, idx, key_version)`` of every blob, without the data."""
        rows = self._query("SELECT job_id, field, idx, key_version FROM blobs")
        return [_blob_place(r) for r in rows]

    def grant_layout(self) -> list[tuple[str, str, int]]:
        """``(job_id, user, key_version)`` of every grant, without the sealed key."""
        rows = self._query(
            "SELECT g.job_id, u.name, g.key_version FROM grants g JOIN users u ON u.id = g.user_id"
        )
        return [_grant_place(r) for r in rows]


@_checked("grant")
def _grant(r: Sequence[Any]) -> GrantRow:
    return GrantRow(r[0], r[1], int(r[2]), bytes(r[3]), float(r[4]))


@_checked("grant")
def _grant_place(r: Sequence[Any]) -> tuple[str, str, int]:
    return (str(r[0]), str(r[1]), int(r[2]))


@_checked("blob")
def _blob(r: Sequence[Any]) -> BlobRow:
    return BlobRow(r[0], r[1], int(r[2]), int(r[3]), bytes(r[4]))


@_checked("blob")
def _blob_place(r: Sequence[Any]) -> tuple[str, str, int, int]:
    return (str(r[0]), str(r[1]), int(r[2]), int(r[3]))


@_checked("user")
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


_job = _checked("job")(job_from_sql)


@_checked("access log")
def _log(r: Sequence[Any]) -> LogRow:
    return LogRow(
        seq=int(r[0]),
        time=float(r[1]),
        user=str(r[2]),
        action=str(r[3]),
        job_id=r[4],
        counts=counts_column(r[5]),
        prev_hash=str(r[6]),
        entry_hash=str(r[7]),
        subject=r[8],
        facts=facts_column(r[9]),
    )
