"""``audit``: entity counts per job, per entity type and per status, without a key; with
``--deep`` (passphrase) a logged cross-check of each job's placeholders against its map.

An adapter over ``vault.audit``: parse the filters, fetch (or, for ``--summary``, let SQLite
add up), render as a table, JSON or CSV.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click

import vault.audit as views  # the deep check and the page load their libraries on first use
from vault.audit import (
    AuditListing,
    AuditQuery,
    AuditReport,
    csv_rows,
    csv_text,
    json_document,
    parse_when,
    report_to_dict,
    table_lines,
)
from vault.cli._app import (
    AppContext,
    check_output,
    cli,
    force_option,
    is_dash,
    json_option,
    pass_app,
)
from vault.cli._common import open_vault, unlock
from vault.cli._terminal import echo, inert_json, inert_lines
from vault.models import FILE_TYPES, JOB_STATUSES, LogEntry
from vault.restore import AtomicOutput

if TYPE_CHECKING:
    from vault.api import Vault
    from vault.audit import CrossCheck


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the report's objects are built and rendered: they
    hold no cycles, and with 100,000 jobs alive each collection rescans them all (it made the
    CSV and JSON renderings half again slower)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@cli.command("audit")
@click.option("--since", metavar="WHEN", help="Jobs that entered the vault at or after WHEN.")
@click.option("--until", metavar="WHEN", help="Jobs that entered the vault before WHEN.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(JOB_STATUSES),
    help="Only jobs in this status (repeatable).",
)
@click.option(
    "--type",
    "file_types",
    multiple=True,
    type=click.Choice(FILE_TYPES),
    help="Only jobs of this file type (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--summary/--no-summary", default=False, help="Totals only, no line per job.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Also write one self-contained HTML page with charts and tables to FILE ('-': stdout "
    "instead of the table); same filters.",
)
@click.option(
    "--deep",
    is_flag=True,
    help="Also decrypt each archived job and cross-check its placeholders (needs the "
    "passphrase; logged).",
)
@force_option
@json_option
@pass_app
@_gc_paused()
def audit_command(
    ctx: AppContext,
    since: str | None,
    until: str | None,
    statuses: tuple[str, ...],
    file_types: tuple[str, ...],
    fmt: str,
    summary: bool,
    html_path: Path | None,
    deep: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Entity counts per job, per entity type and per status, without a key.

    WHEN is a date (2026-05-01, UTC), a date and time (2026-05-01T09:00, UTC unless an offset
    is given), a relative time (30d, 12h, 2w, 45m ago), today, yesterday, now, or Unix
    seconds. A job's time is when it was archived (else fetched, submitted or created).
    --until with a date alone (or today, yesterday) includes that whole day.

    --deep decrypts each archived job you hold a grant for and flags placeholders in the
    file that its map lacks, map entries the file never uses, and a server entity_count
    different from the placeholders found. It logs one audit-deep entry per job; no original
    value is shown.

    \b
    Example:
      questa-vault audit --since 2026-05-01 --until 2026-05-31 --type csv
      questa-vault audit --status archived --format csv > audit.csv
      questa-vault audit --since 30d --summary
      questa-vault audit --since 2026-05-01 --html audit-may.html
    """
    if html_path is not None and (deep or summary):
        raise click.UsageError("--html does not go with --deep or --summary")
    check_output(ctx, html_path, force=force)  # before any work; again at the rename
    fmt = "json" if as_json else fmt
    now = time.time()
    query = AuditQuery(
        since=parse_when(since, now=now) if since is not None else None,
        until=parse_when(until, now=now, end=True) if until is not None else None,
        statuses=statuses,
        file_types=file_types,
    )
    checks: list[CrossCheck] = []
    with open_vault(ctx) as vault:
        if not summary and not deep and html_path is None:
            # Every job: formatted inside SQLite when the rows allow (the same bytes).
            parts = vault.audit_text(query, fmt)
            if parts is not None:
                # Written as it is, piece by piece (no copy of the whole listing): the fast
                # path holds nothing inert_lines or inert_json would escape (it declines
                # otherwise).
                sys.stdout.flush()
                for part in parts:
                    sys.stdout.buffer.write(part.encode("utf-8", "backslashreplace"))
                sys.stdout.buffer.flush()
                return
        # Totals only: added up inside SQLite, no object per job. Else the store filters,
        # orders and builds the selected jobs as lean rows, reading the grants only when the
        # recipients are shown (JSON) or used (--deep).
        summing = summary and not deep
        report = (
            vault.audit_summary(query)
            if summing
            else vault.audit_listing(query, recipients=fmt == "json" or deep)
        )
        if html_path is not None:
            page = views.html_report(
                report,
                _log_for(vault, report, query),
                vault_name=ctx.vault_path.name,
                generated_at=now,
            )
        if deep:
            checks = unlock(ctx, vault).cross_check(report.jobs)  # logged before shown
    if html_path is not None:
        _write_page(ctx, html_path, page, force=force)
        if is_dash(html_path) or ctx.quiet:  # -q: the page only (a cron job's report)
            return
    if fmt == "json":
        data = report_to_dict(report, include_jobs=not summary)
        if deep:
            data["cross_check"] = [views.cross_check_to_dict(c) for c in checks]
        _emit_report_json(data)
    elif fmt == "csv":
        _write_csv(report, checks if deep else None, summary)
    else:
        lines = table_lines(report, include_jobs=not summary)
        if deep:
            lines += ["", *views.cross_check_lines(checks)]
        echo("\n".join(lines))
    flagged = sum(1 for c in checks if c.flagged)
    if deep:
        ctx.say(f"cross-checked {len(checks)} job(s); {flagged} flagged")


def _log_for(vault: Vault, report: AuditListing | AuditReport, query: AuditQuery) -> list[LogEntry]:
    """The access-log entries the audit's filters select: the same time window; with a status
    or type filter, only entries about the selected jobs."""
    entries = vault.log(since=query.since, until=query.until)
    if not (query.statuses or query.file_types):
        return entries
    selected = {job.job_id for job in report.jobs}
    return [e for e in entries if e.job_id in selected]


def _write_page(ctx: AppContext, path: Path, page: str, *, force: bool) -> None:
    """Standard output for ``-``; else the file, atomically, mode 0600, replacing an existing
    one only with --force (a symlink itself, never the file it points to)."""
    data = page.encode("utf-8", "backslashreplace")  # a lone surrogate from a hostile service
    destination: Path | BinaryIO = sys.stdout.buffer if is_dash(path) else path
    with AtomicOutput(destination, replace=force) as out:
        out.file.write(data)
        out.commit()
    if not is_dash(path):
        ctx.say(f"wrote {path} ({len(data)} bytes)")


def _emit_report_json(data: dict[str, Any]) -> None:
    """Like ``emit_json``, but each element of the ``jobs`` and ``cross_check`` lists on one
    line: the same JSON, readable, and several times faster for 100,000 jobs."""
    # One encoder for all items: json.dumps would build a new one per item.
    encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    lists: dict[str, list[str]] = {
        key: list(map(encode, data.pop(key))) for key in ("jobs", "cross_check") if key in data
    }
    click.echo(inert_json(json_document(data, lists)))


class _InertStdout:
    """Standard output for ``csv.writer`` with every control character but line breaks
    escaped (server-chosen labels can hold ESC, C1 and bidi controls)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(inert_lines(text))


class _Utf8Stdout:
    """Standard output for ``csv.writer``: the text as written, a lone surrogate (a hostile
    service's ``"\\ud800"``) as ``\\ud800`` instead of a UnicodeEncodeError for the whole file."""

    def write(self, text: str) -> int:
        if not text.isascii():
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        return sys.stdout.write(text)


def _write_csv(
    report: AuditReport | AuditListing, checks: list[CrossCheck] | None, summary: bool
) -> None:
    # A file or pipe gets the exact CSV (but a lone surrogate, which is no text, escaped); a
    # terminal an inert view of it, like every table.
    out: Any = _InertStdout() if sys.stdout.isatty() else _Utf8Stdout()
    writer = csv.writer(out, lineterminator="\n")
    if summary:
        writer.writerow(["group", "key", "value"])
        t = report.totals
        for key, value in (
            ("jobs", t.jobs),
            ("entity_count", t.entity_count),
            ("map_size", t.map_size),
            ("file_size", t.file_size),
        ):
            writer.writerow(["total", key, value])
        for group, counts in (
            ("entity_type", t.by_entity_type),
            ("status", t.by_status),
            ("file_type", t.by_file_type),
        ):
            for key, value in counts.items():
                writer.writerow([group, csv_text(key), value])
        return
    rows = csv_rows(report)
    if checks is not None:
        by_id = {c.job_id: c for c in checks}
        rows[0] += ["deep_checked", "deep_flags", "placeholder_occurrences"]
        for row in rows[1:]:
            c = by_id.get(str(row[0]))  # the job id column
            if c is None or not c.checked:
                row += ["no", "", ""]
            else:
                row += ["yes", " ".join(c.flags), str(c.occurrences)]
    writer.writerows(rows)
