"""``db.grants``: each job's data key (of one key version) sealed to one user."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vault.errors import StoreError
from vault.store._base import Queries
from vault.store._rows import GrantRow, checked


class Grants(Queries):
    """The grants, by (job, user, key version)."""

    def insert(self, row: GrantRow) -> None:
        """Add the grant, or replace the sealed key of the same (job, user, key version)."""
        # The users as this transaction has them (``db.memo``): one read per batch of jobs.
        user_id = next((u.id for u in self.db.users.all() if u.name == row.user), None)
        if user_id is None:
            raise StoreError(f"internal: no user {row.user}")
        self._exec(
            "INSERT INTO grants (job_id, user_id, key_version, sealed_dek, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id, user_id, key_version) "
            "DO UPDATE SET sealed_dek = excluded.sealed_dek, created_at = excluded.created_at",
            (row.job_id, user_id, row.key_version, row.sealed_dek, row.created_at),
        )

    def of_job(self, job_id: str, user: str | None = None) -> list[GrantRow]:
        """The job's grants (to one user), by key version and user name."""
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

    def of_job_with_keys(self, job_id: str) -> list[tuple[GrantRow, bytes]]:
        """Every grant of the job with its user's public key, by key version and user name:
        the holders and the reader's own grants in one statement."""
        rows = self._query(
            "SELECT g.job_id, u.name, g.key_version, CAST(g.sealed_dek AS BLOB), g.created_at, "
            "CAST(u.public_key AS BLOB) FROM grants g JOIN users u ON u.id = g.user_id "
            "WHERE g.job_id = ? ORDER BY g.key_version, u.name",
            (job_id,),
        )
        return [_grant_and_key(r) for r in rows]

    def prune(self, job_id: str, keep_versions: Sequence[int]) -> int:
        """Delete the job's grants of every key version not in ``keep_versions``."""
        keep = sorted({int(v) for v in keep_versions})
        marks = ", ".join("?" * len(keep)) or "NULL"
        return self._exec(
            f"DELETE FROM grants WHERE job_id = ? AND key_version NOT IN ({marks})",
            (job_id, *keep),
        )

    def delete(self, job_id: str, user: str | None = None) -> int:
        """Delete the job's grants (to one user); how many."""
        if user is None:
            return self._exec("DELETE FROM grants WHERE job_id = ?", (job_id,))
        return self._exec(
            "DELETE FROM grants WHERE job_id = ? "
            "AND user_id = (SELECT id FROM users WHERE name = ?)",
            (job_id, user),
        )

    def layout(self) -> list[tuple[str, str, int]]:
        """``(job_id, user, key_version)`` of every grant, without the sealed key."""
        rows = self._query(
            "SELECT g.job_id, u.name, g.key_version FROM grants g JOIN users u ON u.id = g.user_id"
        )
        return [_grant_place(r) for r in rows]


@checked("grant")
def _grant(r: Sequence[Any]) -> GrantRow:
    return GrantRow(r[0], r[1], int(r[2]), bytes(r[3]), float(r[4]))


@checked("grant")
def _grant_place(r: Sequence[Any]) -> tuple[str, str, int]:
    return (str(r[0]), str(r[1]), int(r[2]))


@checked("grant")
def _grant_and_key(r: Sequence[Any]) -> tuple[GrantRow, bytes]:
    return _grant(r), bytes(r[5])
