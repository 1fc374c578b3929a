"""``submit``: check the inputs, send them, record each job pending at once, then archive."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from vault._dataclass import dataclass
from vault.archive._run import (
    ArchiveTarget,
    JobRun,
    RunOptions,
    describe,
    may_archive,
    run_all,
)
from vault.archive._writer import Writer
from vault.client import QuestaClient, is_placeholder_label
from vault.errors import ApiAuthError, ApiError, InputError, VaultError
from vault.models import FetchOutcomeKind, JobContent, SubmitOptions, TextResult

# Extension -> how the file is sent: a server upload type, or "text" for the text endpoint.
SUBMIT_TYPES: dict[str, str] = {
    ".csv": "csv",
    ".pdf": "pdf",
    ".docx": "docx",
    ".xlsx": "excel",
    ".txt": "text",
    ".md": "text",
}
MAX_CUSTOM_ENTITIES = 50  # the service's documented limits
MAX_CUSTOM_LENGTH = 200
TYPE_NAMES: dict[str, str] = {"pdf": "pdf", "docx": "docx", "csv": "csv", "excel": "excel",
                              "xlsx": "excel", "text": "text"}  # fmt: skip


@dataclass(frozen=True)
class SubmitFile:
    """A checked input of ``submit``: how it is sent and what it is called."""

    path: Path
    file_type: str  # "pdf", "docx", "csv", "excel", or "text" (the text endpoint)
    size: int
    label: str = ""  # shown in outcomes instead of the path (``submit -``: the --name)


@dataclass(frozen=True)
class SubmitOutcome:
    """What happened to one submitted file; ``job_id`` is None when the server refused it."""

    file: str
    job_id: str | None
    outcome: FetchOutcomeKind
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in ("archived", "already-archived", "pending")


def custom_entities(text: str, *, name: str = "custom entities") -> tuple[tuple[str, str], ...]:
    """Custom entities from JSON: the API's list ``[{"original": ..., "placeholder": ...}]``
    or an object ``{original: placeholder}``; the service's limits are checked here. Errors
    name the entry, never its text."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{name} is not valid JSON") from exc
    if isinstance(data, dict):
        items = [{"original": k, "placeholder": v} for k, v in data.items()]
    elif isinstance(data, list):
        items = data
    else:
        raise InputError(f"{name} must be a JSON list or object")
    if len(items) > MAX_CUSTOM_ENTITIES:
        raise InputError(f"{name}: at most {MAX_CUSTOM_ENTITIES} entries")
    pairs: list[tuple[str, str]] = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict) or set(item) != {"original", "placeholder"}:
            raise InputError(f"{name} entry {n}: needs exactly 'original' and 'placeholder'")
        for key in ("original", "placeholder"):
            value = item[key]
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"{name} entry {n}: '{key}' must be non-empty text")
            if len(value) > MAX_CUSTOM_LENGTH:
                raise InputError(
                    f"{name} entry {n}: '{key}' is longer than {MAX_CUSTOM_LENGTH} characters"
                )
        if not is_placeholder_label(item["placeholder"]):
            raise InputError(
                f"{name} entry {n}: 'placeholder' is a label such as PROJECT (the service makes "
                "[PROJECT_1] of it): no '[', ']' or line break; nothing was sent"
            )
        pairs.append((item["original"], item["placeholder"]))
    return tuple(pairs)


def check_files(
    paths: Sequence[Path], file_type: str | None = None, labels: Mapping[Path, str] | None = None
) -> list[SubmitFile]:
    """Check every input before anything is sent: it exists, is a non-empty file, has a
    supported type (by extension, or ``file_type``), and text is UTF-8. One error lists all
    the problems. ``labels`` names a path in messages and outcomes instead of itself (a
    spooled standard input is shown as its --name, never as its temporary path)."""
    if file_type is not None and file_type not in TYPE_NAMES:
        raise InputError(f"unsupported --type {file_type!r}: use {', '.join(TYPE_NAMES)}")
    problems: list[str] = []
    files: list[SubmitFile] = []
    for path in paths:
        label = (labels or {}).get(path, "")
        shown = label or str(path)
        kind = TYPE_NAMES[file_type] if file_type else SUBMIT_TYPES.get(path.suffix.lower())
        try:
            stat = path.stat()
        except FileNotFoundError:
            problems.append(f"{shown}: no such file")
            continue
        except OSError as exc:
            problems.append(f"{shown}: {exc.strerror or type(exc).__name__}")
            continue
        if not path.is_file():
            problems.append(f"{shown}: not a regular file")
        elif stat.st_size == 0:
            problems.append(f"{shown}: empty")
        elif kind is None:
            problems.append(
                f"{shown}: unsupported type (use .csv .pdf .docx .xlsx .txt .md, or --type)"
            )
        elif kind == "text" and not _is_utf8(path):
            problems.append(f"{shown}: text is not UTF-8")
        else:
            files.append(SubmitFile(path=path, file_type=kind, size=stat.st_size, label=label))
    if problems:
        count = "1 file" if len(problems) == 1 else f"{len(problems)} files"
        raise InputError(f"nothing submitted; {count} cannot be sent: " + "; ".join(problems))
    return files


def _is_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return True


async def submit_async(
    client: QuestaClient,
    target: ArchiveTarget,
    files: Sequence[SubmitFile],
    options: RunOptions,
    submit: SubmitOptions,
    *,
    on_outcome: Callable[[SubmitOutcome], None] | None = None,
    on_upload: Callable[[Path, int, int], None] | None = None,
) -> list[SubmitOutcome]:
    """``submit`` as a coroutine."""
    if files:
        may_archive(target)
    async with Writer(target) as writer, client.aio() as aclient:
        run = JobRun(aclient, target, options, writer=writer)

        async def one(item: SubmitFile) -> SubmitOutcome:
            progress = None
            if on_upload is not None:
                path = item.path

                def progress(sent: int, total: int) -> None:
                    on_upload(path, sent, total)

            outcome = await _submit_one(run, item, submit, progress)
            if on_outcome is not None:
                on_outcome(outcome)
            return outcome

        return await run_all(one(f) for f in files)


async def _submit_one(
    run: JobRun,
    item: SubmitFile,
    submit: SubmitOptions,
    on_progress: Callable[[int, int], None] | None = None,
) -> SubmitOutcome:
    name = item.label or str(item.path)
    is_text = item.file_type == "text"
    text_result: TextResult | None = None
    try:
        if is_text:
            text = item.path.read_text(encoding="utf-8")
            async with run.limit:
                async with asyncio.timeout(run.bound()):
                    text_result = await run.aclient.anonymize_text(text, submit)
            job_id = f"text-{uuid.uuid4()}"
        else:
            async with run.limit:
                async with asyncio.timeout(run.bound()):
                    job_id = await run.aclient.upload(
                        item.path,
                        item.file_type,
                        filename=item.path.name,
                        options=submit,
                        on_progress=on_progress,
                    )
    except ApiAuthError:
        raise
    except TimeoutError:
        return SubmitOutcome(
            name, None, "error", f"not sent: no answer within the {run.options.timeout:g} s allowed"
        )
    except (ApiError, InputError) as exc:
        return SubmitOutcome(name, None, "error", str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        return SubmitOutcome(name, None, "error", f"cannot read it: {type(exc).__name__}")

    submitted_at, url = run.options.now(), run.aclient.base_url
    try:  # pending first: from here on a crash loses nothing the service still holds
        await run.writer.write(
            lambda: run.target.record_pending(
                job_id,
                file_type=item.file_type,
                source="text" if is_text else "upload",
                submitted_at=submitted_at,
                filename=item.path.name,
                options=submit,
                actor=run.options.actor,
                api_url=url,
            )
        )
        if text_result is not None:
            return await _store_text(run, item, submit, job_id, text_result)
    except VaultError as exc:
        return SubmitOutcome(
            name,
            job_id,
            "error",
            f"accepted but not recorded: {exc}; once the vault can record it, run "
            f"`questa-vault fetch {job_id}` before the service expires it (1 hour)",
        )

    if not run.options.wait:
        return SubmitOutcome(name, job_id, "pending", "submitted; fetch or sync archives it")
    outcome = await run.job(job_id, run.target.get_job(job_id))
    return SubmitOutcome(name, job_id, outcome.outcome, outcome.detail)


async def _store_text(
    run: JobRun, item: SubmitFile, submit: SubmitOptions, job_id: str, result: TextResult
) -> SubmitOutcome:
    content = result.anonymized_text.encode("utf-8")
    job = JobContent(
        job_id=job_id,
        status="archived",
        file_type="text",
        created_at=run.options.now(),
        entity_count=result.entities,
        content=content,
        mapping=result.mapping,
        filename=item.path.name,
        options=submit,
        source="text",
    )
    actor, url = run.options.actor, run.aclient.base_url
    stored = await run.writer.write(lambda: run.target.store_job(job, actor=actor, api_url=url))
    detail = describe("text", len(content), len(result.mapping), result.entities)
    return SubmitOutcome(
        item.label or str(item.path), job_id, "archived" if stored else "already-archived", detail
    )


def submit(
    client: QuestaClient,
    target: ArchiveTarget,
    files: Sequence[SubmitFile],
    options: RunOptions,
    submit: SubmitOptions | None = None,
    *,
    on_outcome: Callable[[SubmitOutcome], None] | None = None,
    on_upload: Callable[[Path, int, int], None] | None = None,
) -> list[SubmitOutcome]:
    """Send each checked file (see ``check_files``), record it pending as soon as the server
    accepts it, then (unless ``options.wait`` is false) wait and archive it. Text files go
    through the synchronous text endpoint and are archived at once under a local id
    ``text-<uuid4>``. One outcome per file, in order. Files are streamed from disk;
    ``on_upload(path, sent, total)`` follows each upload's bytes."""
    return asyncio.run(
        submit_async(
            client,
            target,
            files,
            options,
            submit or SubmitOptions(),
            on_outcome=on_outcome,
            on_upload=on_upload,
        )
    )
