"""Aggregated audit queries: totals per status, file type and entity type, added up inside
SQLite, so auditing a large vault does not build one object per job (``audit --summary``
over 100,000 jobs in well under a second).

The filters mirror ``vault.report.AuditQuery``: a job's audit time is the first known of
``archived_at``, ``fetched_at``, ``submitted_at``, ``created_at``; ``since`` is inclusive,
``until`` exclusive; empty status or file-type lists mean all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vault.store._connection import Connection

AUDIT_TIME_SQL = "COALESCE(archived_at, fetched_at, submitted_at, created_at)"


@dataclass(frozen=True)
class JobTotalsRow:
    """Sums over the jobs of one (status, file type) pair."""

    status: str
    file_type: str
    jobs: int
    entity_count: int
    map_size: int
    file_size: int


@dataclass(frozen=True)
class AuditTotalsRows:
    groups: tuple[JobTotalsRow, ...]
    entity_types: tuple[tuple[str, int], ...]  # (placeholder type, count), by type


class AuditQueries(Connection):
    """The store's aggregated, read-only audit queries."""

    def audit_totals(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        statuses: Sequence[str] = (),
        file_types: Sequence[str] = (),
    ) -> AuditTotalsRows:
        """Totals of the jobs matching the filters, from one consistent snapshot."""
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append(f"{AUDIT_TIME_SQL} >= ?")
            params.append(since)
        if until is not None:
            clauses.append(f"{AUDIT_TIME_SQL} < ?")
            params.append(until)
        for column, values in (("status", statuses), ("file_type", file_types)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.read():
            groups = self._query(
                "SELECT status, file_type, count(*), total(entity_count), total(map_size), "
                f"total(file_size) FROM jobs{where} GROUP BY status, file_type "
                "ORDER BY status, file_type",
                params,
            )
            types = self._query(
                "SELECT e.key, total(e.value) FROM "
                f"(SELECT entity_counts FROM jobs{where}) AS j, json_each(j.entity_counts) AS e "
                "GROUP BY e.key ORDER BY e.key",
                params,
            )
        return AuditTotalsRows(
            groups=tuple(
                JobTotalsRow(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]))
                for r in groups
            ),
            entity_types=tuple((str(r[0]), int(r[1])) for r in types),
        )
