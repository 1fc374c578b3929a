"""A job's envelope: plaintext encodings of the secret fields, their blobs, and the seal.

Pure functions over ``vault.crypto`` and the store's rows; no I/O. A job's secret fields
are stored as blobs ``(field, idx, key_version, data)``; the file is split into chunks, the
other fields are one blob each (index 0, final). The seal binds the plaintext metadata of the
job row to the SHA-256 of every blob, under the newest key version's seal key.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import Any

import vault.crypto as crypto
from vault._dataclass import dataclass
from vault.errors import IntegrityError
from vault.models import SubmitOptions
from vault.store import BlobRow, JobRow

FIELD_MAP = "map"
FIELD_FILE = "file"
FIELD_FILENAME = "filename"
FIELD_OPTIONS = "options"
FIELD_ERROR = "error"
FIELDS = (FIELD_MAP, FIELD_FILE, FIELD_FILENAME, FIELD_OPTIONS, FIELD_ERROR)

# `[LABEL_N]`: any label text, an underscore, a whole number.
_PLACEHOLDER = re.compile(r"\[([^\[\]]+)_(\d+)\]")


# --------------------------------------------------------------------------- encodings


def encode_map(mapping: Mapping[str, str]) -> bytes:
    """JSON array of ``[original, placeholder]`` pairs in the server's order (ASCII-only
    JSON, so lone surrogates from a server's JSON survive)."""
    return json.dumps([[k, v] for k, v in mapping.items()], ensure_ascii=True).encode("ascii")


def decode_map(data: bytes) -> dict[str, str]:
    # The cyclic garbage collector is paused until the parsed pairs are freed: each pair is
    # a new list, so a 100,000-entry map set off about 140 collections, one of them a full one
    # over every object of the process (10-30 ms of a 100-150 ms decode, more in a larger
    # process), and a collection right after the parse would still walk every pair. Lists of
    # strings hold no cycle: they are freed by their reference counts, none is left to collect.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _decode_pairs(data)
    finally:
        if paused:
            gc.enable()


def _decode_pairs(data: bytes) -> dict[str, str]:
    pairs = _json(data, "map")
    if not isinstance(pairs, list) or not _pairs_of_text(pairs):
        raise IntegrityError("a decrypted map has the wrong shape")
    return dict(pairs)


def _pairs_of_text(pairs: list[Any]) -> bool:
    """Whether every item is a list of two strings, checked by type over all items at once:
    a 100,000-entry map is decoded on every restore that names its job, and a check item by
    item in Python cost about as much as parsing the JSON."""
    return (
        not set(map(type, pairs)) - {list}
        and not set(map(len, pairs)) - {2}
        and not set(map(type, chain.from_iterable(pairs))) - {str}
    )


def encode_options(options: SubmitOptions) -> bytes:
    return json.dumps(
        {
            "entities": options.entities,
            "start_index": options.start_index,
            "custom_entities": [list(pair) for pair in options.custom_entities],
        },
        ensure_ascii=True,
    ).encode("ascii")


def decode_options(data: bytes) -> SubmitOptions:
    obj = _json(data, "options")
    try:
        entities = obj["entities"]
        start = obj["start_index"]
        custom = tuple((str(o), str(p)) for o, p in obj["custom_entities"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError("decrypted submit options have the wrong shape") from exc
    if not (entities is None or isinstance(entities, str)) or not isinstance(start, int):
        raise IntegrityError("decrypted submit options have the wrong shape")
    return SubmitOptions(entities=entities, start_index=start, custom_entities=custom)


def encode_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        raise IntegrityError("a decrypted text field is not UTF-8") from exc


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise IntegrityError(f"a decrypted {what} is not valid JSON") from exc
    except (RecursionError, MemoryError) as exc:
        raise IntegrityError(f"a decrypted {what} is nested too deep") from exc


# --------------------------------------------------------------------------- map analysis


@dataclass(frozen=True)
class MapStats:
    """Counts derived from a map at archive time; no values."""

    entity_counts: Mapping[str, int]
    shared_placeholders: int
    placeholder_like_originals: int


def analyse_map(mapping: Mapping[str, str]) -> MapStats:
    """Entity counts per type (one per distinct placeholder) and the map's problems."""
    originals_per_placeholder: dict[str, int] = {}
    for placeholder in mapping.values():
        originals_per_placeholder[placeholder] = originals_per_placeholder.get(placeholder, 0) + 1
    counts: dict[str, int] = {}
    for placeholder in originals_per_placeholder:
        match = _PLACEHOLDER.fullmatch(placeholder)
        if match:
            label = match.group(1)
            counts[label] = counts.get(label, 0) + 1
    shared = sum(1 for n in originals_per_placeholder.values() if n > 1)
    lookalikes = sum(1 for original in mapping if _PLACEHOLDER.search(original))
    return MapStats(dict(sorted(counts.items())), shared, lookalikes)


# --------------------------------------------------------------------------- blobs


def encrypt_field(
    *,
    vault_id: str,
    job_id: str,
    key_version: int,
    blob_key: bytes,
    field: str,
    plaintext: bytes,
    chunk_size: int,
    random: crypto.Random,
) -> list[BlobRow]:
    """The blobs of one field: the file in chunks of ``chunk_size``, others as one blob."""
    if field == FIELD_FILE:
        pieces = [plaintext[i : i + chunk_size] for i in range(0, len(plaintext), chunk_size)]
        pieces = pieces or [b""]
    else:
        pieces = [plaintext]
    last = len(pieces) - 1
    return [
        BlobRow(
            job_id,
            field,
            idx,
            key_version,
            crypto.encrypt_blob(
                blob_key,
                piece,
                crypto.blob_aad(vault_id, job_id, key_version, field, idx, idx == last),
                random,
            ),
        )
        for idx, piece in enumerate(pieces)
    ]


def decrypt_field(*, vault_id: str, job_id: str, blob_key: bytes, rows: Sequence[BlobRow]) -> bytes:
    """The plaintext of one field from its blobs (sorted by index, all checked)."""
    rows = sorted(rows, key=lambda r: r.idx)
    if not rows:
        raise IntegrityError(f"job {job_id} lacks a stored field")
    versions = {r.key_version for r in rows}
    if [r.idx for r in rows] != list(range(len(rows))) or len(versions) != 1:
        raise IntegrityError(f"the chunks of job {job_id} are out of order or mixed")
    last = len(rows) - 1
    return b"".join(
        crypto.decrypt_blob(
            blob_key,
            r.data,
            crypto.blob_aad(vault_id, job_id, r.key_version, r.field, r.idx, r.idx == last),
        )
        for r in rows
    )


# --------------------------------------------------------------------------- seal


# (field name, name in the seal's message) of every sealed JobRow field, from the ``seal``
# metadata of the one definition (``vault.models.JobMeta``, ``vault.store.JobRow``).
SEALED_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (f.name, f.metadata.get("seal", f.name))
    for f in dataclasses.fields(JobRow)
    if f.metadata.get("seal", f.name) is not None
)


def sealed_state(status: str) -> str:
    """The part of a status the seal covers: ``expired`` is a pending job the server forgot
    (marked without a key, so it cannot re-seal); every other status is sealed as is."""
    return "pending" if status in ("pending", "expired") else status


def seal_message(
    vault_id: str, job: JobRow, blobs: Iterable[BlobRow], holders: crypto.Field = None
) -> bytes:
    """What the seal of ``job`` authenticates: its plaintext metadata and blob digests, and
    (seal format 2) ``holders``, who holds each key version (``None``: a format-1 seal)."""
    metadata: dict[str, crypto.Field] = {
        sealed_as: getattr(job, name) for name, sealed_as in SEALED_FIELDS
    }
    metadata["state"] = sealed_state(job.status)
    digests: list[crypto.Field] = [
        [b.field, b.idx, b.key_version, crypto.sha256(b.data)]
        for b in sorted(blobs, key=lambda b: (b.field, b.idx))
    ]
    return crypto.seal_message(vault_id, job.job_id, job.key_version, metadata, digests, holders)
