"""The service's endpoints as data: what to send, and how to read the answer.

Each public client method builds a ``Call``; the blocking and asyncio clients (``_http``) only
differ in how they send it. Keeping the requests here means both clients speak the
same protocol and validate the same way.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import field
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar, cast
from urllib.parse import quote

from vault._dataclass import dataclass
from vault.client._jobid import check_job_id
from vault.client._validate import (
    parse_entities,
    parse_job_accepted,
    parse_status,
    parse_text_result,
)
from vault.errors import ApiError, InputError, JobNotFound
from vault.models import RemoteJob, SubmitOptions, TextResult

T = TypeVar("T")

# Upload endpoint and content type per server file type.
UPLOAD_TYPES: Mapping[str, tuple[str, str]] = {
    "pdf": ("/anonymize/pdf", "application/pdf"),
    "docx": (
        "/anonymize/docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "csv": ("/anonymize/csv", "text/csv"),
    "excel": (
        "/anonymize/excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
}

EXPIRED_HINT = "unknown or expired (results are kept 1 hour)"


class _ProgressFile(io.RawIOBase):
    """A file opened for upload that reports how far it has been read (httpx reads it in
    64 KiB pieces while sending; ``fileno`` lets it find the length for Content-Length)."""

    def __init__(self, raw: BinaryIO, total: int, report: Callable[[int, int], None]) -> None:
        super().__init__()
        self._raw = raw
        self._total = total
        self._report = report

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._report(self._raw.tell(), self._total)
        return data

    def readinto(self, buffer: Any) -> int:  # pragma: no cover - httpx calls read()
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass(frozen=True)
class Upload:
    """The file part of an upload: bytes in memory, or a path opened afresh per attempt."""

    # The original file (submit uploads it before anonymization): never in a repr.
    source: Path | bytes = field(repr=False)
    filename: str = field(repr=False)
    content_type: str
    on_progress: Callable[[int, int], None] | None = None

    def open(self, stack: ExitStack) -> tuple[str, bytes | BinaryIO, str]:
        """The ``files`` entry for one attempt; a file is closed with ``stack``."""
        if isinstance(self.source, bytes):
            return (self.filename, self.source, self.content_type)
        raw = stack.enter_context(self.source.open("rb"))
        handle: BinaryIO = raw
        if self.on_progress is not None:
            size = os.fstat(raw.fileno()).st_size
            handle = stack.enter_context(cast(BinaryIO, _ProgressFile(raw, size, self.on_progress)))
        return (self.filename, handle, self.content_type)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and the validator of its answer."""

    method: str
    path: str
    what: str  # names the call (and the job) in error messages
    parse: Callable[[Any], T]
    not_found: Callable[[], ApiError]
    json_body: Any = None
    form: Mapping[str, str] | None = None
    upload: Upload | None = None
    json_answer: bool = True
    big_string: str | None = None  # a top-level string that may be huge (see ``_body``)


def _endpoint_missing(what: str, path: str) -> Callable[[], ApiError]:
    def make() -> ApiError:
        return ApiError(f"{what}: {path} not found (HTTP 404); is the API URL right?", status=404)

    return make


def status_call(job_id: str) -> Call[RemoteJob]:
    check_job_id(job_id)

    def not_found() -> ApiError:
        return JobNotFound(f"job {job_id}: {EXPIRED_HINT}", status=404)

    return Call(
        method="GET",
        path=f"/anonymize/status/{quote(job_id, safe='')}",
        what=f"job {job_id}",
        parse=lambda body: parse_status(body, job_id),
        not_found=not_found,
        big_string="result",
    )


def _custom(options: SubmitOptions) -> list[dict[str, str]]:
    return [{"original": o, "placeholder": p} for o, p in options.custom_entities]


def text_call(text: str, options: SubmitOptions | None) -> Call[TextResult]:
    options = options or SubmitOptions()
    body: dict[str, Any] = {"text": text, "start_index": options.start_index}
    if options.entities:
        body["entities"] = options.entities
    if options.custom_entities:
        body["custom_entities"] = _custom(options)
    what = "text anonymization"
    return Call(
        method="POST",
        path="/anonymize/text",
        what=what,
        parse=parse_text_result,
        not_found=_endpoint_missing(what, "/anonymize/text"),
        json_body=body,
    )


def upload_call(
    source: Path | bytes,
    file_type: str,
    filename: str | None,
    options: SubmitOptions | None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Call[str]:
    if file_type not in UPLOAD_TYPES:
        raise InputError(f"cannot upload file type {file_type!r}: use pdf, docx, csv or excel")
    path, content_type = UPLOAD_TYPES[file_type]
    if isinstance(source, Path):
        filename = filename or source.name
    options = options or SubmitOptions()
    form = {"start_index": str(options.start_index)}
    if options.entities:
        form["entities"] = options.entities
    if options.custom_entities:
        form["custom_entities"] = json.dumps(_custom(options), ensure_ascii=False)
    what = f"{file_type} upload"
    return Call(
        method="POST",
        path=path,
        what=what,
        parse=lambda body: parse_job_accepted(body, what),
        not_found=_endpoint_missing(what, path),
        form=form,
        upload=Upload(source, filename or f"upload.{file_type}", content_type, on_progress),
    )


def entities_call() -> Call[tuple[str, ...]]:
    what = "entity list"
    return Call(
        method="GET",
        path="/anonymize/entities",
        what=what,
        parse=parse_entities,
        not_found=_endpoint_missing(what, "/anonymize/entities"),
    )


def health_call() -> Call[None]:
    what = "health check"
    return Call(
        method="GET",
        path="/health",
        what=what,
        parse=lambda body: None,
        not_found=_endpoint_missing(what, "/health"),
        json_answer=False,
    )
