"""Aggregated audit queries: totals per status, file type and entity type, added up inside
the database (SQLite or PostgreSQL), so auditing a large vault does not build one object per
job (``audit --summary`` over 100,000 jobs in well under a second).

The filters mirror ``vault.audit.AuditQuery``: a job's audit time is the first known of
``archived_at``, ``fetched_at``, ``submitted_at``, ``created_at``; ``since`` is inclusive,
``until`` exclusive; empty status or file-type lists mean all.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import fields
from itertools import chain, repeat
from typing import Any, NamedTuple

from vault._dataclass import dataclass
from vault.errors import IntegrityError
from vault.models import JOB_INFO_FIELDS, JobInfo, JobStatus
from vault.store._base import Queries
from vault.store._rows import counts_column

AUDIT_TIME_SQL = "COALESCE(archived_at, fetched_at, submitted_at, created_at)"

# ``job_infos`` reads exactly the fields of ``JobInfo``, in its order (derived from the one
# definition in ``vault.models``). ``recipients`` comes from the grants scan.
_INFO_FIELDS: tuple[str, ...] = JOB_INFO_FIELDS
_INFO_SELECT = ", ".join("NULL" if name == "recipients" else name for name in _INFO_FIELDS)
_COUNTS_AT = _INFO_FIELDS.index("entity_counts")
_VERSION_AT = _INFO_FIELDS.index("key_version")
_RECIPIENTS_AT = _INFO_FIELDS.index("recipients")
# The Python types each selected value may have, by annotation (``recipients`` is selected as
# NULL). Checked once per distinct row signature, not once per value: a damaged row fails closed.
_TYPES_OF: Mapping[str, frozenset[type]] = {
    "str": frozenset({str}),
    "JobStatus": frozenset({str}),
    "Mapping[str, int]": frozenset({str}),  # JSON text, parsed below
    "int": frozenset({int}),
    "float | None": frozenset({float, int, type(None)}),
    "str | None": frozenset({str, type(None)}),
    "tuple[str, ...]": frozenset({type(None)}),
}
_ALLOWED_TYPES: tuple[frozenset[type], ...] = tuple(_TYPES_OF[str(f.type)] for f in fields(JobInfo))
# The C scanner behind ``json.loads`` without its per-call wrapper (a third of the cost).
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


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
    """The audit's totals as the store reads them: per group of jobs, and per
    placeholder type."""

    groups: tuple[JobTotalsRow, ...]
    entity_types: tuple[tuple[str, int], ...]  # (placeholder type, count), by type


class JobListRow(NamedTuple):
    """``JobInfo`` as a plain tuple (the same fields, in its order): what ``audit`` lists, a
    fifth of the cost of a ``JobInfo`` per job (built in C, no per-field attribute writes;
    ``bench/bench_audit.py``). A NamedTuple cannot be derived and still be typed, so its
    fields are checked against ``JobInfo`` at import."""

    job_id: str
    status: JobStatus
    file_type: str
    source: str
    created_at: float | None
    submitted_at: float | None
    fetched_at: float | None
    archived_at: float | None
    expires_at: float | None
    entity_count: int
    map_size: int
    entity_counts: Mapping[str, int]
    file_size: int
    key_version: int
    shared_placeholders: int
    placeholder_like_originals: int
    ciphertext_size: int
    api_url: str | None
    recipients: tuple[str, ...]

    @property
    def audit_time(self) -> float | None:
        """As ``JobInfo.audit_time``: archived, else fetched, submitted or created."""
        for ts in (self.archived_at, self.fetched_at, self.submitted_at, self.created_at):
            if ts is not None:
                return ts
        return None


# A new or changed JobInfo field fails here, at import (NamedTuple keeps the annotations as
# ForwardRefs, dataclasses as strings).
_LIST_ROW_TYPES = [
    (name, getattr(kind, "__forward_arg__", kind))
    for name, kind in JobListRow.__annotations__.items()
]


def check_list_row(info: list[tuple[str, object]], row: list[tuple[str, object]]) -> None:
    """Refuse a ``JobListRow`` that no longer mirrors ``JobInfo``, naming both field lists."""
    if info != row:
        missing = [name for name, _ in info if name not in dict(row)]
        raise TypeError(
            "vault/store/_audit.py: JobListRow must list JobInfo's fields in order with the "
            "same types (a new JobMeta field goes in both; docs/architecture.md)"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + f"; JobInfo: {info}; JobListRow: {row}"
        )


check_list_row([(f.name, f.type) for f in fields(JobInfo)], _LIST_ROW_TYPES)


class AuditQueries(Queries):
    """The store's aggregated, read-only audit queries."""

    def job_infos(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        statuses: Sequence[str] = (),
        file_types: Sequence[str] = (),
        by_audit_time: bool = False,
    ) -> list[JobInfo]:
        """``JobInfo`` of the jobs matching the filters, with their recipients (users holding
        a grant at the job's current key version, by name), from one snapshot.

        In the order they were first stored, or with ``by_audit_time`` oldest first by audit
        time (unknown counts as 0), then by job id. Built from ``job_rows``.
        """
        with _gc_paused():
            rows = self._job_rows(since, until, statuses, file_types, by_audit_time, True)
            infos: list[JobInfo] = []
            new = object.__new__
            append = infos.append
            for row in rows:
                # JobInfo is a plain frozen dataclass (no __post_init__): fill its __dict__ as
                # __init__ would, without one object.__setattr__ call per field.
                info = new(JobInfo)
                info.__dict__.update(zip(_INFO_FIELDS, row, strict=True))
                append(info)
            return infos

    def job_rows(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        statuses: Sequence[str] = (),
        file_types: Sequence[str] = (),
        by_audit_time: bool = False,
        recipients: bool = True,
    ) -> list[JobListRow]:
        """``job_infos`` as ``JobListRow`` tuples, for listing many jobs; with ``recipients=False``
        every row's ``recipients`` is empty and the grants are not read.

        Built for 100,000-job audits: one lean SELECT with the filters and the order inside
        SQLite, one plain scan of the grants, and no conversion or validation call per value
        (the types are checked per distinct row signature).
        """
        with _gc_paused():
            return self._job_rows(since, until, statuses, file_types, by_audit_time, recipients)

    def _job_rows(
        self,
        since: float | None,
        until: float | None,
        statuses: Sequence[str],
        file_types: Sequence[str],
        by_audit_time: bool,
        with_recipients: bool,
    ) -> list[JobListRow]:
        where, params = _where(since, until, statuses, file_types)
        order = f"COALESCE({AUDIT_TIME_SQL}, 0.0), job_id" if by_audit_time else "rowid"
        with self.read():
            rows = self._query(f"SELECT {_INFO_SELECT} FROM jobs{where} ORDER BY {order}", params)
            users = dict(self._query("SELECT id, name FROM users")) if with_recipients else {}
            grants = (
                self._query("SELECT job_id, key_version, user_id FROM grants")
                if with_recipients
                else []
            )
        for signature in set(map(tuple, map(map, repeat(type), rows))):
            if not all(t in ok for t, ok in zip(signature, _ALLOWED_TYPES, strict=True)):
                raise IntegrityError("the vault holds a damaged job row")
        held: dict[tuple[str, int], list[str]] = {}
        for job_id, version, user_id in grants:
            name = users.get(user_id)
            if name is None:  # the foreign key forbids it; a join would drop it too
                continue
            names = held.get((job_id, version))
            if names is None:
                held[(job_id, version)] = [name]
            else:
                names.append(name)
        recipients = {key: tuple(sorted(names)) for key, names in held.items()}
        return _build_rows(rows, recipients)

    def audit_totals(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        statuses: Sequence[str] = (),
        file_types: Sequence[str] = (),
    ) -> AuditTotalsRows:
        """Totals of the jobs matching the filters, from one consistent snapshot."""
        where, params = _where(since, until, statuses, file_types)
        with self.read():
            groups = self._query(
                "SELECT status, file_type, count(*), COALESCE(SUM(entity_count), 0), "
                "COALESCE(SUM(map_size), 0), COALESCE(SUM(file_size), 0) "
                f"FROM jobs{where} GROUP BY status, file_type ORDER BY status, file_type",
                params,
            )
            if self.dialect == "postgresql":
                # Per-type rows kept by a trigger (_pg_schema.POSTGRES_EXTRAS): no JSON is
                # parsed at audit time, which over a million jobs is most of the cost.
                side, side_params = _where(
                    since, until, statuses, file_types, time_sql="audit_time"
                )
                types = self._query(_PG_ENTITY_TYPES_SQL.format(where=side), side_params)
            else:
                types = self._query(_SQLITE_ENTITY_TYPES_SQL.format(where=where), params)
        return AuditTotalsRows(
            groups=tuple(
                JobTotalsRow(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]))
                for r in groups
            ),
            entity_types=tuple((str(r[0]), int(r[1])) for r in types),
        )


# Totals per placeholder type: the one aggregate whose SQL differs between the engines.
_SQLITE_ENTITY_TYPES_SQL = (
    "SELECT e.key, total(e.value) FROM "
    "(SELECT entity_counts FROM jobs{where}) AS j, json_each(j.entity_counts) AS e "
    "GROUP BY e.key ORDER BY e.key"
)
_PG_ENTITY_TYPES_SQL = (
    "SELECT entity_type, SUM(count) FROM audit_entity_counts{where} "
    'GROUP BY entity_type ORDER BY entity_type COLLATE "C"'
)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a bulk of acyclic objects is built: each of the
    collections 100,000 new dicts would trigger rescans everything built so far (it more than
    doubled the build time). Restored afterwards, also on an error."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build_rows(
    rows: list[tuple[Any, ...]], recipients: dict[tuple[str, int], tuple[str, ...]]
) -> list[JobListRow]:
    """``JobListRow`` from rows whose types ``_job_rows`` checked: the counts parsed, the
    recipients filled in."""
    out: list[JobListRow] = []
    new = tuple.__new__  # JobListRow(*values) without the per-call argument parsing
    append = out.append
    get = recipients.get
    for r in rows:
        text = r[_COUNTS_AT]
        try:
            counts, end = _scan_json(text, 0)
        except (StopIteration, ValueError, RecursionError):
            counts, end = None, -1
        if end != len(text) or type(counts) is not dict:
            counts = counts_column(text)  # e.g. surrounded by spaces; or fails closed
        # The select's columns are JobInfo's fields in order (see _INFO_SELECT).
        held = get((r[0], r[_VERSION_AT]), ())
        append(new(JobListRow, (*r[:_COUNTS_AT], counts, *r[_COUNTS_AT + 1 : _RECIPIENTS_AT], held,
                            *r[_RECIPIENTS_AT + 1 :])))  # fmt: skip
    kinds = set(map(type, chain.from_iterable(row.entity_counts.values() for row in out)))
    if not kinds <= {int, bool}:
        raise IntegrityError("a counts column of the vault has the wrong shape")
    return out


def _where(
    since: float | None,
    until: float | None,
    statuses: Sequence[str],
    file_types: Sequence[str],
    *,
    time_sql: str = AUDIT_TIME_SQL,
) -> tuple[str, list[Any]]:
    """The WHERE clause (with its leading space, or empty) and parameters of the filters."""
    clauses: list[str] = []
    params: list[Any] = []
    if since is not None:
        clauses.append(f"{time_sql} >= ?")
        params.append(since)
    if until is not None:
        clauses.append(f"{time_sql} < ?")
        params.append(until)
    for column, values in (("status", statuses), ("file_type", file_types)):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params
