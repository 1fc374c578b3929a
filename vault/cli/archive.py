"""``submit``, ``fetch``, ``sync`` (archive before the one-hour retention runs out), and
``jobs``, ``show``, ``export`` (what the vault holds).

Only ``export`` needs a passphrase. Outcome lines go to stdout as each job finishes; the
summary, warnings and the progress bar go to stderr, the bar only when stderr is a terminal.
Any job that did not archive makes the exit code 3 (``Incomplete``), after the output.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vault.archive import (
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT,
    ExpiryWarning,
    RunOptions,
    SubmitOutcome,
    check_files,
    estimated_expiry,
    fetch,
    submit,
    sync,
)
from vault.cli._app import (
    AppContext,
    api_options,
    cli,
    emit_json,
    json_option,
    pass_app,
    read_token,
)
from vault.cli.users import acting_user, open_vault, unlock_session
from vault.client import QuestaClient, check_job_id
from vault.errors import Incomplete, InputError, UnknownJob
from vault.models import EXTENSIONS, JOB_STATUSES, FetchOutcome, JobInfo, SubmitOptions

F = TypeVar("F", bound=Callable[..., Any])

MAX_CUSTOM_ENTITIES = 50
MAX_CUSTOM_LENGTH = 200


# --------------------------------------------------------------------------- shared options


def run_options(func: F) -> F:
    """``--no-wait``, ``--timeout``, ``--concurrency``."""
    func = click.option(
        "--concurrency",
        type=click.IntRange(1, 256),
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        help="Requests in flight at once.",
    )(func)
    func = click.option(
        "--timeout",
        type=click.FloatRange(min=0),
        default=DEFAULT_TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help="Stop waiting after this long; unfinished jobs stay pending for sync.",
    )(func)
    func = click.option(
        "--no-wait", is_flag=True, help="Do not wait for jobs still processing (they stay pending)."
    )(func)
    return func


def _client(api_url: str, token_file: Path | None) -> QuestaClient:
    return QuestaClient(api_url, read_token(token_file))


class Reporter:
    """Outcome lines on stdout, a progress bar on a terminal's stderr, a summary at the end."""

    def __init__(self, ctx: AppContext, total: int, *, as_json: bool, label: str) -> None:
        self.ctx = ctx
        self.as_json = as_json
        self.counts: Counter[str] = Counter()
        self.total = total
        show_bar = total > 0 and not ctx.quiet and sys.stderr.isatty()
        self.progress: Progress | None = None
        if show_bar:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.task = self.progress.add_task(label, total=total)

    def __enter__(self) -> Reporter:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def line(self, outcome: str, text: str) -> None:
        self.counts[outcome] += 1
        if self.progress is not None:
            self.progress.advance(self.task)
        if self.as_json:
            return
        if self.progress is not None and sys.stdout.isatty():
            self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(text)

    def fetched(self, outcome: FetchOutcome) -> None:
        self.line(outcome.outcome, _outcome_line(outcome.outcome, outcome.job_id, outcome.detail))

    def submitted(self, outcome: SubmitOutcome) -> None:
        text = _outcome_line(
            outcome.outcome, outcome.job_id or "-", f"{outcome.file}: {outcome.detail}"
        )
        self.line(outcome.outcome, text)

    def summary(self, noun: str = "job") -> str:
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))
        total = sum(self.counts.values())
        return f"{total} {noun}{'' if total == 1 else 's'}: {parts}" if total else f"no {noun}s"


def _outcome_line(outcome: str, job_id: str, detail: str) -> str:
    return f"{outcome:<16} {job_id}  {detail}".rstrip()


def _counts(kinds: Sequence[str]) -> dict[str, int]:
    return dict(sorted(Counter(kinds).items()))


def _finish(ok: Sequence[bool], what: str) -> None:
    failed = sum(1 for x in ok if not x)
    if failed:
        noun = "job" if len(ok) == 1 else "jobs"
        raise Incomplete(f"{failed} of {len(ok)} {noun} did not {what}")


def _fetch_json(o: FetchOutcome) -> dict[str, Any]:
    return {"job_id": o.job_id, "outcome": o.outcome, "ok": o.ok, "detail": o.detail}


# --------------------------------------------------------------------------- submit


def parse_custom_entities(value: str | None) -> tuple[tuple[str, str], ...]:
    """``--custom-entities``: JSON text, or ``@FILE`` holding it. Either the API's list of
    ``{"original": ..., "placeholder": ...}`` or an object ``{original: placeholder}``."""
    if value is None:
        return ()
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read --custom-entities file {value[1:]}") from exc
    else:
        text = value
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError("--custom-entities is not valid JSON") from exc
    if isinstance(data, dict):
        items = [{"original": k, "placeholder": v} for k, v in data.items()]
    elif isinstance(data, list):
        items = data
    else:
        raise InputError("--custom-entities must be a JSON list or object")
    if len(items) > MAX_CUSTOM_ENTITIES:
        raise InputError(f"--custom-entities: at most {MAX_CUSTOM_ENTITIES} entries")
    pairs: list[tuple[str, str]] = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict) or set(item) != {"original", "placeholder"}:
            raise InputError(
                f"--custom-entities entry {n}: needs exactly 'original' and 'placeholder'"
            )
        original, label = item["original"], item["placeholder"]
        for name, text_value in (("original", original), ("placeholder", label)):
            if not isinstance(text_value, str) or not text_value.strip():
                raise InputError(f"--custom-entities entry {n}: '{name}' must be non-empty text")
            if len(text_value) > MAX_CUSTOM_LENGTH:
                raise InputError(
                    f"--custom-entities entry {n}: '{name}' is longer than "
                    f"{MAX_CUSTOM_LENGTH} characters"
                )
        pairs.append((original, label))
    return tuple(pairs)


@cli.command("submit")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--type",
    "file_type",
    type=click.Choice(["pdf", "docx", "csv", "excel", "xlsx", "text"]),
    help="Send every FILE as this type instead of guessing from its extension.",
)
@click.option("--entities", metavar="TYPES", help="Comma-separated entity types (default: all).")
@click.option(
    "--start-index",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Placeholder numbers start after this.",
)
@click.option(
    "--custom-entities",
    "custom",
    metavar="JSON|@FILE",
    help='Extra phrases: [{"original": "Phoenix", "placeholder": "PROJECT"}] or @file.json.',
)
@run_options
@api_options
@json_option
@pass_app
def submit_command(
    ctx: AppContext,
    files: tuple[Path, ...],
    file_type: str | None,
    entities: str | None,
    start_index: int,
    custom: str | None,
    no_wait: bool,
    timeout: float,
    concurrency: int,
    api_url: str,
    token_file: Path | None,
    as_json: bool,
) -> None:
    """Send files to the service, record each job as pending at once, then archive it.

    csv, pdf, docx and xlsx are uploaded as jobs; .txt and .md go through the text endpoint
    and are archived at once under a local id (text-...). Every file is checked before
    anything is sent. With --no-wait the jobs stay pending for fetch or sync.

    \b
    Example:
      questa-vault submit customers.csv contract.pdf --entities PERSON_NAME,EMAIL_ADDRESS
      questa-vault submit notes.md --custom-entities '{"Phoenix": "PROJECT"}'
    """
    options = SubmitOptions(
        entities=entities.strip() if entities and entities.strip() else None,
        start_index=start_index,
        custom_entities=parse_custom_entities(custom),
    )
    checked = check_files(list(files), file_type)
    client = _client(api_url, token_file)
    with open_vault(ctx) as keyring, client:
        run = RunOptions(
            actor=acting_user(ctx, keyring),
            wait=not no_wait,
            timeout=timeout,
            concurrency=concurrency,
        )
        with Reporter(ctx, len(checked), as_json=as_json, label="submitting") as report:
            outcomes = submit(client, keyring, checked, run, options, on_outcome=report.submitted)
    if as_json:
        emit_json(
            {
                "jobs": [
                    {"file": o.file, "job_id": o.job_id, "outcome": o.outcome, "ok": o.ok,
                     "detail": o.detail}
                    for o in outcomes
                ],
                "counts": _counts([o.outcome for o in outcomes]),
                "ok": all(o.ok for o in outcomes),
            }
        )  # fmt: skip
    ctx.say(report.summary("file"))
    _finish([o.ok for o in outcomes], "archive" if not no_wait else "reach the service")


# --------------------------------------------------------------------------- fetch


@cli.command("fetch")
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB_ID...")
@run_options
@api_options
@json_option
@pass_app
def fetch_command(
    ctx: AppContext,
    job_ids: tuple[str, ...],
    no_wait: bool,
    timeout: float,
    concurrency: int,
    api_url: str,
    token_file: Path | None,
    as_json: bool,
) -> None:
    """Poll jobs until they finish and archive each one (file and map) in the vault.

    Completed jobs are archived; failed ones are recorded with the server's error (kept
    encrypted); jobs the service no longer knows are reported (results are kept 1 hour).
    Fetching an archived job again does nothing. No passphrase is needed.

    \b
    Example:
      questa-vault fetch 550e8400-e29b-41d4-a716-446655440000 --timeout 300
    """
    for job_id in job_ids:
        check_job_id(job_id)
    client = _client(api_url, token_file)
    with open_vault(ctx) as keyring, client:
        run = RunOptions(
            actor=acting_user(ctx, keyring),
            wait=not no_wait,
            timeout=timeout,
            concurrency=concurrency,
        )
        distinct = len(set(job_ids))
        with Reporter(ctx, distinct, as_json=as_json, label="fetching") as report:
            outcomes = fetch(client, keyring, job_ids, run, on_outcome=report.fetched)
    if as_json:
        emit_json(
            {
                "jobs": [_fetch_json(o) for o in outcomes],
                "counts": _counts([o.outcome for o in outcomes]),
                "ok": all(o.ok for o in outcomes),
            }
        )
    ctx.say(report.summary())
    _finish([o.ok for o in outcomes], "archive")


# --------------------------------------------------------------------------- sync


def _minutes(seconds: float) -> str:
    return f"{max(1, round(abs(seconds) / 60))} min"


def _warn(warning: ExpiryWarning) -> None:
    if warning.seconds_left > 0:
        text = (
            f"warning: job {warning.job_id} is still pending and may expire in about "
            f"{_minutes(warning.seconds_left)} (estimated from its submit time); sync again soon"
        )
    else:
        text = (
            f"warning: job {warning.job_id} is still pending {_minutes(warning.seconds_left)} "
            "past its estimated expiry; it may already be lost"
        )
    click.echo(text, err=True)


@cli.command("sync")
@run_options
@api_options
@json_option
@pass_app
def sync_command(
    ctx: AppContext,
    no_wait: bool,
    timeout: float,
    concurrency: int,
    api_url: str,
    token_file: Path | None,
    as_json: bool,
) -> None:
    """Fetch every pending job; mark the ones the service forgot as expired.

    Warns about jobs still pending within 10 minutes of their estimated expiry (one hour
    after submission: the earliest the service may forget them). Safe to run from cron,
    also while another sync runs. No passphrase is needed.

    \b
    Example:
      */10 * * * *  questa-vault -q sync --timeout 300
    """
    client = _client(api_url, token_file)
    with open_vault(ctx) as keyring, client:
        run = RunOptions(
            actor=acting_user(ctx, keyring),
            wait=not no_wait,
            timeout=timeout,
            concurrency=concurrency,
        )
        total = len(keyring.pending_jobs())
        with Reporter(ctx, total, as_json=as_json, label="syncing") as report:
            result = sync(client, keyring, run, on_outcome=report.fetched)
    if as_json:
        emit_json(
            {
                "jobs": [_fetch_json(o) for o in result.outcomes],
                "counts": _counts([o.outcome for o in result.outcomes]),
                "warnings": [
                    {"job_id": w.job_id, "expires_at": w.expires_at,
                     "seconds_left": round(w.seconds_left, 1)}
                    for w in result.warnings
                ],
                "ok": result.ok,
            }
        )  # fmt: skip
    for warning in result.warnings:
        _warn(warning)
    ctx.say(report.summary() if result.outcomes else "nothing pending")
    _finish([o.ok for o in result.outcomes], "archive")


# --------------------------------------------------------------------------- jobs, show


def _time(value: float | None) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def job_json(info: JobInfo) -> dict[str, Any]:
    """A job's metadata with stable keys (the ``JobInfo`` fields, plus the expiry estimate)."""
    data = asdict(info)
    data["entity_counts"] = dict(info.entity_counts)
    data["recipients"] = list(info.recipients)
    data["estimated_expiry"] = estimated_expiry(info) if info.status == "pending" else None
    return data


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


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
    with open_vault(ctx) as keyring:
        infos = keyring.list_jobs(status=status)
    if as_json:
        emit_json([job_json(i) for i in infos])
        return
    if not infos:
        ctx.say("no jobs" if status is None else f"no {status} jobs")
        return
    rows: list[tuple[str, ...]] = [
        ("JOB", "STATUS", "TYPE", "ENTITIES", "MAP", "BYTES", "SUBMITTED", "ARCHIVED")
    ]
    for i in infos:
        rows.append(
            (
                i.job_id,
                i.status,
                i.file_type or "-",
                str(i.entity_count),
                str(i.map_size),
                str(i.file_size),
                _time(i.submitted_at),
                _time(i.archived_at),
            )
        )
    _table(rows)


@cli.command("show")
@click.argument("job_id")
@json_option
@pass_app
def show_command(ctx: AppContext, job_id: str, as_json: bool) -> None:
    """Describe one job: status, type, times, counts per entity type, who holds a grant.

    Metadata only; no passphrase and no original value.

    \b
    Example:
      questa-vault show 550e8400-e29b-41d4-a716-446655440000 --json
    """
    with open_vault(ctx) as keyring:
        info = keyring.get_job(job_id)
    if info is None:
        raise UnknownJob(f"job {job_id} is not in this vault")
    if as_json:
        emit_json(job_json(info))
        return
    expiry = estimated_expiry(info) if info.status == "pending" else None
    counts = ", ".join(f"{k} {v}" for k, v in sorted(info.entity_counts.items())) or "-"
    rows = [
        ("job", info.job_id),
        ("status", info.status),
        ("type", info.file_type or "-"),
        ("source", info.source),
        ("created", _time(info.created_at)),
        ("submitted", _time(info.submitted_at)),
        ("fetched", _time(info.fetched_at)),
        ("archived", _time(info.archived_at)),
        (
            "expires (estimate)" if expiry is not None else "expires",
            _time(expiry or info.expires_at),
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
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key.ljust(width)}  {value}")


# --------------------------------------------------------------------------- export


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[tuple[int, Path]]:
    """A 0600 temporary file in the target's directory, removed unless renamed into place."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(name)
    try:
        os.fchmod(fd, 0o600)
        yield fd, tmp
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def _sync_directory(directory: Path) -> None:
    """Make the rename durable (where the platform allows opening a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@cli.command("export")
@click.argument("job_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Write here ('-' for stdout); default: JOB_ID.EXT in the current directory.",
)
@pass_app
def export_command(ctx: AppContext, job_id: str, output: Path | None) -> None:
    """Write a job's archived anonymized file exactly as the server sent it.

    Needs the passphrase of a user holding a grant for the job. The export is logged (and
    the log entry committed) before the file appears; the file is written atomically, mode
    0600.

    \b
    Example:
      questa-vault export 550e8400-e29b-41d4-a716-446655440000 -o contract.anon.pdf
    """
    check_job_id(job_id)
    with open_vault(ctx) as keyring:
        info = keyring.get_job(job_id)
        if info is None or info.status == "erased":
            raise UnknownJob(f"job {job_id} is not in this vault")
        if info.status != "archived":
            raise InputError(f"job {job_id} is {info.status}: only archived jobs have a file")
        session = unlock_session(ctx, keyring)
        data = session.open_file(job_id)
        counts = {"file_bytes": len(data)}
        if output is not None and str(output) == "-":
            session.release("export", [job_id], counts)
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        target = output or Path(f"{job_id}.{EXTENSIONS.get(info.file_type, 'bin')}")
        if target.is_dir():
            raise InputError(f"{target} is a directory")
        try:
            with _temporary_beside(target) as (fd, tmp):
                _write_all(fd, data)
                session.release("export", [job_id], counts)
                os.replace(tmp, target)
            _sync_directory(target.parent)
        except OSError as exc:
            raise InputError(
                f"cannot write {target}: {exc.strerror or type(exc).__name__}"
            ) from exc
    ctx.say(f"exported job {job_id} to {target} ({len(data)} bytes)")
