"""The service's endpoints as data: what to send, and how to read the answer.

Each public client method builds a ``Call``; the blocking and asyncio clients (``_http``) only
differ in how they send it. Keeping the requests here means both clients speak the
same protocol and validate the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from vault.client._validate import (
    check_job_id,
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
    files: Mapping[str, tuple[str, bytes, str]] | None = None
    json_answer: bool = True


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
) -> Call[str]:
    if file_type not in UPLOAD_TYPES:
        raise InputError(f"cannot upload file type {file_type!r}: use pdf, docx, csv or excel")
    path, content_type = UPLOAD_TYPES[file_type]
    if isinstance(source, Path):
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror or type(exc).__name__}") from exc
        filename = filename or source.name
    else:
        data = source
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
        files={"file": (filename or f"upload.{file_type}", data, content_type)},
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
