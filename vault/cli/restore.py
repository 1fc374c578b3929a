"""``restore``: put the originals back into a file, standard input, or a job's archived file.

The order is the one every plaintext release follows: unlock, open the maps (seal checked),
restore into a temporary file, commit the access-log entry, and only then move the output into
place (or copy it to standard output). Any failure before the log entry leaves no output.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click

from vault.cli._app import (
    AppContext,
    check_output,
    cli,
    erased_message,
    force_option,
    is_dash,
    json_option,
    pass_app,
)
from vault.cli._common import open_vault, unlock
from vault.cli._jobref import complete_job_ids, resolve_job, resolve_jobs, unknown_job
from vault.cli._terminal import RAW_HELP, inert_json, terminal_safe
from vault.client import check_job_id
from vault.errors import Incomplete, InputError, UnknownJob, UnsupportedFormat
from vault.restore import (
    FORMATS,
    UNSUPPORTED,
    AtomicOutput,
    RestoreOptions,
    RestoreReport,
    plural,
)

if TYPE_CHECKING:
    from vault.api import Vault

_BAR_FROM = 32 * 1024 * 1024  # inputs from this size show a progress bar on a terminal

# Archived file types restore can work inside, and the format each one is.
_JOB_FORMATS = {"csv": "csv", "text": "text", "docx": "docx", "excel": "xlsx", "pdf": "pdf"}
_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")


def _char(value: str | None, what: str) -> str | None:
    """A one-character option; ``\\t`` and ``tab`` spell TAB."""
    if value is None:
        return None
    value = "\t" if value in ("\\t", "tab", "TAB") else value
    if len(value) != 1:
        raise click.BadParameter(f"{what} must be one character", param_hint=f"--{what}")
    return value


def _size(stream: BinaryIO | None) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_size if stream is not None else None
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


def _is_pipe(stream: BinaryIO) -> bool:
    """Whether a stream is a pipe or socket (another program writing as it goes)."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _check_jobs(vault: Vault, job_ids: list[str], statuses: dict[str, str | None]) -> None:
    for job_id in job_ids:
        status = statuses[job_id] if job_id in statuses else vault.job_status(job_id)
        if status is None:
            raise unknown_job(job_id)
        if status == "erased":
            raise UnknownJob(erased_message(vault, job_id))
        if status != "archived":
            raise InputError(f"job {job_id} is {status}: nothing was archived for it")


@contextlib.contextmanager
def _input_stream(path: Path | None) -> Iterator[BinaryIO | None]:
    """The input opened for reading (``-``: standard input; None: the job's own file)."""
    if path is None:
        yield None
    elif str(path) == "-":
        yield sys.stdin.buffer
    else:
        try:
            stream = path.open("rb")
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from exc
        with stream:
            yield stream


@contextlib.contextmanager
def _progress(ctx: AppContext, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal for large inputs; nothing otherwise."""
    if total is None or total < _BAR_FROM or ctx.quiet or not sys.stderr.isatty():
        yield None
        return
    # rich loads only here: a restore without a bar does not pay for it (cold start).
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    bar = Progress(
        TextColumn("restoring"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task("restore", total=total)
        yield lambda done: bar.update(task, completed=done)


def _write_report(path: Path, report: RestoreReport, *, force: bool) -> None:
    """The report, written as every output is: a 0600 temporary file renamed into place, so a
    symlink at ``path`` is replaced, never followed; an existing file only with --force."""
    data = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if is_dash(path):
        click.echo(inert_json(data), nl=False)
        return
    with AtomicOutput(path, replace=force) as out:
        try:
            out.file.write(data.encode("utf-8", "backslashreplace"))  # a lone surrogate
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from exc
        out.commit()


def _text_output(output: Path | None) -> str | None:
    """``text`` when the output file's name says it is text (a PDF is then restored to text)."""
    if output is not None and output.suffix.lower() in _TEXT_SUFFIXES:
        return "text"
    return None


def _data_on_stdin(ctx: AppContext) -> str | None:
    """What standard input holds when nothing else of this run reads it and no INPUT was
    named, as words for the refusal; None when it is no data. A user who typed `cat answer |
    restore -j JOB` means that answer, not the job's own file. A terminal, /dev/null, an empty
    file and a pipe already at its end are no data; a pipe still open may yet carry an answer
    (a model still writing), so it is named as such."""
    if is_dash(ctx.passphrase_file) or is_dash(ctx.key_file):
        return None
    try:
        fd = sys.stdin.fileno()
        info = os.fstat(fd)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None  # no real descriptor (an embedding program's stream)
    if stat.S_ISREG(info.st_mode):
        try:
            left = info.st_size - os.lseek(fd, 0, os.SEEK_CUR)
        except OSError:
            left = info.st_size
        return "holds data" if left > 0 else None
    if not (stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode)):
        return None
    import select

    readable, _, _ = select.select([fd], [], [], 0)
    if not readable:
        return "is a pipe that is still open"
    # Readable: data, or the end of the pipe. One byte tells; the command stops either way
    # when it is data, so nothing the user meant is restored wrongly.
    return "holds data" if os.read(fd, 1) else None


@cli.command("restore")
@click.argument(
    "input_path",
    metavar="[INPUT]",
    required=False,
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
)
@click.option(
    "-j",
    "--job",
    "jobs",
    multiple=True,
    required=True,
    metavar="JOB",
    shell_complete=complete_job_ids,
    help="Job whose map to use (repeat for several jobs).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Write here, atomically, mode 0600 (default or '-': standard output); an existing "
    "file only with --force (keeping its mode), never the input.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Input format; auto decides by extension, then by content.",
)
@click.option(
    "--lenient/--no-lenient",
    " /--strict",
    default=False,
    help="Also repair placeholders an LLM has mangled (--no-lenient, --strict: exact matches "
    "only, undoing a settings-file default).",
)
@click.option(
    "--prefer",
    metavar="JOB",
    shell_complete=complete_job_ids,
    help="On a placeholder collision between jobs, JOB wins.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Write the full report here as JSON (mode 0600; '-': stdout, with -o FILE).",
)
@click.option(
    "--allow-unresolved/--no-allow-unresolved",
    default=False,
    help="Exit 0 even when placeholders are left unresolved.",
)
@click.option("--raw/--no-raw", default=False, help=RAW_HELP)
@click.option(
    "--neutralize-formulas/--no-neutralize-formulas",
    default=False,
    help="CSV and XLSX: prefix restored cells starting with = + - @ TAB CR with '.",
)
@click.option(
    "--to",
    type=click.Choice(["text"]),
    help="PDF: write the restored text (implied by an -o FILE.txt or .md).",
)
@click.option("--delimiter", help="CSV delimiter (default: detected; '\\t' or 'tab' for TAB).")
@click.option("--quotechar", help='CSV quote character (default: ").')
@click.option("--encoding", help="Input encoding, kept for the output (default: UTF-8).")
@force_option
@json_option
@pass_app
def restore_command(
    ctx: AppContext,
    input_path: Path | None,
    jobs: tuple[str, ...],
    output: Path | None,
    fmt: str,
    lenient: bool,
    prefer: str | None,
    report_path: Path | None,
    allow_unresolved: bool,
    raw: bool,
    neutralize_formulas: bool,
    to: str | None,
    delimiter: str | None,
    quotechar: str | None,
    encoding: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Put the original values back into INPUT (a file, or - for standard input).

    Placeholders are matched exactly ([PERSON_NAME_1] never inside [PERSON_NAME_10]);
    --lenient also repairs case, missing brackets, spaces, Markdown escapes and full-width
    brackets. Text, Markdown, CSV/TSV (every byte outside restored fields kept), JSON, JSON
    Lines, DOCX and XLSX (in place, formatting kept), PDF (to text only: -o FILE.txt or --to
    text). Without INPUT, the job's own archived file is restored (data
    piped without '-' is refused, not ignored). A summary goes to stderr;
    exit 3 when placeholders are left unresolved (unless --allow-unresolved).

    \b
    Example:
      questa-vault restore answer.txt -j 550e8400-e29b-41d4-a716-446655440000 -o answer.restored.txt
      llm < prompt.txt | questa-vault restore - -j JOB_A -j JOB_B --lenient --report report.json
      questa-vault restore contract.docx -j JOB -o contract.restored.docx
      questa-vault restore scan.pdf -j JOB -o scan.restored.txt
    """
    job_ids = list(dict.fromkeys(check_job_id(j) for j in jobs))
    if prefer is not None:
        check_job_id(prefer)
    if input_path is None and len(job_ids) != 1:
        raise click.UsageError("without INPUT, give exactly one job (-j JOB): its file is restored")
    stdin_holds = _data_on_stdin(ctx) if input_path is None else None
    if stdin_holds is not None:
        raise click.UsageError(
            f"standard input {stdin_holds} but no INPUT was named: pass '-' to restore what it "
            "carries, or redirect stdin from /dev/null to restore the job's own archived file"
        )
    delimiter = _char(delimiter, "delimiter")
    quotechar = _char(quotechar, "quotechar")

    if is_dash(input_path):
        ctx.claim_stdin("INPUT")
    # -o /dev/null: only the report is wanted. The null device is written as a stream (the
    # bytes go nowhere; it is never renamed over), still after the log entry is committed.
    from vault.restore import is_null_device

    sink = output is not None and not is_dash(output) and is_null_device(output)
    check_output(
        ctx, None if sink else output, force=force, inputs=[input_path], outputs=[report_path]
    )
    check_output(ctx, report_path, force=force, inputs=[input_path])
    if as_json and is_dash(report_path):
        raise click.UsageError("--report - and --json both write to stdout: choose one")
    if as_json and (output is None or is_dash(output)):
        raise click.UsageError("--json needs -o FILE: stdout carries the restored text")
    if is_dash(report_path) and (output is None or is_dash(output)):
        raise click.UsageError("--report - needs -o FILE: stdout carries the restored text")
    with (
        _input_stream(input_path) as given,
        open_vault(ctx) as vault,
        open(os.devnull, "wb") if sink else contextlib.nullcontext() as null,
    ):
        statuses: dict[str, str | None] = {}
        job_ids = list(dict.fromkeys(resolve_jobs(vault, job_ids, statuses)))
        if prefer is not None:
            prefer = resolve_job(vault, prefer)
        _check_jobs(vault, job_ids, statuses)
        name = None if input_path is None or str(input_path) == "-" else input_path.name
        if given is None:
            info = vault.job(job_ids[0])
            job_format = _JOB_FORMATS.get(info.file_type) if info is not None else None
            if job_format is None:
                raise UnsupportedFormat(UNSUPPORTED)
            fmt = job_format if fmt == "auto" else fmt
        options = RestoreOptions(
            format=fmt,
            lenient=lenient,
            neutralize_formulas=neutralize_formulas,
            delimiter=delimiter,
            quotechar=quotechar,
            encoding=encoding,
            name=name,
            to=to or _text_output(output),
            links=given is not None,
        )
        to_stdout = output is None or str(output) == "-"
        stdout = terminal_safe(sys.stdout.buffer, raw=raw)
        target: Path | BinaryIO = stdout if to_stdout or output is None else output
        if null is not None:
            target = null
        total = None if input_path is None or given is sys.stdin.buffer else _size(given)
        unlocked = unlock(ctx, vault)
        if given is sys.stdin.buffer and to_stdout and _is_pipe(given):
            # A streamed answer: written as soon as it is safe, so it appears as it arrives.
            report = unlocked.restore_live(
                given, stdout, jobs=job_ids, options=options, prefer=prefer
            )
        else:
            with _progress(ctx, total) as progress:
                report = unlocked.restore_stream(
                    given,
                    target,
                    jobs=job_ids,
                    options=options,
                    prefer=prefer,
                    progress=progress,
                    replace=force,
                )

    if ctx.verbose:
        ctx.say(f"format: {report.format} ({report.format_reason})")
    if as_json:  # the summary as data: the report's keys, as --report writes them
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    for line in report.summary():
        ctx.say(line)
    if report_path is not None:
        _write_report(report_path, report, force=force)
    if report.unresolved_count and not allow_unresolved:
        raise Incomplete(
            f"{plural(report.unresolved_count, 'placeholder')} left unresolved "
            "(the output was written; --allow-unresolved accepts this)"
        )
