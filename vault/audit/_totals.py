"""Filtering jobs and adding them up: per entity type, per status, per file type."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter

from vault._dataclass import dataclass
from vault.audit._times import audit_time
from vault.errors import InputError
from vault.models import JOB_STATUSES, JobInfo
from vault.store import AuditTotalsRows, Database, JobListRow


@dataclass(frozen=True)
class AuditQuery:
    """Which jobs an audit covers. Empty tuples mean "all"."""

    since: float | None = None
    until: float | None = None
    statuses: tuple[str, ...] = ()
    file_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.statuses) - set(JOB_STATUSES))
        if unknown:
            raise InputError(
                f"unknown status {', '.join(unknown)}: choose from {', '.join(JOB_STATUSES)}"
            )
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InputError("--since must be earlier than --until")

    def matches(self, job: JobInfo) -> bool:
        if self.statuses and job.status not in self.statuses:
            return False
        if self.file_types and job.file_type not in self.file_types:
            return False
        if self.since is None and self.until is None:
            return True
        ts = audit_time(job)
        if ts is None:
            return False
        if self.since is not None and ts < self.since:
            return False
        return not (self.until is not None and ts >= self.until)


@dataclass(frozen=True)
class AuditTotals:
    """Sums over the jobs of one report."""

    jobs: int
    entity_count: int  # the server's entity_count, summed
    map_size: int  # map entries, summed
    file_size: int  # ciphertext bytes of the archived files, summed
    by_entity_type: Mapping[str, int]  # placeholder type -> count, largest first
    by_status: Mapping[str, int]  # job status -> number of jobs
    by_file_type: Mapping[str, int]  # file type -> number of jobs


@dataclass(frozen=True)
class AuditReport:
    """What ``audit`` reports: the query, the jobs it matched and their totals."""

    query: AuditQuery
    jobs: tuple[JobInfo, ...]  # oldest first (by audit time), then by job id
    totals: AuditTotals


@dataclass(frozen=True)
class AuditListing:
    """``AuditReport`` with the jobs as ``JobListRow`` tuples (the same fields as ``JobInfo``):
    what ``audit`` lists, built for 100,000 jobs. The renderers take either."""

    query: AuditQuery
    jobs: tuple[JobListRow, ...]  # oldest first (by audit time), then by job id
    totals: AuditTotals


def _sorted_counts(counter: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def build_audit(jobs: Iterable[JobInfo], query: AuditQuery | None = None) -> AuditReport:
    """Filter ``jobs`` and add them up. Erased jobs keep their counts (the tombstone)."""
    q = query or AuditQuery()
    filtered = q.statuses or q.file_types or q.since is not None or q.until is not None
    selected = [job for job in jobs if q.matches(job)] if filtered else list(jobs)
    selected.sort(key=_audit_order)
    return _report(q, selected)


def load_audit(db: Database, query: AuditQuery | None = None) -> AuditReport:
    """``build_audit(custodian.list_jobs(), query)`` with the filters and the order applied
    inside SQLite (the store builds only the selected ``JobInfo``): what ``audit`` lists."""
    q = query or AuditQuery()
    selected = db.audit.job_infos(
        since=q.since,
        until=q.until,
        statuses=q.statuses,
        file_types=q.file_types,
        by_audit_time=True,
    )
    return _report(q, selected)


def list_audit(
    db: Database, query: AuditQuery | None = None, *, recipients: bool = True
) -> AuditListing:
    """``load_audit`` with lean rows; with ``recipients=False`` (a listing that does not show
    them) every job's ``recipients`` is empty and the grants are not read."""
    q = query or AuditQuery()
    selected = db.audit.job_rows(
        since=q.since,
        until=q.until,
        statuses=q.statuses,
        file_types=q.file_types,
        by_audit_time=True,
        recipients=recipients,
    )
    return AuditListing(query=q, jobs=tuple(selected), totals=_totals(selected))


def _audit_order(job: JobInfo) -> tuple[float, str]:
    return (job.audit_time or 0.0, job.job_id)


def _report(q: AuditQuery, selected: list[JobInfo]) -> AuditReport:
    """The report of jobs already filtered and in order."""
    return AuditReport(query=q, jobs=tuple(selected), totals=_totals(selected))


def _totals(selected: Sequence[JobInfo] | Sequence[JobListRow]) -> AuditTotals:
    """The sums run in C (``map``/``sum``), the per-type counts in one loop over the small
    count dicts."""
    by_type: dict[str, int] = {}
    get = by_type.get
    for counts in map(attrgetter("entity_counts"), selected):
        for name, n in counts.items():
            by_type[name] = get(name, 0) + n
    by_status = Counter(map(attrgetter("status"), selected))
    by_file = Counter(map(attrgetter("file_type"), selected))
    return AuditTotals(
        jobs=len(selected),
        entity_count=sum(map(attrgetter("entity_count"), selected)),
        map_size=sum(map(attrgetter("map_size"), selected)),
        file_size=sum(map(attrgetter("file_size"), selected)),
        by_entity_type=_sorted_counts(by_type),
        by_status={s: by_status[s] for s in JOB_STATUSES if by_status[s]},
        by_file_type=_sorted_counts(by_file),
    )


def summarize(db: Database, query: AuditQuery | None = None) -> AuditReport:
    """The totals of ``build_audit`` added up inside SQLite, without a row per job (the
    report's ``jobs`` is empty): what ``audit --summary`` shows, fast on large vaults."""
    q = query or AuditQuery()
    rows = db.audit.audit_totals(
        since=q.since, until=q.until, statuses=q.statuses, file_types=q.file_types
    )
    return AuditReport(query=q, jobs=(), totals=totals_from_rows(rows))


def totals_from_rows(rows: AuditTotalsRows) -> AuditTotals:
    """``AuditTotals`` from the store's aggregated rows (same order rules as ``build_audit``)."""
    by_status: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    for g in rows.groups:
        by_status[g.status] += g.jobs
        by_file[g.file_type] += g.jobs
    return AuditTotals(
        jobs=sum(g.jobs for g in rows.groups),
        entity_count=sum(g.entity_count for g in rows.groups),
        map_size=sum(g.map_size for g in rows.groups),
        file_size=sum(g.file_size for g in rows.groups),
        by_entity_type=_sorted_counts({k: v for k, v in rows.entity_types if v}),
        by_status={s: by_status[s] for s in JOB_STATUSES if by_status[s]},
        by_file_type=_sorted_counts(by_file),
    )
