"""Lifecycle commands: ``grant``, ``revoke``, ``erase``, ``verify``, ``backup``, ``migrate``
(``audit`` is in ``audit.py``).

Adapters only: parse, call ``vault.Vault``, render. ``erase``, ``verify`` (without
``--deep``) and ``backup`` need no passphrase.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import click

from vault.api import Vault
from vault.cli._app import AppContext, cli, emit_json, json_option, pass_app, refuse_dash
from vault.cli._common import acting_user, open_vault, reading_user, unlock
from vault.cli._jobref import complete_job_ids, complete_users, resolve_jobs
from vault.cli._terminal import echo
from vault.config import DatabaseUrl, vault_location
from vault.errors import InputError, IntegrityError, StoreError, Unavailable, VaultNotFound
from vault.lifecycle import older_than


def _one_selection(job_ids: tuple[str, ...], all_jobs: bool, what: str) -> None:
    if bool(job_ids) == all_jobs:
        raise click.UsageError(f"give the jobs to {what}: -j JOB (repeatable) or --all")


# --------------------------------------------------------------------------- grant, revoke


@cli.command("grant")
@click.argument("user", shell_complete=complete_users)
@click.option(
    "-j",
    "--job",
    "job_ids",
    multiple=True,
    metavar="JOB",
    shell_complete=complete_job_ids,
    help="A job (repeatable).",
)
@click.option("--all", "all_jobs", is_flag=True, help="Every job you can read.")
@json_option
@pass_app
def grant_command(
    ctx: AppContext, user: str, job_ids: tuple[str, ...], all_jobs: bool, as_json: bool
) -> None:
    """Share jobs with USER: your copy of each job's key is sealed to USER as well.

    Needs your passphrase (the key is unwrapped with your grant). USER must be an enabled
    user of the vault. Each job granted is logged.

    \b
    Example:
      questa-vault --user alice grant bob -j 550e8400-e29b-41d4-a716-446655440000
      questa-vault --user alice grant bob --all
    """
    _one_selection(job_ids, all_jobs, "grant")
    with open_vault(ctx) as vault:
        vault.custodian.check_may_change("grant", reading_user(ctx, vault))  # before a prompt
        chosen = None if all_jobs else resolve_jobs(vault, job_ids)
        granted = vault.grant(unlock(ctx, vault), user, chosen)
    if as_json:
        emit_json({"user": user, "granted": granted})
        return
    ctx.say(f"granted {user} access to {len(granted)} job(s)")
    for job_id in granted:
        echo(job_id)


@cli.command("revoke")
@click.argument("user", shell_complete=complete_users)
@click.option(
    "-j",
    "--job",
    "job_ids",
    multiple=True,
    metavar="JOB",
    shell_complete=complete_job_ids,
    help="A job (repeatable).",
)
@click.option(
    "--all",
    "all_jobs",
    is_flag=True,
    help="Every job USER holds a grant for; also disables USER (see --keep-enabled).",
)
@click.option(
    "--keep-enabled",
    is_flag=True,
    help="With --all: leave USER enabled (new jobs are still sealed to USER; a warning says so).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Revoke even where USER is the last reader: those jobs become unreadable for good.",
)
@json_option
@pass_app
def revoke_command(
    ctx: AppContext,
    user: str,
    job_ids: tuple[str, ...],
    all_jobs: bool,
    keep_enabled: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Withdraw USER's access and re-key the jobs, so a key USER kept opens nothing current.

    Each affected job gets a new key: its file and map are re-encrypted and the key sealed to
    the remaining readers (a new, higher key version), all in one transaction. Needs your
    passphrase, and you must hold a grant for every job re-keyed. Refuses to remove the last
    reader of a job unless --force, which leaves that job unreadable by anyone (erase it
    instead). --all also disables USER in the same transaction, so jobs archived later are
    not sealed to USER again; --keep-enabled leaves USER enabled (and warns).

    \b
    Example:
      questa-vault --user alice revoke bob -j 550e8400-e29b-41d4-a716-446655440000
      questa-vault --user alice revoke bob --all
    """
    _one_selection(job_ids, all_jobs, "revoke")
    if keep_enabled and not all_jobs:
        raise InputError("--keep-enabled goes with --all")
    disable = all_jobs and not keep_enabled
    with open_vault(ctx) as vault:
        vault.custodian.check_may_change("revoke", reading_user(ctx, vault))  # before a prompt
        chosen = None if all_jobs else resolve_jobs(vault, job_ids)
        plan = vault.plan_revoke(acting_user(ctx, vault), user, chosen)
        was_enabled = any(u.name == user and u.enabled for u in vault.users())
        rekeyed = vault.revoke(unlock(ctx, vault), plan, force=force, disable=disable)
        enabled = any(u.name == user and u.enabled for u in vault.users())
    unreadable = [j for j in plan.orphaned if j in rekeyed]
    if as_json:
        emit_json({"user": user, "rekeyed": rekeyed, "unreadable": unreadable, "enabled": enabled})
        return
    if rekeyed:
        ctx.say(f"revoked {user} from {len(rekeyed)} job(s); each was re-keyed")
    else:
        ctx.say(f"{user} holds no grant for these jobs: nothing to revoke")
    if disable and was_enabled:
        ctx.say(f"disabled {user}: no new job is sealed to {user}")
    elif disable:
        ctx.say(f"{user} was already disabled")
    elif all_jobs and enabled:
        ctx.say(
            f"warning: {user} is still enabled, so jobs archived from now on are sealed to "
            f"{user} again; disable with `questa-vault user disable {user}`"
        )
    for job_id in unreadable:
        ctx.say(f"warning: job {job_id} now has no reader and is unreadable for good")
    for job_id in rekeyed:
        echo(job_id)


# --------------------------------------------------------------------------- erase


def _finite_days(value: float | None) -> float | None:
    """``--older-than`` as a finite number of days (click's range lets NaN and inf through)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter("DAYS must be a finite number", param_hint="'--older-than'")
    return value


@cli.command("erase")
@click.argument("job_ids", nargs=-1, metavar="[JOB_ID]...", shell_complete=complete_job_ids)
@click.option(
    "--older-than",
    "days",
    type=click.FloatRange(min=0),
    callback=lambda ctx, param, value: _finite_days(value),
    metavar="DAYS",
    help="Every job that entered the vault more than DAYS days ago.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_app
def erase_command(
    ctx: AppContext, job_ids: tuple[str, ...], days: float | None, yes: bool, as_json: bool
) -> None:
    """Crypto-shred jobs: their keys and ciphertexts are destroyed for good.

    A tombstone (status erased, with the counts) and the log entries stay, so audit still
    counts what was archived. The write-ahead log is emptied afterwards, so no byte of the
    map, the file or a wrapped key remains in the vault's files. Needs no passphrase; asks
    for confirmation unless --yes.

    \b
    Example:
      questa-vault erase 550e8400-e29b-41d4-a716-446655440000
      questa-vault erase --older-than 90 --yes
    """
    if bool(job_ids) == (days is not None):
        raise click.UsageError("give the jobs to erase: JOB_ID... or --older-than DAYS")
    with open_vault(ctx) as vault:
        actor = acting_user(ctx, vault)
        vault.custodian.check_may_change("erase", actor)  # before the confirmation
        if days is not None:
            jobs = older_than(vault.jobs(), days, now=time.time())
        else:
            jobs = vault.known_jobs(resolve_jobs(vault, job_ids))
        skipped = [j.job_id for j in jobs if j.status == "erased"]
        targets = [j.job_id for j in jobs if j.status != "erased"]
        for job_id in skipped:
            ctx.say(f"job {job_id} is already erased")
        if targets and not yes:
            ctx.say(f"about to erase {len(targets)} job(s) for good:")
            for job_id in targets[:20]:
                ctx.say(f"  {job_id}")
            if len(targets) > 20:
                ctx.say(f"  ... and {len(targets) - 20} more")
            try:
                agreed = click.confirm(
                    f"Erase {len(targets)} job(s)? This cannot be undone", err=True
                )
            except click.exceptions.Abort:  # Ctrl-C, or the input ended (EOF)
                if sys.stdin.isatty():
                    raise
                raise InputError(
                    "no answer to the confirmation (standard input is not a terminal): add "
                    "--yes to erase without asking; nothing was erased"
                ) from None
            if not agreed:
                raise click.exceptions.Abort()
        # Already-erased jobs go in too: erasing them again empties a WAL an earlier
        # erase could not (another process was reading).
        done = vault.erase([j.job_id for j in jobs], actor=actor) if jobs else []
    if as_json:
        emit_json(
            {
                "erased": [e.job_id for e in done],
                "already_erased": skipped,
            }
        )
        return
    ctx.say(f"erased {len(done)} job(s)" if done else "nothing to erase")
    for e in done:
        echo(e.job_id)


# --------------------------------------------------------------------------- verify


@cli.command("verify")
@click.option(
    "--deep",
    is_flag=True,
    help="Also decrypt every job you can open and check its seal (needs the passphrase).",
)
@click.option(
    "--expect-head",
    metavar="SEQ:HASH",
    help="The log head kept from `log --head`: detects a truncated or rolled-back log.",
)
@json_option
@pass_app
def verify_command(ctx: AppContext, deep: bool, expect_head: str | None, as_json: bool) -> None:
    """Check the vault's integrity; exit 5 with every finding if anything is wrong.

    Checks SQLite's integrity_check, the schema (migrations, tables, the log's append-only
    triggers), the access log's hash chain (and --expect-head), the structure of every
    job (a live job has a reader, chunks are contiguous, an erased job holds no ciphertext
    or key), and the vault's state against its own log (a job archived once is not
    replaced, erased stays erased, a revoke moved the key version on, grants match the
    recorded holders, a disabled user stays disabled, key settings are the recorded ones).
    --deep decrypts every job you hold a grant for and checks its seal (which also
    authenticates who holds the job's keys).

    \b
    Example:
      questa-vault verify
      questa-vault log --head > head.txt      # keep it somewhere else
      questa-vault verify --deep --expect-head "$(cat head.txt)"
    """
    try:
        vault = open_vault(ctx)
    except StoreError as exc:
        # A file SQLite cannot open as a vault at all is verify's worst finding (exit 5);
        # a missing file, a busy vault, no connection to the server stay ordinary errors.
        # So does a path that is no file (a directory, a device) or cannot be read.
        no_file = isinstance(ctx.vault_path, Path) and not ctx.vault_path.is_file()
        if isinstance(exc, VaultNotFound | Unavailable) or no_file:
            raise
        if str(exc).startswith("cannot open the vault"):
            raise
        raise IntegrityError(f"the vault does not verify: {exc}") from exc
    with vault:
        unlocked = unlock(ctx, vault) if deep else None
        report = vault.verify(unlocked, expect_head=expect_head)
    head = f"{report.head[0]}:{report.head[1]}"
    if as_json:
        emit_json(
            {
                "ok": report.ok,
                "findings": [
                    {"check": f.check, "job_id": f.job_id, "message": f.message}
                    for f in report.findings
                ],
                "jobs": report.jobs,
                "log_entries": report.log_entries,
                "head": head,
                "notes": list(report.notes),
                "deep": (
                    {"checked": report.deep_checked, "skipped": report.deep_skipped}
                    if deep
                    else None
                ),
            }
        )
    else:
        echo(f"jobs checked:  {report.jobs}")
        echo(f"log entries:   {report.log_entries} (head {head})")
        if deep:
            echo(
                f"deep:          {report.deep_checked} job(s) decrypted and seal-checked, "
                f"{report.deep_skipped} without your grant"
            )
        for note in report.notes:
            click.echo(f"note:          {note}")
        if report.ok:
            echo("result:        ok")
        else:
            echo(f"result:        {len(report.findings)} finding(s)")
            for f in report.findings:
                where = f" job {f.job_id}:" if f.job_id else ""
                echo(f"  [{f.check}]{where} {f.message}")
    if not report.ok:
        raise IntegrityError(f"verify found {len(report.findings)} problem(s)")


# --------------------------------------------------------------------------- backup


@cli.command("backup")
@click.argument(
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    callback=refuse_dash(
        "the copy is reopened and its log chain checked after writing, which needs a file; "
        "write one, then send it on"
    ),
)
@json_option
@pass_app
def backup_command(ctx: AppContext, path: Path, as_json: bool) -> None:
    """Write a consistent copy of the vault to PATH while it stays in use.

    A SQLite vault is copied with SQLite's online backup API (a plain file copy of a WAL
    database can miss committed data); a PostgreSQL vault is exported into a new SQLite file
    (a logical copy the tool verifies, and `migrate` brings back; docs/team.md).
    Refuses to overwrite PATH; the copy is created with mode 0600 and checked to open with its
    log chain intact. Needs no passphrase; the copy is as protected as the vault.

    \b
    Example:
      questa-vault backup /mnt/backups/vault-2026-05-31.db
    """
    with open_vault(ctx) as vault:
        done = vault.backup(path, actor=acting_user(ctx, vault))
    head = f"{done.head[0]}:{done.head[1]}"
    if as_json:
        emit_json({"path": str(done.path), "bytes": done.size, "head": head})
        return
    ctx.say(f"backed up to {done.path} ({done.size} bytes)")
    echo(head)


# --------------------------------------------------------------------------- migrate


@cli.command("migrate")
@click.argument("source", callback=refuse_dash("a vault is a file or a postgresql:// URL"))
@click.argument("dest", callback=refuse_dash("a vault is a file or a postgresql:// URL"))
@click.option(
    "--deep",
    is_flag=True,
    help="Also decrypt every job you can open in the copy and check its seal (passphrase).",
)
@json_option
@pass_app
def migrate_command(ctx: AppContext, source: str, dest: str, deep: bool, as_json: bool) -> None:
    """Copy the vault SOURCE to DEST, between SQLite and PostgreSQL in either direction.

    SOURCE and DEST are file paths or postgresql:// URLs (without a password). DEST is a new
    file, an empty database, or an earlier, interrupted copy of the same vault: the copy is
    idempotent and resumes where a killed run stopped. Afterwards every row of the copy is
    compared with the source, the log chain recomputed, and the copy verified; --deep also
    checks the seal of every job you can open. The copy is the same vault (same users and
    passphrases); the source is not changed.

    \b
    Example:
      questa-vault migrate vault.db 'postgresql://admin@db.internal/questa'
      questa-vault migrate 'postgresql://admin@db.internal/questa' restore-test.db --deep
    """
    src, dst = vault_location(source), vault_location(dest)  # both refused before any connect
    with Vault.open(src) as vault:
        done = vault.migrate(dst, unlock=(lambda copy: unlock(ctx, copy)) if deep else None)
    head = f"{done.head[0]}:{done.head[1]}"
    if as_json:
        emit_json(
            {"jobs": done.jobs, "log_entries": done.log_entries, "head": head,
             "deep_checked": done.deep_checked if deep else None,
             "already": done.already}
        )  # fmt: skip
        return
    checked = (
        f" ({done.deep_checked} seal(s) checked)"
        if deep
        else " (rows and log; seals are checked with --deep)"
    )
    if done.already and done.already >= done.log_entries:
        ctx.say(
            f"{dst} already held this vault up to log entry {done.already}: it was up to "
            "date, nothing was copied"
        )
        ctx.say(
            f"the copy holds {done.jobs} job(s) and {done.log_entries} log entries and "
            f"verifies{checked}"
        )
    else:
        if done.already:
            ctx.say(
                f"{dst} already held this vault up to log entry {done.already}; brought it up "
                "to date"
            )
        ctx.say(
            f"migrated {done.jobs} job(s) and {done.log_entries} log entries; the copy "
            f"verifies{checked}"
        )
        if isinstance(dst, DatabaseUrl) and not done.already:
            ctx.say(
                "next: run the grants block of docs/team.md in that database as its owner "
                "(grants belong to the database: the other roles can do nothing until then)"
            )
    echo(head)
