"""``jobs``, ``show``, ``export``: what the vault holds.

``jobs`` and ``show`` read plaintext metadata only (no passphrase); ``show --reveal`` and
``export`` unlock a user and log the release before anything is shown or written. No network
stack is loaded here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, BinaryIO

import click

from vault.archive import estimated_expiry
from vault.audit import job_to_dict
from vault.cli._app import (
    AppContext,
    check_output,
    cli,
    emit_json,
    erased_message,
    force_option,
    json_option,
    pass_app,
    table,
    utc_time,
)
from vault.cli._common import open_vault, unlock
from vault.cli._jobref import complete_job_ids, resolve_job, unknown_job
from vault.cli._terminal import RAW_HELP, echo, inert, terminal_safe
from vault.client import check_job_id, is_job_id
from vault.errors import InputError, UnknownJob
from vault.models import EXTENSIONS, JOB_STATUSES, JobContent, JobInfo


def job_json(info: JobInfo) -> dict[str, Any]:
    """A job's metadata with stable keys (the ``JobInfo`` fields, plus the expiry estimate)."""
    data = job_to_dict(info)
    data["estimated_expiry"] = estimated_expiry(info) if info.status == "pending" else None
    return data


# --------------------------------------------------------------------------- jobs, show


@cli.command("jobs")
@click.option("--status", type=click.Choice(JOB_STATUSES), help="Only jobs in this state.")
@json_option
@pass_app
def jobs_command(ctx: AppContext, status: str | None, as_json: bool) -> None:
    """List the jobs in the vault: metadata only (no passphrase, no content).

    \b
    Example:
      questa-vault jobs --status pending
    """
    with open_vault(ctx) as vault:
        infos = vault.jobs(status=status)
    if as_json:
        emit_json([job_json(i) for i in infos])
        return
    if not infos:
        ctx.say("no jobs" if status is None else f"no {status} jobs")
        return
    # Fits 80 columns: the counts and times in full are in `show` and `--json`.
    rows: list[tuple[str, ...]] = [("JOB", "STATUS", "TYPE", "ENT", "ARCHIVED (UTC)")]
    for i in infos:
        archived = utc_time(i.archived_at)[:16]
        rows.append((i.job_id, i.status, i.file_type or "-", str(i.entity_count), archived))
    table(rows, sep=" ")


@cli.command("show")
@click.argument("job_id", shell_complete=complete_job_ids)
@click.option(
    "--reveal",
    is_flag=True,
    help="Also decrypt the file name, submit options and server error (needs the passphrase; "
    "logged first).",
)
@json_option
@pass_app
def show_command(ctx: AppContext, job_id: str, reveal: bool, as_json: bool) -> None:
    """Describe one job: status, type, times, counts per entity type, who holds a grant.

    Metadata only; no passphrase and no original value. With --reveal, an unlocked user
    holding a grant also sees the encrypted details: the uploaded file name, the submit
    options (custom entities hold originals) and the server's error text of a failed job.

    \b
    Example:
      questa-vault show 550e8400-e29b-41d4-a716-446655440000 --json
    """
    details: dict[str, Any] | None = None
    with open_vault(ctx) as vault:
        job_id = resolve_job(vault, job_id)
        info = vault.job(job_id)
        if info is None:
            raise unknown_job(job_id)
        if reveal:  # logged as `show` before anything is printed
            details = _details(unlock(ctx, vault).reveal(job_id))
    if as_json:
        emit_json(job_json(info) | ({"details": details} if details is not None else {}))
        return
    expiry = estimated_expiry(info) if info.status == "pending" else None
    counts = ", ".join(f"{k} {v}" for k, v in sorted(info.entity_counts.items())) or "-"
    rows = [
        ("job", info.job_id),
        ("status", info.status),
        ("type", info.file_type or "-"),
        ("source", info.source),
        ("created", utc_time(info.created_at)),
        ("submitted", utc_time(info.submitted_at)),
        ("fetched", utc_time(info.fetched_at)),
        # A failed job is stored (its error, encrypted) but never archived: say "stored".
        ("stored" if info.status == "failed" else "archived", utc_time(info.archived_at)),
        (
            "expires (estimate)" if expiry is not None else "expires",
            utc_time(expiry or info.expires_at),
        ),
        ("entities", str(info.entity_count)),
        ("map entries", str(info.map_size)),
        ("per type", counts),
        ("file bytes", str(info.file_size)),
        ("key version", str(info.key_version)),
        ("readers", ", ".join(info.recipients) or "-"),
    ]
    if info.shared_placeholders or info.placeholder_like_originals:
        rows.append(
            (
                "map problems",
                f"{info.shared_placeholders} shared placeholders, "
                f"{info.placeholder_like_originals} placeholder-like originals",
            )
        )
    if details is not None:
        rows.append(("file name", details["filename"] or "-"))
        options = details["options"]
        if options is not None:
            rows.append(("entities asked", options["entities"] or "all"))
            rows.append(("start index", str(options["start_index"])))
            custom = ", ".join(
                f"{c['original']} -> {c['placeholder']}" for c in options["custom_entities"]
            )
            rows.append(("custom entities", custom or "-"))
        rows.append(("server error", details["error"] or "-"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        echo(f"{key.ljust(width)}  {inert(value)}")


def _details(content: JobContent) -> dict[str, Any]:
    """The decrypted details of ``show --reveal`` with stable keys (None: not stored, or
    under an older key version the user holds no grant for)."""
    options = content.options
    return {
        "filename": content.filename,
        "options": None
        if options is None
        else {
            "entities": options.entities,
            "start_index": options.start_index,
            "custom_entities": [
                {"original": o, "placeholder": p} for o, p in options.custom_entities
            ],
        },
        "error": content.error,
    }


# --------------------------------------------------------------------------- export


def default_export_name(job_id: str, file_type: str) -> Path:
    """``{job_id}.{extension}`` in the working directory, only for an id of the job-id rule
    (no '/', no '..', no control character): a name that could leave the directory is
    refused, never written."""
    name = f"{job_id}.{EXTENSIONS.get(file_type, 'bin')}"
    if not is_job_id(job_id) or Path(name).name != name:
        raise InputError("the job's id cannot be a file name: give the output with -o")
    return Path(name)


@cli.command("export")
@click.argument("job_id", shell_complete=complete_job_ids)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Write here ('-' for stdout); default: JOB_ID.EXT in the current directory. An "
    "existing file only with --force (keeping its mode), never the vault itself.",
)
@click.option("--raw/--no-raw", default=False, help=RAW_HELP)
@force_option
@pass_app
def export_command(
    ctx: AppContext, job_id: str, output: Path | None, raw: bool, force: bool
) -> None:
    """Write a job's archived anonymized file exactly as the server sent it.

    Needs the passphrase of a user holding a grant for the job. The export is logged (and
    the log entry committed) before the file appears; the file is written atomically, mode
    0600.

    \b
    Example:
      questa-vault export 550e8400-e29b-41d4-a716-446655440000 -o contract.anon.pdf
    """
    check_job_id(job_id)
    with open_vault(ctx) as vault:
        job_id = resolve_job(vault, job_id)
        info = vault.job(job_id)
        if info is None:
            raise unknown_job(job_id)
        if info.status == "erased":
            raise UnknownJob(erased_message(vault, job_id))
        if info.status != "archived":
            raise InputError(f"job {job_id} is {info.status}: only archived jobs have a file")
        to_stdout = output is not None and str(output) == "-"
        target = output or default_export_name(job_id, info.file_type)
        check_output(ctx, target, force=force)  # before the passphrase is asked
        stdout = terminal_safe(sys.stdout.buffer, raw=raw)
        destination: Path | BinaryIO = stdout if to_stdout else target
        written = unlock(ctx, vault).export_to(job_id, destination, replace=force)
    if to_stdout:
        return
    ctx.say(f"exported job {job_id} to {target} ({written} bytes)")
