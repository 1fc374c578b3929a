"""The service's request semantics, apart from HTTP: validating options and making jobs.

``app`` turns HTTP into calls here and ``RejectedRequest`` back into the documented error
bodies. Validation picks where the documentation is silent (see docs/simulator.md): wrong
types of ``entities``/``start_index`` answer 422 in the same shape as the documented one;
anything wrong with ``custom_entities`` answers 400 with a detail naming the entry by index
(never its text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from vault._dataclass import dataclass
from vault.errors import InputError
from vault.simulator._anonymize import (
    Anonymized,
    CsvLabelError,
    CustomEntity,
    anonymize_csv,
    anonymize_text,
    scan_opaque,
)
from vault.simulator._detect import ENTITY_TYPES
from vault.simulator._office import UnreadableDocument, anonymize_package
from vault.simulator._pdf import anonymize_pdf
from vault.simulator._state import SimulatorState

UPLOAD_TYPES: tuple[str, ...] = ("pdf", "docx", "csv", "excel")
MAX_CUSTOM_ENTITIES = 50
MAX_CUSTOM_LENGTH = 200

TEXT_MISSING: dict[str, object] = {
    "loc": ["body", "text"],
    "msg": "field required",
    "type": "value_error.missing",
}
FILE_MISSING: dict[str, object] = {
    "loc": ["body", "file"],
    "msg": "field required",
    "type": "value_error.missing",
}
CSV_LABEL_FAILURE = (
    "A custom entity placeholder contains a character that cannot be written into this CSV "
    "(its delimiter, a quote, a backslash or a line break)."
)
_CUSTOM_SHAPE = 'a list of {"original": str, "placeholder": str} objects'
_INT_RE = re.compile(r"\s*[+-]?\d+\s*")


class RejectedRequest(InputError):
    """A request the service refuses; ``detail`` is the JSON ``detail`` of the answer."""

    def __init__(self, status: int, detail: object) -> None:
        super().__init__(f"request rejected with {status}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Options:
    """What a request asks for, validated."""

    types: frozenset[str]
    start_index: int
    custom: tuple[CustomEntity, ...]


def parse_options(
    entities: object, start_index: object
) -> tuple[Options | None, list[dict[str, object]]]:
    """Validate ``entities`` and ``start_index``; return (options, 422 error entries).

    Custom entities are added afterwards by ``parse_custom``: their problems answer 400, which
    comes after the 422 checks and after the blank-text / empty-file checks.
    """
    errors: list[dict[str, object]] = []
    types = frozenset(ENTITY_TYPES)
    if entities is not None:
        names: list[str] | None = None
        if isinstance(entities, str):
            names = entities.split(",")
        elif isinstance(entities, list) and all(isinstance(e, str) for e in entities):
            names = list(entities)
        if names is None:
            errors.append(_error("entities", "str type expected", "type_error.str"))
        elif any(n.strip() for n in names):
            wanted = {n.strip().upper() for n in names}
            types = frozenset(t for t in ENTITY_TYPES if t in wanted)
    index = 0
    if start_index is not None:
        parsed = _as_int(start_index)
        if parsed is None:
            errors.append(
                _error("start_index", "value is not a valid integer", "type_error.integer")
            )
        elif parsed < 0:
            errors.append(
                _error(
                    "start_index",
                    "ensure this value is greater than or equal to 0",
                    "value_error.number.not_ge",
                )
            )
        else:
            index = parsed
    if errors:
        return None, errors
    return Options(types, index, ()), []


def parse_custom(options: Options, value: object, *, is_json: bool) -> Options:
    """Add ``custom_entities`` (a list, or in a form a JSON-encoded list) to ``options``.

    Raises ``RejectedRequest`` (400) with a detail that names the entry by index, never its text.
    """
    if value is None:
        return options
    if is_json:
        if not isinstance(value, str):
            raise RejectedRequest(
                400, f"custom_entities must be a JSON-encoded string: {_CUSTOM_SHAPE}"
            )
        if not value.strip():
            return options
        try:
            value = json.loads(value)
        except ValueError:
            raise RejectedRequest(
                400, f"custom_entities is not valid JSON; expected {_CUSTOM_SHAPE}"
            ) from None
    if not isinstance(value, list):
        raise RejectedRequest(400, f"custom_entities must be {_CUSTOM_SHAPE}")
    if len(value) > MAX_CUSTOM_ENTITIES:
        raise RejectedRequest(
            400, f"Too many custom entities: at most {MAX_CUSTOM_ENTITIES} are allowed"
        )
    result: list[CustomEntity] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise RejectedRequest(
                400, f"custom_entities[{i}] must be an object with original and placeholder"
            )
        original, label = item.get("original"), item.get("placeholder")
        if not isinstance(original, str) or not isinstance(label, str):
            raise RejectedRequest(
                400, f"custom_entities[{i}]: original and placeholder must be strings"
            )
        if not original.strip() or not label.strip():
            raise RejectedRequest(
                400, f"custom_entities[{i}]: original and placeholder must not be blank"
            )
        if len(original) > MAX_CUSTOM_LENGTH or len(label) > MAX_CUSTOM_LENGTH:
            raise RejectedRequest(
                400,
                f"custom_entities[{i}]: original and placeholder must be at most "
                f"{MAX_CUSTOM_LENGTH} characters",
            )
        result.append(CustomEntity(original, label))
    return Options(options.types, options.start_index, tuple(result))


def anonymize_request(text: str, options: Options) -> dict[str, object]:
    """The body of a successful ``POST /anonymize/text``."""
    anonymized, mapping, count = anonymize_text(
        text, types=options.types, start_index=options.start_index, custom=options.custom
    )
    return {"anonymized_text": anonymized, "map": mapping, "entities": count}


def start_job(state: SimulatorState, file_type: str, data: bytes, options: Options) -> str:
    """Anonymize an upload now and record the job that will reveal it; returns the job id."""
    failure: str | None = None
    if file_type == "csv":
        try:
            outcome = anonymize_csv(
                data, types=options.types, start_index=options.start_index, custom=options.custom
            )
        except CsvLabelError:
            outcome, failure = Anonymized(b""), CSV_LABEL_FAILURE
    else:
        anonymize = anonymize_pdf if file_type == "pdf" else anonymize_package
        try:
            outcome = anonymize(
                data, types=options.types, start_index=options.start_index, custom=options.custom
            )
        except UnreadableDocument:
            outcome = scan_opaque(data, start_index=options.start_index, custom=options.custom)
    return state.create_job(
        file_type, outcome.content, outcome.mapping, outcome.entity_count, failure=failure
    )


def job_started_message(file_type: str) -> str:
    return f"{file_type.upper()} anonymization job started."


def make_options(
    entities: str | None = None,
    start_index: int = 0,
    custom: Sequence[tuple[str, str]] = (),
) -> Options:
    """Options for a job made through the Python API (``RunningSimulator.submit``)."""
    parsed, errors = parse_options(entities, start_index)
    if parsed is None:
        raise RejectedRequest(422, errors)
    entries = [{"original": o, "placeholder": p} for o, p in custom]
    return parse_custom(parsed, entries, is_json=False)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value):
        return int(value)
    return None


def _error(name: str, msg: str, kind: str) -> dict[str, object]:
    return {"loc": ["body", name], "msg": msg, "type": kind}
