"""``submit``, ``fetch``, ``sync``: archive before the one-hour retention runs out (the
network commands; ``jobs``, ``show`` and ``export`` are in ``jobs.py``).

No passphrase is needed. Outcome lines go to stdout as each job finishes; the
summary, warnings and the progress bar go to stderr, the bar only when stderr is a terminal.
Any job that did not archive makes the exit code 3 (``Incomplete``), after the output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from vault.archive import (
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT,
    RunOptions,
    SubmitFile,
    check_files,
    custom_entities,
    fetch,
    submit,
    sync,
)
from vault.cli._app import (
    AppContext,
    api_options,
    cli,
    emit_json,
    is_dash,
    json_option,
    pass_app,
    read_token,
    require_api_url,
)
from vault.cli._common import acting_user, open_vault
from vault.cli._jobref import complete_job_ids, resolve_jobs
from vault.cli._outcomes import (
    Reporter,
    counts_of,
    fetch_json,
    finish,
    warn,
)
from vault.cli._terminal import reason
from vault.client import DEFAULT_MAX_RESPONSE, QuestaClient, check_job_id
from vault.client import DEFAULT_TIMEOUT as REQUEST_TIMEOUT
from vault.errors import InputError, Interrupted, VaultError
from vault.models import SubmitOptions

if TYPE_CHECKING:
    from vault.api import Vault

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------- shared options


def run_options(func: F) -> F:
    """``--no-wait``, ``--timeout``, ``--concurrency``, ``--request-timeout``,
    ``--max-response``."""
    func = click.option(
        "--max-response",
        type=click.IntRange(1, 64 * 1024),
        default=DEFAULT_MAX_RESPONSE // (1024 * 1024),
        show_default=True,
        metavar="MIB",
        help="Refuse an answer larger than this many MiB (a job's result is sent in base64).",
    )(func)
    func = click.option(
        "--request-timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=REQUEST_TIMEOUT,
        show_default=True,
        metavar="SECONDS",
        help="Abandon one request (and retry it) when it has no complete answer after this long.",
    )(func)
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
        help="Stop waiting after this long (0: ask once); unfinished jobs stay pending for sync.",
    )(func)
    func = click.option(
        "--no-wait/--wait",
        default=False,
        help="Do not wait for jobs still processing (they stay pending).",
    )(func)
    return func


def server_options(func: F) -> F:
    """``--here`` and ``--expire-missing`` for fetch and sync (which server decides expiry)."""
    func = click.option(
        "--expire-missing/--no-expire-missing",
        default=False,
        help="Mark pending jobs the server does not know as expired at once, even within the "
        "retention period or at a server they were not submitted to.",
    )(func)
    func = click.option(
        "--here/--no-here",
        default=False,
        help="Poll every job at --api-url instead of the server each job was submitted to.",
    )(func)
    return func


def _client(
    ctx: AppContext,
    api_url: str | None,
    token_file: Path | None,
    request_timeout: float,
    max_response_mib: int,
) -> QuestaClient:
    url = require_api_url(api_url)
    return QuestaClient(
        url,
        read_token(ctx, token_file, url),
        timeout=request_timeout,
        max_response=max_response_mib * 1024 * 1024,
    )


# --------------------------------------------------------------------------- Ctrl-C

SHOWN_PENDING = 10  # job ids named in the one-line message; the rest are counted


def _pending_ids(vault: Vault) -> list[str]:
    return [info.job_id for info in vault.jobs(status="pending")]


@contextmanager
def pending_on_interrupt(vault: Vault, which: Callable[[list[str]], list[str]]) -> Iterator[None]:
    """Turn Ctrl-C during a run into ``Interrupted`` (exit 130) naming the jobs of this run
    that stay pending: ``which`` picks them from every job pending in the vault afterwards.

    Jobs are recorded pending the moment the server accepts them, so whatever was accepted
    before the interrupt is in the vault and ``sync`` archives it later."""
    try:
        yield
    except KeyboardInterrupt:
        try:
            left = which(_pending_ids(vault))
        except VaultError:  # the vault cannot say: the plain message, still exit 130
            raise Interrupted(
                "interrupted; `questa-vault sync` archives the jobs left pending"
            ) from None
        raise Interrupted(interrupted_message(left)) from None


def interrupted_message(left: list[str]) -> str:
    if not left:
        return "interrupted; no job of this run is left pending"
    shown = ", ".join(left[:SHOWN_PENDING])
    more = f" and {len(left) - SHOWN_PENDING} more" if len(left) > SHOWN_PENDING else ""
    noun = "job stays" if len(left) == 1 else "jobs stay"
    return (
        f"interrupted; {len(left)} {noun} pending: {shown}{more}; "
        "`questa-vault sync` archives them later"
    )


# --------------------------------------------------------------------------- submit

STDIN_CHUNK = 1024 * 1024


def check_stdin_name(name: str | None, files: tuple[Path, ...]) -> str | None:
    """``--name`` for ``submit -``: required with ``-``, refused without it, a plain file name
    (its extension chooses the type unless --type says otherwise). ``-`` at most once."""
    dashes = sum(1 for f in files if is_dash(f))
    if dashes > 1:
        raise click.UsageError("'-' (stdin) can be given once")
    if dashes and name is None:
        raise click.UsageError("submit - needs --name NAME (e.g. --name notes.txt)")
    if name is not None and not dashes:
        raise click.UsageError("--name names standard input: give it with '-'")
    if name is not None and (
        name in ("", ".", "..")
        or any(c in name for c in "/\\\0")
        or name != name.strip()
        or len(name.encode("utf-8", "surrogatepass")) > 255
        or not name.isprintable()
    ):
        raise click.BadParameter("a plain file name, such as notes.txt", param_hint="--name")
    return name


@contextmanager
def spooled_stdin(ctx: AppContext, name: str) -> Iterator[Path]:
    """Standard input copied to a private file called ``name`` (in a fresh 0700 directory,
    mode 0600), removed afterwards: an upload is streamed and retried from a file."""
    if sys.stdin.isatty():
        raise InputError("submit - reads standard input, which is a terminal: pipe a file in")
    ctx.claim_stdin("submit -")
    folder = Path(tempfile.mkdtemp(prefix="questa-vault-stdin-"))
    path = folder / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := sys.stdin.buffer.read(STDIN_CHUNK):
                out.write(chunk)
        yield path
    except OSError as exc:
        raise InputError(f"cannot read standard input: {type(exc).__name__}") from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def parse_custom_entities(ctx: AppContext, value: str | None) -> tuple[tuple[str, str], ...]:
    """``--custom-entities``: JSON text, or ``@FILE`` holding it, ``@-`` standard input
    (see ``custom_entities``)."""
    if value is None:
        return ()
    text = value
    if value == "@-":
        ctx.claim_stdin("--custom-entities @-")
        if sys.stdin.isatty():
            raise InputError("--custom-entities @-: standard input is a terminal; pipe it in")
        try:
            text = sys.stdin.buffer.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read --custom-entities from stdin: {reason(exc)}") from exc
    elif value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(
                f"cannot read --custom-entities file {value[1:]}: {reason(exc)}"
            ) from exc
    return custom_entities(text, name="--custom-entities")


@cli.command("submit")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, allow_dash=True))
@click.option(
    "--name",
    "stdin_name",
    metavar="NAME",
    help="With '-': the name of the file read from stdin (its extension gives the type).",
)
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
    help='Extra phrases: [{"original": "Phoenix", "placeholder": "PROJECT"}], or @file.json, '
    "or @- for stdin.",
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
    stdin_name: str | None,
    no_wait: bool,
    timeout: float,
    concurrency: int,
    request_timeout: float,
    max_response: int,
    api_url: str | None,
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
      pdftotext contract.pdf - | questa-vault submit - --name contract.txt
    """
    require_api_url(api_url)  # before any file is read
    name = check_stdin_name(stdin_name, files)
    if name is not None:
        ctx.claim_stdin("submit -")  # before --custom-entities @- could read it
    options = SubmitOptions(
        entities=entities.strip() if entities and entities.strip() else None,
        start_index=start_index,
        custom_entities=parse_custom_entities(ctx, custom),
    )
    with contextlib.ExitStack() as stack:
        labels: dict[Path, str] = {}
        paths = list(files)
        if name is not None:
            spooled = stack.enter_context(spooled_stdin(ctx, name))
            paths = [spooled if is_dash(f) else f for f in paths]
            labels[spooled] = f"- ({name})"
        checked = check_files(paths, file_type, labels)
        _submit_checked(ctx, checked, options, no_wait, timeout, concurrency, request_timeout,
                        max_response, api_url, token_file, as_json)  # fmt: skip


def _submit_checked(
    ctx: AppContext,
    checked: list[SubmitFile],
    options: SubmitOptions,
    no_wait: bool,
    timeout: float,
    concurrency: int,
    request_timeout: float,
    max_response: int,
    api_url: str | None,
    token_file: Path | None,
    as_json: bool,
) -> None:
    client = _client(ctx, api_url, token_file, request_timeout, max_response)
    with open_vault(ctx) as vault, client:
        vault.custodian.check_may_archive()  # before anything is read, sent or polled
        run = RunOptions(
            actor=acting_user(ctx, vault),
            wait=not no_wait,
            timeout=timeout,
            concurrency=concurrency,
        )
        before = set(_pending_ids(vault))
        new_only = pending_on_interrupt(vault, lambda now: [j for j in now if j not in before])
        with new_only, Reporter(ctx, len(checked), as_json=as_json, label="submitting") as report:
            outcomes = submit(
                client,
                vault.custodian,
                checked,
                run,
                options,
                on_outcome=report.submitted,
                on_upload=report.uploaded,
            )
    if as_json:
        emit_json(
            {
                "jobs": [
                    {"file": o.file, "job_id": o.job_id, "outcome": o.outcome, "ok": o.ok,
                     "detail": o.detail}
                    for o in outcomes
                ],
                "counts": counts_of([o.outcome for o in outcomes]),
                "ok": all(o.ok for o in outcomes),
            }
        )  # fmt: skip
    ctx.say(report.summary("file"))
    finish([o.ok for o in outcomes], "archive" if not no_wait else "reach the service")


# --------------------------------------------------------------------------- fetch


@cli.command("fetch")
@click.argument(
    "job_ids", nargs=-1, required=True, metavar="JOB_ID...", shell_complete=complete_job_ids
)
@run_options
@server_options
@api_options
@json_option
@pass_app
def fetch_command(
    ctx: AppContext,
    job_ids: tuple[str, ...],
    no_wait: bool,
    timeout: float,
    concurrency: int,
    request_timeout: float,
    max_response: int,
    here: bool,
    expire_missing: bool,
    api_url: str | None,
    token_file: Path | None,
    as_json: bool,
) -> None:
    """Poll jobs until they finish and archive each one (file and map) in the vault.

    Completed jobs are archived; failed ones are recorded with the server's error (kept
    encrypted); jobs the service no longer knows are reported (results are kept 1 hour).
    Fetching an archived job again does nothing. No passphrase is needed.

    Each job the vault knows is polled at the server it was submitted to (--here: at
    --api-url). A pending job is marked expired only when its own server does not know it
    and an hour has passed since it was submitted (or with --expire-missing); otherwise it
    is reported not-found and stays pending (exit 3). A job marked expired can still be
    fetched by id.

    \b
    Example:
      questa-vault fetch 550e8400-e29b-41d4-a716-446655440000 --timeout 300
    """
    require_api_url(api_url)
    client = _client(ctx, api_url, token_file, request_timeout, max_response)
    with open_vault(ctx) as vault, client:
        if job_ids:
            vault.custodian.check_may_archive()  # before anything is read, sent or polled
        # A short id (as audit prints it) names the vault's job, as in every other command.
        job_ids = tuple(resolve_jobs(vault, job_ids))
        for job_id in job_ids:
            check_job_id(job_id)
        run = RunOptions(
            actor=acting_user(ctx, vault),
            wait=not no_wait,
            timeout=timeout,
            concurrency=concurrency,
            here=here,
            expire_missing=expire_missing,
        )
        distinct = len(set(job_ids))
        asked = list(dict.fromkeys(job_ids))
        named = pending_on_interrupt(vault, lambda now: [j for j in asked if j in set(now)])
        with named, Reporter(ctx, distinct, as_json=as_json, label="fetching") as report:
            outcomes = fetch(client, vault.custodian, job_ids, run, on_outcome=report.fetched)
    if as_json:
        emit_json(
            {
                "jobs": [fetch_json(o) for o in outcomes],
                "counts": counts_of([o.outcome for o in outcomes]),
                "ok": all(o.ok for o in outcomes),
            }
        )
    ctx.say(report.summary())
    finish([o.ok for o in outcomes], "archive")


# --------------------------------------------------------------------------- sync


@cli.command("sync")
@run_options
@server_options
@api_options
@json_option
@pass_app
def sync_command(
    ctx: AppContext,
    no_wait: bool,
    timeout: float,
    concurrency: int,
    request_timeout: float,
    max_response: int,
    here: bool,
    expire_missing: bool,
    api_url: str | None,
    token_file: Path | None,
    as_json: bool,
) -> None:
    """Fetch every pending job, each at its own server; mark the ones it forgot as expired.

    A job is marked expired only when the server it was submitted to does not know it and
    the one-hour retention since its submission has passed (or with --expire-missing);
    otherwise it is reported not-found, stays pending, and the exit code is 3.

    Warns about jobs still pending within 10 minutes of their estimated expiry (one hour
    after submission: the earliest the service may forget them). Safe to run from cron,
    also while another sync runs. No passphrase is needed.

    \b
    Example:
      */10 * * * *  questa-vault -q sync --timeout 300
    """
    client = _client(ctx, api_url, token_file, request_timeout, max_response)
    with open_vault(ctx) as vault, client:
        vault.custodian.check_may_archive()  # even when nothing is pending
        run = RunOptions(
            actor=acting_user(ctx, vault),
            wait=not no_wait,
            timeout=timeout,
            concurrency=concurrency,
            here=here,
            expire_missing=expire_missing,
        )
        total = len(vault.jobs(status="pending"))
        every = pending_on_interrupt(vault, lambda now: now)
        with every, Reporter(ctx, total, as_json=as_json, label="syncing") as report:
            result = sync(client, vault.custodian, run, on_outcome=report.fetched)
    if as_json:
        emit_json(
            {
                "jobs": [fetch_json(o) for o in result.outcomes],
                "counts": counts_of([o.outcome for o in result.outcomes]),
                "warnings": [
                    {"job_id": w.job_id, "expires_at": w.expires_at,
                     "seconds_left": round(w.seconds_left, 1)}
                    for w in result.warnings
                ],
                "ok": result.ok,
            }
        )  # fmt: skip
    for warning in result.warnings:
        warn(warning)
    ctx.say(report.summary() if result.outcomes else "nothing pending")
    finish([o.ok for o in result.outcomes], "archive")
