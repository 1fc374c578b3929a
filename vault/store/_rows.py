"""Frozen rows the store hands to the custodian: one dataclass per table, no raw dicts; the
jobs table's columns and converters, derived from ``JobRow``; and the one reader of the JSON
counts columns (``jobs.entity_counts``, ``access_log.counts``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field, fields
from typing import Any, TypeVar

from vault._dataclass import dataclass
from vault.errors import IntegrityError
from vault.models import NOT_SEALED, JobMeta


@dataclass(frozen=True)
class UserRow:
    """A row of the ``users`` table: the user's public key, and the private key wrapped under
    the passphrase-derived key with the derivation's parameters (all None for a --public-key
    user)."""

    id: int
    name: str
    enabled: bool
    created_at: float
    public_key: bytes
    wrapped_key: bytes | None  # None: a --public-key user
    kdf_algorithm: str | None
    kdf_memory_kib: int | None
    kdf_passes: int | None
    kdf_lanes: int | None
    kdf_salt: bytes | None
    key_changed_at: float | None = None


@dataclass(frozen=True, kw_only=True)
class JobRow(JobMeta):
    """A row of the ``jobs`` table: the job's metadata (``vault.models.JobMeta``) and what only
    the table holds. A new row is ``JobRow(job_id=..., status=..., file_type=..., source=...,
    updated_at=...)``: no times, counts, blobs or key version yet."""

    chunk_count: int = 0
    seal: bytes | None = field(default=None, metadata=NOT_SEALED)
    updated_at: float = field(metadata=NOT_SEALED)


@dataclass(frozen=True)
class GrantRow:
    """A row of the ``grants`` table: one job's data key sealed to one user's public key."""

    job_id: str
    user: str
    key_version: int
    sealed_dek: bytes
    created_at: float


@dataclass(frozen=True)
class BlobRow:
    """A row of the ``blobs`` table: one encrypted chunk of one field of a job."""

    job_id: str
    field: str
    idx: int
    key_version: int
    data: bytes


@dataclass(frozen=True)
class LogRow:
    """A row of the ``access_log`` table: one hash-chained entry, as stored."""

    seq: int
    time: float
    user: str
    action: str
    job_id: str | None
    counts: Mapping[str, int] = field(default_factory=dict)
    prev_hash: str = ""
    entry_hash: str = ""
    subject: str | None = None  # the user acted upon (user-add, grant, revoke, ...)
    # The state the entry leaves behind (None: written before facts existed)
    facts: Mapping[str, str | int] | None = None


def stored_json(text: Any, what: str) -> Any:
    """JSON text read from the vault, parsed; ``IntegrityError`` (one line) for anything that
    is not valid JSON, and for nesting deeper than the parser's bound (``json.loads`` stops at
    the interpreter's recursion limit with ``RecursionError``: a hand-edited or appended row
    nested 50,000 deep must be a finding, not an internal error of every command reading it).
    Every stored JSON column is a flat object, checked by its caller."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:  # TypeError: not text at all
        raise IntegrityError(f"a {what} column of the vault is not valid JSON") from exc
    except (RecursionError, MemoryError) as exc:
        raise IntegrityError(f"a {what} column of the vault is nested too deep") from exc


def flat_json(value: Mapping[str, Any], what: str) -> str:
    """A counts or facts mapping as stored: refused (``IntegrityError``) unless it is a flat
    object of text keys and integer or text values, so that nothing written by this tool can
    make a reader fail."""
    if not all(
        isinstance(k, str) and isinstance(v, str | int) and not isinstance(v, bool)
        for k, v in value.items()
    ):
        raise IntegrityError(f"refusing to store a {what} value that is not a flat object")
    return json.dumps(dict(value), sort_keys=True)


def counts_column(text: Any) -> Mapping[str, int]:
    """A counts column parsed: a JSON object of integers, else ``IntegrityError``."""
    data = stored_json(text, "counts")
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, int) for k, v in data.items()
    ):
        raise IntegrityError("a counts column of the vault has the wrong shape")
    return data


# The jobs table's columns are JobRow's fields, in its order; each value is read and written
# through the converter of its annotation (an annotation without one fails here, at import).
JOB_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(JobRow))


def _optional_time(value: Any) -> float | None:
    if value is None or type(value) in (float, int):
        return value  # type: ignore[no-any-return]
    raise TypeError("a time column holds neither a number nor NULL")


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _counts_text(value: Mapping[str, int]) -> str:
    return json.dumps(dict(value), sort_keys=True)


def _same(value: Any) -> Any:
    return value


# annotation -> (SQL select expression for a column c, from SQL, to SQL). Binary columns are read
# through CAST so that a value whose storage class was changed (e.g. by an edit that
# concatenated text) still reaches the integrity checks as bytes.
_JOB_KINDS: Mapping[str, tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = {
    "str": ("{}", str, _same),
    "str | None": ("{}", _optional_text, _same),
    "JobStatus": ("{}", str, _same),  # the table's CHECK holds it to JobStatus
    "int": ("{}", int, _same),
    "float": ("{}", float, _same),
    "float | None": ("{}", _optional_time, _same),
    "bytes | None": ("CAST({} AS BLOB)", _optional_bytes, _same),
    "Mapping[str, int]": ("{}", counts_column, _counts_text),
}
JOB_KINDS: tuple[str, ...] = tuple(str(f.type) for f in fields(JobRow))
if not set(JOB_KINDS) <= set(_JOB_KINDS):
    raise ImportError("a JobRow field has a type the store cannot convert")
JOB_SELECT = ", ".join(
    _JOB_KINDS[k][0].format(c) for c, k in zip(JOB_COLUMNS, JOB_KINDS, strict=True)
)
_FROM_SQL = tuple(_JOB_KINDS[k][1] for k in JOB_KINDS)
_TO_SQL = tuple(_JOB_KINDS[k][2] for k in JOB_KINDS)


def job_from_sql(values: Sequence[Any]) -> JobRow:
    """A ``JobRow`` from the values of ``SELECT JOB_SELECT``; ``TypeError``/``ValueError`` when a
    value has the wrong type."""
    return JobRow(**{c: conv(v) for c, conv, v in zip(JOB_COLUMNS, _FROM_SQL, values, strict=True)})


def job_to_sql(row: JobRow) -> tuple[Any, ...]:
    """The values of ``JOB_COLUMNS`` for an INSERT."""
    return tuple(conv(getattr(row, c)) for c, conv in zip(JOB_COLUMNS, _TO_SQL, strict=True))


def facts_column(text: Any) -> Mapping[str, str | int] | None:
    """An access-log facts column parsed: NULL, or a JSON object of strings and integers."""
    if text is None:
        return None
    data = stored_json(text, "facts")
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int) and not isinstance(v, bool)
        for k, v in data.items()
    ):
        raise IntegrityError("a facts column of the access log has the wrong shape")
    return data


R = TypeVar("R")


def checked(what: str) -> Callable[[Callable[[Sequence[Any]], R]], Callable[[Sequence[Any]], R]]:
    """A row whose values have the wrong types (a damaged page) is an ``IntegrityError``."""

    def decorate(convert: Callable[[Sequence[Any]], R]) -> Callable[[Sequence[Any]], R]:
        def wrapper(r: Sequence[Any]) -> R:
            try:
                return convert(r)
            except (TypeError, ValueError) as exc:
                raise IntegrityError(f"the vault holds a damaged {what} row") from exc

        return wrapper

    return decorate
