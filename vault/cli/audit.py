"""Commands that read the vault's metadata without a key.

``log`` (the access log) comes first; the audit, grant, revoke, erase, verify and backup
commands are added below it.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

import click

from vault.cli._app import AppContext, cli, emit_json, json_option, pass_app
from vault.cli.users import open_vault
from vault.errors import InputError
from vault.models import LogEntry

# --------------------------------------------------------------------------- log


def parse_time(value: str | None, option: str) -> float | None:
    """Unix seconds, or an ISO 8601 date or date-time (UTC unless it names an offset)."""
    if value is None:
        return None
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(
            f"{option}: give Unix seconds or an ISO date such as 2026-01-31 or 2026-01-31T09:00"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _iso(value: float) -> str:
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _entry_json(e: LogEntry) -> dict[str, object]:
    return {
        "seq": e.seq,
        "time": e.time,
        "time_utc": _iso(e.time),
        "user": e.user,
        "action": e.action,
        "job_id": e.job_id,
        "subject": e.subject,
        "counts": dict(e.counts),
        "prev_hash": e.prev_hash,
        "entry_hash": e.entry_hash,
    }


@cli.command("log")
@click.option("--user", "user", help="Only entries by this user.")
@click.option("--action", help="Only this action (fetch, submit, restore, export, grant, ...).")
@click.option("--job", "job_id", help="Only entries about this job.")
@click.option("--since", help="From this time on (ISO date/time in UTC, or Unix seconds).")
@click.option("--until", help="Before this time (ISO date/time in UTC, or Unix seconds).")
@click.option("--head", is_flag=True, help="Print only the chain head as SEQ:HASH.")
@json_option
@pass_app
def log_command(
    ctx: AppContext,
    user: str | None,
    action: str | None,
    job_id: str | None,
    since: str | None,
    until: str | None,
    head: bool,
    as_json: bool,
) -> None:
    """Show the access log: who fetched, restored, exported, granted, erased what, and when.

    Entries hold counts, never values. `--head` prints SEQ:HASH of the newest entry: keep it
    elsewhere and later check it with `verify --expect-head`. No passphrase needed.

    \b
    Example:
      questa-vault log --action restore --since 2026-01-01
      questa-vault log --head
    """
    start = parse_time(since, "--since")
    end = parse_time(until, "--until")
    with open_vault(ctx) as kr:
        if head:
            seq, digest = kr.log_head()
            click.echo(f"{seq}:{digest}")
            return
        entries = kr.log_entries(user=user, action=action, job_id=job_id, since=start, until=end)
    if as_json:
        emit_json([_entry_json(e) for e in entries])
        return
    # Fits 80 columns: one line per entry, its counts (if any) wrapped on indented lines below.
    rows = [("SEQ", "TIME (UTC)", "USER", "ACTION", "JOB / SUBJECT")]
    counts_of: list[str] = [""]
    for e in entries:
        target = e.job_id or (f"user {e.subject}" if e.subject else "-")
        rows.append((str(e.seq), _iso(e.time)[:16].replace("T", " "), e.user, e.action, target))
        details = [f"{k}={v}" for k, v in sorted(e.counts.items())]
        if e.job_id and e.subject:  # grant/revoke: the user acted upon goes on the detail line
            details.insert(0, f"user={e.subject}")
        counts_of.append(" ".join(details))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row, counts in zip(rows, counts_of, strict=True):
        click.echo(" ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        for line in textwrap.wrap(counts, width=74):
            click.echo(f"      {line}")
