"""``db.jobs`` and ``db.blobs``: the jobs table (plaintext metadata, the seal) and the
encrypted blobs of each job (map, file, name, options, error text: ciphertext only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vault.store._base import Queries
from vault.store._rows import (
    JOB_COLUMNS,
    JOB_SELECT,
    BlobRow,
    JobRow,
    checked,
    job_from_sql,
    job_to_sql,
)

# ``put``'s statement, built once (it names every column twice).
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in JOB_COLUMNS[1:])
_PUT = (
    f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({', '.join('?' * len(JOB_COLUMNS))}) "
    f"ON CONFLICT (job_id) DO UPDATE SET {_UPDATES}"
)


class Jobs(Queries):
    """The vault's jobs, by job id."""

    def get(self, job_id: str) -> JobRow | None:
        rows = self._query(f"SELECT {JOB_SELECT} FROM jobs WHERE job_id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def status(self, job_id: str) -> str | None:
        """The job's status alone (``None``: no such job): one narrow read for the checks a
        command makes before it asks for a passphrase."""
        rows = self._query("SELECT status FROM jobs WHERE job_id = ?", (job_id,))
        return str(rows[0][0]) if rows else None

    def ids_with_prefix(self, prefix: str, *, limit: int) -> list[str]:
        """Up to ``limit`` job ids starting with ``prefix``, in id order (short ids)."""
        rows = self._query(
            "SELECT job_id FROM jobs WHERE substr(job_id, 1, ?) = ? ORDER BY job_id LIMIT ?",
            (len(prefix), prefix, limit),
        )
        return [str(r[0]) for r in rows]

    def all(self, status: str | None = None) -> list[JobRow]:
        """Every job (of one status), in the order they were first stored."""
        if status is None:
            rows = self._query(f"SELECT {JOB_SELECT} FROM jobs ORDER BY rowid")
        else:
            rows = self._query(
                f"SELECT {JOB_SELECT} FROM jobs WHERE status = ? ORDER BY rowid", (status,)
            )
        return [_job(r) for r in rows]

    def put(self, row: JobRow) -> None:
        """Insert or wholly replace the job's row (its grants and blobs stay)."""
        self._exec(_PUT, job_to_sql(row))

    def set_status(self, job_id: str, status: str, updated_at: float) -> None:
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


class Blobs(Queries):
    """The encrypted blobs of each job, by (job, field, chunk index)."""

    def insert(self, rows: Sequence[BlobRow]) -> None:
        self._exec_many(
            "INSERT INTO blobs (job_id, field, idx, key_version, data) VALUES (?, ?, ?, ?, ?)",
            [(r.job_id, r.field, r.idx, r.key_version, r.data) for r in rows],
        )

    def of_job(self, job_id: str, field: str | None = None) -> list[BlobRow]:
        """The job's blobs (of one field), by field and chunk index."""
        sql = (
            "SELECT job_id, field, idx, key_version, CAST(data AS BLOB) FROM blobs WHERE job_id = ?"
        )
        params: list[Any] = [job_id]
        if field is not None:
            sql += " AND field = ?"
            params.append(field)
        rows = self._query(sql + " ORDER BY field, idx", params)
        return [_blob(r) for r in rows]

    def delete(self, job_id: str) -> int:
        return self._exec("DELETE FROM blobs WHERE job_id = ?", (job_id,))

    def layout(self) -> list[tuple[str, str, int, int, int]]:
        """``(job_id, field, idx, key_version, size)`` of every blob, without the data."""
        rows = self._query("SELECT job_id, field, idx, key_version, length(data) FROM blobs")
        return [_blob_place(r) for r in rows]


_job = checked("job")(job_from_sql)


@checked("blob")
def _blob(r: Sequence[Any]) -> BlobRow:
    return BlobRow(r[0], r[1], int(r[2]), int(r[3]), bytes(r[4]))


@checked("blob")
def _blob_place(r: Sequence[Any]) -> tuple[str, str, int, int, int]:
    return (str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]))
