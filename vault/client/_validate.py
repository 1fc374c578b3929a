"""Validation of the service's answers: nothing reaches the vault before it passes here.

Pure functions over decoded JSON. Every failure is a ``MalformedResponse`` that names the job
(or the call) and the field, and never the value: a status answer carries the map, whose keys
are original (PII) values, so no part of a rejected answer is echoed.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from typing import Any, cast

from vault.client._body import Base64Span
from vault.client._jobid import JOB_ID_RE
from vault.errors import MalformedResponse
from vault.models import REMOTE_STATUSES, RemoteJob, RemoteStatus, TextResult

# A placeholder: square brackets around a label, an underscore and a whole number. Labels of
# custom entities are free text (upper case is only recommended), so the label may be anything
# without brackets or line breaks.
PLACEHOLDER_RE = re.compile(r"\[[^\[\]\r\n]+_[0-9]+\]")


def is_placeholder_label(label: str) -> bool:
    """Whether the service's placeholders for this label (``[LABEL_1]``, ...) pass the check
    every answer's map gets: ``submit`` refuses a custom entity's label that would not, before
    sending anything (its answer would be refused, after the service anonymized the file)."""
    return PLACEHOLDER_RE.fullmatch(f"[{label}_1]") is not None


# The server's file types; "xlsx" is accepted as a spelling of "excel".
_SERVER_FILE_TYPES: Mapping[str, str] = {
    "pdf": "pdf",
    "docx": "docx",
    "csv": "csv",
    "excel": "excel",
    "xlsx": "excel",
}


def _field(where: str, name: str, problem: str) -> MalformedResponse:
    return MalformedResponse(f"{where}: field '{name}' {problem}; nothing was stored")


def _is_int(value: object) -> bool:
    return type(value) is int


def _require(body: Mapping[str, Any], where: str, name: str) -> Any:
    if name not in body:
        raise _field(where, name, "is missing")
    return body[name]


# The latest time every output can print (9999-12-31T23:59:59Z): a later created_at passed as a
# number but ended `show` and the audit CSV with an OverflowError, for good (it is sealed).
MAX_TIME = 253402300799


def _unicode(texts: list[str], where: str, name: str) -> None:
    """Text the service sends must be Unicode: JSON's ``"\\ud800"`` decodes to a lone
    surrogate, a ``str`` no UTF-8 output can take (one C-level pass over all of them)."""
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _field(
            where, name, "holds text that is not valid Unicode (a lone surrogate)"
        ) from exc


def _mapping(value: object, where: str, name: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _field(where, name, "is not an object")
    out: dict[str, str] = {}
    for index, (key, placeholder) in enumerate(value.items(), start=1):
        if not isinstance(key, str) or not key:
            raise _field(where, name, f"has an empty or non-text original (entry {index})")
        if not isinstance(placeholder, str):
            raise _field(where, name, f"has a non-text placeholder (entry {index})")
        if not PLACEHOLDER_RE.fullmatch(placeholder):
            raise _field(where, name, f"has a placeholder not like [LABEL_N] (entry {index})")
        out[key] = placeholder
    _unicode([*out, *out.values()], where, name)
    return out


def _count(value: object, where: str, name: str) -> int:
    if not _is_int(value):
        raise _field(where, name, "is not an integer")
    number = cast(int, value)
    if number < 0:
        raise _field(where, name, "is negative")
    return number


def decode_base64(value: object, where: str, name: str) -> bytes:
    """Strict standard base64: only the alphabet, correct padding, no whitespace. A
    ``Base64Span`` (a large value left in the body, see ``_body``) is decoded in place."""
    if isinstance(value, Base64Span):
        try:
            return binascii.a2b_base64(value.data, strict_mode=True)
        except (binascii.Error, ValueError) as exc:
            raise _field(where, name, "is not valid base64") from exc
    if not isinstance(value, str):
        raise _field(where, name, "is not a base64 string")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise _field(where, name, "is not valid base64") from exc


def parse_status(body: object, job_id: str) -> RemoteJob:
    """Validate a ``GET /anonymize/status/{job_id}`` answer."""
    where = f"job {job_id}"
    if not isinstance(body, dict):
        raise MalformedResponse(
            f"{where}: the status answer is not a JSON object; nothing was stored"
        )

    status = _require(body, where, "status")
    if not isinstance(status, str) or status not in REMOTE_STATUSES:
        raise _field(where, "status", f"is not one of {', '.join(REMOTE_STATUSES)}")
    progress = _require(body, where, "progress")
    if not _is_int(progress) or not 0 <= progress <= 100:
        raise _field(where, "progress", "is not an integer from 0 to 100")
    created = _require(body, where, "created_at")
    if (
        not isinstance(created, int | float)
        or isinstance(created, bool)
        or not math.isfinite(created)
        or created < 0
        or created > MAX_TIME
    ):
        raise _field(where, "created_at", "is not a Unix time")

    completed = status == "completed"
    raw_type = body.get("file_type")
    if raw_type is None and not completed:
        file_type = ""
    elif not isinstance(raw_type, str) or raw_type not in _SERVER_FILE_TYPES:
        raise _field(where, "file_type", "is not one of pdf, docx, csv, excel")
    else:
        file_type = _SERVER_FILE_TYPES[raw_type]

    error = body.get("error")
    if error is not None and not isinstance(error, str):
        raise _field(where, "error", "is not text")
    if error is not None:
        _unicode([error], where, "error")

    result: bytes | None = None
    mapping: dict[str, str] = {}
    entity_count = 0
    if completed:
        raw_result = _require(body, where, "result")
        if raw_result is None:
            raise _field(where, "result", "is missing from a completed job")
        result = decode_base64(raw_result, where, "result")
        mapping = _mapping(
            _require(body, where, "de_anonymization_map"), where, "de_anonymization_map"
        )
        entity_count = _count(_require(body, where, "entity_count"), where, "entity_count")
    else:
        # Not used before completion, but a present field must still have the documented type.
        if body.get("de_anonymization_map") is not None:
            _mapping(body["de_anonymization_map"], where, "de_anonymization_map")
        if body.get("entity_count") is not None:
            _count(body["entity_count"], where, "entity_count")

    return RemoteJob(
        job_id=job_id,
        status=cast(RemoteStatus, status),
        progress=progress,
        file_type=file_type,
        result=result,
        mapping=mapping,
        entity_count=entity_count,
        error=error if status == "failed" else None,
        created_at=float(created),
    )


def parse_text_result(body: object) -> TextResult:
    """Validate a ``POST /anonymize/text`` answer."""
    where = "text anonymization"
    if not isinstance(body, dict):
        raise MalformedResponse(f"{where}: the answer is not a JSON object; nothing was stored")
    text = _require(body, where, "anonymized_text")
    if not isinstance(text, str):
        raise _field(where, "anonymized_text", "is not text")
    _unicode([text], where, "anonymized_text")
    mapping = _mapping(_require(body, where, "map"), where, "map")
    entities = _count(_require(body, where, "entities"), where, "entities")
    return TextResult(anonymized_text=text, mapping=mapping, entities=entities)


def parse_job_accepted(body: object, what: str) -> str:
    """Validate the ``202 {"job_id": ...}`` answer of an upload; return the job id."""
    if not isinstance(body, dict):
        raise MalformedResponse(f"{what}: the answer is not a JSON object")
    job_id = _require(body, what, "job_id")
    if not isinstance(job_id, str) or not JOB_ID_RE.fullmatch(job_id):
        raise _field(what, "job_id", "is not a valid job id")
    return job_id


def parse_entities(body: object) -> tuple[str, ...]:
    """Validate the entity list: ``{"entities": [str, ...]}`` or a bare list of names."""
    where = "entity list"
    names = body.get("entities") if isinstance(body, dict) else body
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise _field(where, "entities", "is not a list of names")
    _unicode(names, where, "entities")
    return tuple(names)
