"""Audit views: entity counts per job, per type and per status, without a key.

Everything here but ``summarize`` is pure: it works on ``JobInfo`` lists (the plaintext
metadata the keyring keeps for audit on purpose) and, for the deep cross-check, on one
decrypted ``JobContent`` at a time. ``summarize`` asks the store for the same totals added up
inside SQLite, so a totals-only audit of a large vault builds no object per job. The CLI
fetches the rows and renders; a pipeline can call the same functions.

Design choices (documented for users in ``docs/audit.md``):

- A job's *audit time* is when it entered the archive: ``archived_at``, else (never archived:
  pending, failed, expired) ``fetched_at``, ``submitted_at`` or ``created_at``, the first known.
  ``--since`` is inclusive, ``--until`` exclusive; a date without a time given to ``--until``
  covers that whole day. Times are UTC; relative times (``30d``, ``12h``, ``2w``, ``45m``)
  count back from now.
- Reports name placeholders and counts, never an original value: the cross-check lists
  placeholders such as ``[PERSON_NAME_1]``, which the service made and which carry no PII.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from vault.errors import InputError
from vault.models import JOB_STATUSES, JobContent, JobInfo
from vault.store import AuditTotalsRows, Store

# Text file types the cross-check can read; PDF, Word and Excel come back from the service as
# binary containers whose placeholders cannot be counted reliably byte-wise.
TEXT_FILE_TYPES: frozenset[str] = frozenset({"csv", "text"})

_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_SECONDS = re.compile(r"^\d{9,}(\.\d*)?$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# A placeholder-shaped token: "[", a label (any text without brackets or line breaks), "_",
# a number, "]". Bounded so that odd input cannot make the scan expensive.
_PLACEHOLDER = re.compile(r"\[([^\[\]\r\n]{1,200}?)_([0-9]{1,9})\]")


# ---------------------------------------------------------------------------------------------
# Times


def parse_when(text: str, *, now: float, end: bool = False) -> float:
    """Unix seconds for an ISO date or datetime (UTC unless it says otherwise), a relative
    time (``30d``, ``12h``, ``2w``, ``45m`` before ``now``), or Unix seconds (9+ digits).

    With ``end=True`` a date without a time means the end of that day (the next midnight), so
    ``--until 2024-05-31`` includes the 31st.
    """
    value = text.strip()
    rel = _RELATIVE.match(value)
    if rel:
        return now - int(rel.group(1)) * _UNIT_SECONDS[rel.group(2)]
    if _SECONDS.match(value):  # Unix seconds, as `log --since` also takes them
        return float(value)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return (start + timedelta(days=1) if end else start).timestamp()
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(
            f"cannot read the time {text!r}: use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][+HH:MM], "
            "a relative time like 30d, 12h, 2w, 45m, or Unix seconds"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# ``time.strftime`` over ``gmtime``: twice as fast as ``datetime`` for 100,000-row reports.
def iso_time(ts: float | None) -> str | None:
    """``2024-05-01T12:00:00Z`` (UTC, whole seconds), or None."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def short_time(ts: float | None) -> str:
    """``2024-05-01 12:00`` (UTC) for tables, ``-`` when unknown."""
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def audit_time(job: JobInfo) -> float | None:
    """When the job entered the archive (``JobInfo.audit_time``; see the module docstring)."""
    return job.audit_time


# ---------------------------------------------------------------------------------------------
# The audit report


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
    query: AuditQuery
    jobs: tuple[JobInfo, ...]  # oldest first (by audit time), then by job id
    totals: AuditTotals


def _sorted_counts(counter: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def build_audit(jobs: Iterable[JobInfo], query: AuditQuery | None = None) -> AuditReport:
    """Filter ``jobs`` and add them up. Erased jobs keep their counts (the tombstone)."""
    q = query or AuditQuery()
    selected = [job for job in jobs if q.matches(job)]
    selected.sort(key=lambda j: (audit_time(j) or 0.0, j.job_id))
    by_type: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    entity_count = map_size = file_size = 0
    for job in selected:
        by_type.update(job.entity_counts)
        by_status[job.status] += 1
        by_file[job.file_type] += 1
        entity_count += job.entity_count
        map_size += job.map_size
        file_size += job.file_size
    totals = AuditTotals(
        jobs=len(selected),
        entity_count=entity_count,
        map_size=map_size,
        file_size=file_size,
        by_entity_type=_sorted_counts(by_type),
        by_status={s: by_status[s] for s in JOB_STATUSES if by_status[s]},
        by_file_type=_sorted_counts(by_file),
    )
    return AuditReport(query=q, jobs=tuple(selected), totals=totals)


def summarize(store: Store, query: AuditQuery | None = None) -> AuditReport:
    """The totals of ``build_audit`` added up inside SQLite, without a row per job (the
    report's ``jobs`` is empty): what ``audit --summary`` shows, fast on large vaults."""
    q = query or AuditQuery()
    rows = store.audit_totals(
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


def job_to_dict(job: JobInfo) -> dict[str, Any]:
    """One job as JSON-ready data: the keys and units of ``show --json`` (times in Unix
    seconds, ``null`` when unknown)."""
    return {
        "job_id": job.job_id,
        "status": job.status,
        "file_type": job.file_type,
        "source": job.source,
        "created_at": job.created_at,
        "submitted_at": job.submitted_at,
        "fetched_at": job.fetched_at,
        "archived_at": job.archived_at,
        "expires_at": job.expires_at,
        "entity_count": job.entity_count,
        "map_size": job.map_size,
        "entity_counts": dict(sorted(job.entity_counts.items())),
        "file_size": job.file_size,
        "key_version": job.key_version,
        "recipients": list(job.recipients),
        "shared_placeholders": job.shared_placeholders,
        "placeholder_like_originals": job.placeholder_like_originals,
        "ciphertext_size": job.ciphertext_size,
    }


def report_to_dict(report: AuditReport, *, include_jobs: bool = True) -> dict[str, Any]:
    """The whole report as JSON-ready data with stable keys."""
    q = report.query
    t = report.totals
    data: dict[str, Any] = {
        "filters": {
            "since": q.since,
            "until": q.until,
            "status": list(q.statuses),
            "type": list(q.file_types),
        },
        "totals": {
            "jobs": t.jobs,
            "entity_count": t.entity_count,
            "map_size": t.map_size,
            "file_size": t.file_size,
            "by_entity_type": dict(t.by_entity_type),
            "by_status": dict(t.by_status),
            "by_file_type": dict(t.by_file_type),
        },
    }
    if include_jobs:
        data["jobs"] = [job_to_dict(job) for job in report.jobs]
    return data


CSV_FIXED_COLUMNS: tuple[str, ...] = (
    "job_id",
    "file_type",
    "status",
    "source",
    "created_at",
    "fetched_at",
    "archived_at",
    "entity_count",
    "map_size",
    "file_size",
)


def csv_rows(report: AuditReport) -> list[list[str]]:
    """A header and one row per job; one column per entity type seen (0 when absent)."""
    types = sorted(report.totals.by_entity_type)
    rows: list[list[str]] = [[*CSV_FIXED_COLUMNS, *types]]
    for job in report.jobs:
        rows.append(
            [
                job.job_id,
                job.file_type,
                job.status,
                job.source,
                iso_time(job.created_at) or "",
                iso_time(job.fetched_at) or "",
                iso_time(job.archived_at) or "",
                str(job.entity_count),
                str(job.map_size),
                str(job.file_size),
                *(str(job.entity_counts.get(t, 0)) for t in types),
            ]
        )
    return rows


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _wrap(words: Sequence[str], width: int) -> list[str]:
    """Words joined by spaces into lines of at most ``width`` (a longer word is shortened)."""
    lines: list[str] = []
    current = ""
    for word in words:
        word = _fit(word, width)
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return lines


def table_lines(report: AuditReport, *, include_jobs: bool = True, width: int = 80) -> list[str]:
    """The human table: one line per job (the counts per type wrap onto continuation lines),
    then totals per type and per status; fits ``width``.

    The job id is shortened to its first 8 characters (as ``jobs`` shows it); ``--format json``
    or ``csv`` give the full ids.
    """
    lines: list[str] = []
    if include_jobs:
        head = f"{'JOB':<8} {'TYPE':<5} {'STATUS':<8} {'ARCHIVED (UTC)':<16} {'ENT':>5} {'MAP':>5} "
        rest = max(width - len(head), 8)
        lines.append(head + "COUNTS")
        for job in report.jobs:
            counts = [f"{k}:{v}" for k, v in _sorted_counts(job.entity_counts).items()]
            wrapped = _wrap(counts or ["-"], rest)
            lines.append(
                f"{job.job_id[:8]:<8} {job.file_type[:5]:<5} {job.status[:8]:<8} "
                f"{short_time(audit_time(job)):<16} {job.entity_count:>5} {job.map_size:>5} "
                + wrapped[0]
            )
            lines.extend(" " * len(head) + more for more in wrapped[1:])
        lines.append("")
    t = report.totals
    lines.append(
        f"{t.jobs} job(s), {t.entity_count} entities reported by the server, "
        f"{t.map_size} map entries"
    )
    if t.by_status:
        lines.append("by status: " + ", ".join(f"{k} {v}" for k, v in t.by_status.items()))
    if t.by_file_type:
        lines.append("by file type: " + ", ".join(f"{k} {v}" for k, v in t.by_file_type.items()))
    if t.by_entity_type:
        lines.append("")
        lines.append(f"{'ENTITY TYPE':<40} {'COUNT':>10}")
        for name, count in t.by_entity_type.items():
            lines.append(f"{_fit(name, 40):<40} {count:>10}")
    return [_fit(line, width) for line in lines]


# ---------------------------------------------------------------------------------------------
# Deep cross-check (needs the decrypted job)


@dataclass(frozen=True)
class CrossCheck:
    """Placeholders of one job's archived file compared with its map and the server's count."""

    job_id: str
    checked: bool  # False when the file type cannot be scanned (see ``reason``)
    reason: str = ""
    occurrences: int = 0  # occurrences of the map's placeholders in the file
    missing_from_map: tuple[str, ...] = ()  # placeholder-shaped tokens the map lacks
    unused_map_entries: tuple[str, ...] = ()  # map placeholders never seen in the file
    entity_count: int = 0  # the server's figure
    flags: tuple[str, ...] = field(default=())

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


def placeholder_type(placeholder: str) -> str:
    """``[PERSON_NAME_1]`` -> ``PERSON_NAME``; text of another shape is returned unchanged."""
    m = _PLACEHOLDER.fullmatch(placeholder)
    return m.group(1) if m else placeholder


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Placeholders are ASCII; latin-1 keeps every ASCII byte where it is.
        return content.decode("latin-1")


def cross_check(job: JobContent) -> CrossCheck:
    """Compare the placeholders in the archived file with the map and the server's count.

    Flags: ``missing-from-map`` (the file holds placeholder-shaped tokens the map lacks),
    ``unused-map-entries`` (the map has placeholders the file never uses) and
    ``count-mismatch`` (the server's entity_count differs from the placeholder occurrences).
    """
    if job.file_type not in TEXT_FILE_TYPES:
        return CrossCheck(
            job_id=job.job_id,
            checked=False,
            reason=f"{job.file_type} files are binary; placeholders are not counted",
            entity_count=job.entity_count,
        )
    if job.content is None:
        return CrossCheck(
            job_id=job.job_id,
            checked=False,
            reason="no archived file",
            entity_count=job.entity_count,
        )
    text = _decode(job.content)
    found: Counter[str] = Counter(m.group(0) for m in _PLACEHOLDER.finditer(text))
    known = set(job.mapping.values())
    occurrences = 0
    unused: list[str] = []
    for placeholder in sorted(known):
        # Map placeholders of an unusual shape are counted directly.
        n = found[placeholder] if _PLACEHOLDER.fullmatch(placeholder) else text.count(placeholder)
        occurrences += n
        if n == 0:
            unused.append(placeholder)
    missing = tuple(sorted(p for p in found if p not in known))
    flags: list[str] = []
    if missing:
        flags.append("missing-from-map")
    if unused:
        flags.append("unused-map-entries")
    if occurrences != job.entity_count:
        flags.append("count-mismatch")
    return CrossCheck(
        job_id=job.job_id,
        checked=True,
        occurrences=occurrences,
        missing_from_map=missing,
        unused_map_entries=tuple(unused),
        entity_count=job.entity_count,
        flags=tuple(flags),
    )


def cross_check_to_dict(check: CrossCheck) -> dict[str, Any]:
    return {
        "job_id": check.job_id,
        "checked": check.checked,
        "reason": check.reason or None,
        "flags": list(check.flags),
        "entity_count": check.entity_count,
        "occurrences": check.occurrences,
        "missing_from_map": list(check.missing_from_map),
        "unused_map_entries": list(check.unused_map_entries),
    }


def cross_check_lines(checks: Sequence[CrossCheck], *, width: int = 80) -> list[str]:
    """Human lines for the deep cross-check: one per job (fits ``width``), then the details of
    flagged jobs (full job ids and placeholder lists, not shortened)."""
    lines = [f"{'JOB':<8} {'SERVER':>7} {'FOUND':>7}  RESULT"]
    for c in checks:
        if not c.checked:
            result = f"not checked: {c.reason}"
            lines.append(f"{c.job_id[:8]:<8} {c.entity_count:>7} {'-':>7}  {result}")
        else:
            result = ", ".join(c.flags) if c.flags else "ok"
            lines.append(f"{c.job_id[:8]:<8} {c.entity_count:>7} {c.occurrences:>7}  {result}")
    lines = [_fit(line, width) for line in lines]
    for c in checks:
        if c.missing_from_map:
            lines.append(f"{c.job_id}: not in the map: {' '.join(c.missing_from_map)}")
        if c.unused_map_entries:
            lines.append(f"{c.job_id}: never used in the file: {' '.join(c.unused_map_entries)}")
    return lines
