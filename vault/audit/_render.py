"""The report as JSON-ready data, CSV rows and an 80-column table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import repeat, starmap
from operator import attrgetter, itemgetter
from typing import Any

from vault.audit._table import Column, Table, fit
from vault.audit._times import iso_time, short_time
from vault.audit._totals import AuditListing, AuditReport, AuditTotals
from vault.models import JOB_INFO_FIELDS, JobInfo
from vault.store import JobListRow

_job_values = attrgetter(*JOB_INFO_FIELDS)


def job_to_dict(job: JobInfo | JobListRow) -> dict[str, Any]:
    """One job as JSON-ready data: the keys and units of ``show --json`` (the ``JobInfo``
    fields; times in Unix seconds, ``null`` when unknown)."""
    data = dict(zip(JOB_INFO_FIELDS, _job_values(job), strict=True))
    data["entity_counts"] = dict(sorted(job.entity_counts.items()))
    data["recipients"] = list(job.recipients)
    return data


def report_to_dict(
    report: AuditReport | AuditListing, *, include_jobs: bool = True
) -> dict[str, Any]:
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


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(cell: str) -> str:
    """A CSV cell of text chosen by a server or a writer of the vault (an entity label, a job
    id, type or source stored before the job-id rule) that a spreadsheet will not run: one
    starting with = + - @, TAB or CR gets a leading apostrophe."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


# C0, DEL, C1 and the bidi controls, as the terminal escapes them (vault/cli/_terminal.py)
_ID_CONTROLS = str.maketrans(
    {
        code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
        for code in (*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F),
                     *range(0x2066, 0x206A))
    }
)  # fmt: skip


def csv_id(job_id: str) -> str:
    """A job id as a CSV cell: ``csv_text``, and every control character escaped even in a
    file or a pipe. No id inside the rule holds one (the store and the database refuse
    them), so only a planted id changes, and it cannot move a terminal's cursor or title."""
    return csv_text(job_id.translate(_ID_CONTROLS))


def csv_rows(report: AuditReport | AuditListing) -> list[list[str | int]]:
    """A header and one row per job; one column per entity type seen (0 when absent).
    Numbers stay ints: a CSV writer writes them as ``str`` would."""
    types = sorted(report.totals.by_entity_type)
    rows: list[list[str | int]] = [[*CSV_FIXED_COLUMNS, *map(csv_text, types)]]
    append = rows.append
    for job in report.jobs:
        counts = job.entity_counts
        append(
            [
                csv_id(job.job_id),
                csv_text(job.file_type),
                job.status,
                csv_text(job.source),
                iso_time(job.created_at) or "",
                iso_time(job.fetched_at) or "",
                iso_time(job.archived_at) or "",
                job.entity_count,
                job.map_size,
                job.file_size,
                *map(counts.get, types, repeat(0)),
            ]
        )
    return rows


def _wrap(words: Sequence[str], width: int) -> list[str]:
    """Words joined by spaces into lines of at most ``width`` (a longer word is shortened)."""
    lines: list[str] = []
    current = ""
    for word in words:
        word = fit(word, width)
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return lines


TABLE_WIDTH = 80
# The job table (``vault.store`` writes the same widths in SQL): job id, type and status cut
# to their width, the counts free, wrapped onto continuation lines.
JOB_TABLE = Table(
    (
        Column("JOB", 8, cut=True),
        Column("TYPE", 5, cut=True),
        Column("STATUS", 8, cut=True),
        Column("ARCHIVED (UTC)", 16),
        Column("ENT", 5, ">"),
        Column("MAP", 5, ">"),
        Column("COUNTS"),
    ),
    width=TABLE_WIDTH,
)
# The table's columns before COUNTS.
TABLE_HEAD = JOB_TABLE.heading()[: JOB_TABLE.indent]
_by_count = itemgetter(1)


def count_lines(counts: Mapping[str, int], rest: int) -> list[str]:
    """A job's COUNTS column: ``TYPE:N`` words, largest count first, then by name (the order of
    the totals), joined by spaces into lines of at most ``rest`` characters; ``-`` when none."""
    # By name, then a stable sort by count (``reverse`` keeps ties in order), both without a
    # key call.
    items = (
        sorted(sorted(counts.items()), key=_by_count, reverse=True)
        if len(counts) > 1
        else counts.items()
    )
    words = list(starmap("{}:{}".format, items)) or ["-"]
    joined = " ".join(words)
    # One line in the common case; _wrap only when the counts do not fit.
    return [joined] if len(joined) <= rest else _wrap(words, rest)


def table_lines(
    report: AuditReport | AuditListing, *, include_jobs: bool = True, width: int = TABLE_WIDTH
) -> list[str]:
    """The human table: one line per job (the counts per type wrap onto continuation lines),
    then totals per type and per status; fits ``width``.

    The job id is shortened to its first 8 characters (as ``jobs`` shows it); ``--format json``
    or ``csv`` give the full ids.
    """
    table = JOB_TABLE if width == TABLE_WIDTH else replace(JOB_TABLE, width=width)
    lines: list[str] = []
    if include_jobs:
        rest = max(width - table.indent, 8)
        rows = (
            (
                job.job_id,
                job.file_type,
                job.status,
                short_time(job.audit_time),
                job.entity_count,
                job.map_size,
                job.entity_counts,
            )
            for job in report.jobs
        )
        lines.extend(table.lines(rows, wrap=lambda counts: count_lines(counts, rest)))
        lines.append("")
    lines.extend(fit(line, width) for line in totals_lines(report.totals))
    return lines


def totals_lines(t: AuditTotals) -> list[str]:
    """The table's totals: jobs and sums, per status, per file type, per entity type."""
    lines = [
        f"{t.jobs} job(s), {t.entity_count} entities reported by the server, "
        f"{t.map_size} map entries"
    ]
    if t.by_status:
        lines.append("by status: " + ", ".join(f"{k} {v}" for k, v in t.by_status.items()))
    if t.by_file_type:
        lines.append("by file type: " + ", ".join(f"{k} {v}" for k, v in t.by_file_type.items()))
    if t.by_entity_type:
        lines.append("")
        lines.append(f"{'ENTITY TYPE':<40} {'COUNT':>10}")
        for name, count in t.by_entity_type.items():
            lines.append(f"{fit(name, 40):<40} {count:>10}")
    return lines


def json_document(data: dict[str, Any], lists: Mapping[str, Sequence[str]]) -> str:
    """The report as JSON text (``indent=2``), with each element of ``lists`` (already
    encoded, one per line) appended after ``data``'s keys: the same JSON, readable, and
    several times faster for 100,000 jobs than indenting every job."""
    return "".join(json_document_parts(data, lists))


def json_document_parts(data: dict[str, Any], lists: Mapping[str, Sequence[str]]) -> list[str]:
    """``json_document`` in pieces (joined, the same text), so a large listing is written
    without copying it into one string first."""
    parts = [json.dumps(data, indent=2, ensure_ascii=False)[: -len("\n}")]]
    for key, items in lists.items():
        if not items:
            parts.append(f',\n  "{key}": []')
            continue
        parts += [f',\n  "{key}": [\n    ', ",\n    ".join(items), "\n  ]"]
    parts.append("\n}")
    return parts
