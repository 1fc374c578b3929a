"""Commands that read the vault's metadata without a key.

``log`` (the access log) comes first; the audit, grant, revoke, erase, verify and backup
commands are added below it.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator

import click

from vault.audit import Column, Table, iso_time, parse_when, short_time
from vault.cli._app import AppContext, cli, echo_lines, emit_json, json_option, pass_app
from vault.cli._common import open_vault
from vault.cli._jobref import complete_job_ids, complete_users, resolve_job, unknown_job
from vault.cli._terminal import echo, inert
from vault.errors import InputError
from vault.models import LOG_ACTIONS, LogEntry

# --------------------------------------------------------------------------- log


def _entry_json(e: LogEntry) -> dict[str, object]:
    return {
        "seq": e.seq,
        "time": e.time,
        "time_utc": iso_time(e.time) or "",
        "user": e.user,
        "action": e.action,
        "job_id": e.job_id,
        "subject": e.subject,
        "counts": dict(e.counts),
        "prev_hash": e.prev_hash,
        "entry_hash": e.entry_hash,
    }


@cli.command("log")
@click.option("--user", "user", shell_complete=complete_users, help="Only entries by this user.")
@click.option(
    "--action",
    type=click.Choice(LOG_ACTIONS),
    metavar="ACTION",
    help=f"Only this action: {', '.join(LOG_ACTIONS)}.",
)
@click.option(
    "--job", "job_id", shell_complete=complete_job_ids, help="Only entries about this job."
)
@click.option("--since", metavar="WHEN", help="Entries at or after WHEN (see audit --help).")
@click.option("--until", metavar="WHEN", help="Entries before WHEN (a date: to its end).")
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
      questa-vault log --since 30d --until 2026-05-31
      questa-vault log --head
    """
    now = time.time()
    start = None if since is None else parse_when(since, now=now)
    end = None if until is None else parse_when(until, now=now, end=True)
    if start is not None and end is not None and start >= end:
        raise InputError("--since must be earlier than --until")  # as audit says it
    with open_vault(ctx) as vault:
        if head:
            seq, digest = vault.log_head()
            echo(f"{seq}:{digest}")
            return
        if job_id is not None:
            job_id = resolve_job(vault, job_id)
        entries = vault.log(user=user, action=action, job_id=job_id, since=start, until=end)
        # A typo would otherwise read as "nothing happened". (An actor named through the
        # Python API need not be a vault user: its entries still match above.)
        if not entries and job_id is not None and vault.job(job_id) is None:
            raise unknown_job(job_id)
        if not entries and user is not None and user not in {u.name for u in vault.users()}:
            raise InputError(
                f"no user {user!r} in this vault and no log entry by it "
                "(see 'questa-vault user list')"
            )
    if as_json:
        emit_json([_entry_json(e) for e in entries])
        return
    if not entries:
        filtered = any(x is not None for x in (user, action, job_id, since, until))
        ctx.say("no log entries match" if filtered else "the log is empty")
        return
    # Fits 80 columns: one line per entry, its counts (if any) wrapped on indented lines below.
    rows: list[tuple[str, ...]] = []
    counts_of: list[str] = []
    for e in entries:
        target = e.job_id or (f"user {e.subject}" if e.subject else "-")
        cells = (str(e.seq), short_time(e.time), e.user, e.action, target)
        rows.append(tuple(map(inert, cells)))
        details = [f"{k}={v}" for k, v in sorted(e.counts.items())]
        if e.job_id and e.subject:  # grant/revoke: the user acted upon goes on the detail line
            details.insert(0, f"user={e.subject}")
        counts_of.append(" ".join(details))
    headings = ("SEQ", "TIME (UTC)", "USER", "ACTION", "JOB / SUBJECT")
    printer = Table.sized([Column(h) for h in headings], rows)
    echo_lines(_with_details(printer, rows, counts_of))


def _with_details(printer: Table, rows: list[tuple[str, ...]], details: list[str]) -> Iterator[str]:
    """The table's lines, each entry's counts wrapped on indented lines below it."""
    yield printer.heading()
    for row, counts in zip(rows, details, strict=True):
        yield printer.line(row)
        for line in textwrap.wrap(counts, width=74):
            yield f"      {line}"
