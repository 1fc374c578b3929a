"""Frozen rows the store hands to the keyring: one dataclass per table, no raw dicts; and
the one reader of the JSON counts columns (``jobs.entity_counts``, ``access_log.counts``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vault.errors import IntegrityError


@dataclass(frozen=True)
class UserRow:
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


@dataclass(frozen=True)
class JobRow:
    job_id: str
    status: str
    file_type: str
    source: str
    created_at: float | None
    submitted_at: float | None
    fetched_at: float | None
    archived_at: float | None
    expires_at: float | None
    entity_count: int
    map_size: int
    entity_counts: Mapping[str, int]
    shared_placeholders: int
    placeholder_like_originals: int
    file_size: int
    chunk_count: int
    ciphertext_size: int
    key_version: int
    seal: bytes | None
    updated_at: float


@dataclass(frozen=True)
class GrantRow:
    job_id: str
    user: str
    key_version: int
    sealed_dek: bytes
    created_at: float


@dataclass(frozen=True)
class BlobRow:
    job_id: str
    field: str
    idx: int
    key_version: int
    data: bytes


@dataclass(frozen=True)
class LogRow:
    seq: int
    time: float
    user: str
    action: str
    job_id: str | None
    counts: Mapping[str, int] = field(default_factory=dict)
    prev_hash: str = ""
    entry_hash: str = ""
    subject: str | None = None  # the user acted upon (user-add, grant, revoke, ...)


def counts_column(text: Any) -> Mapping[str, int]:
    """A counts column parsed: a JSON object of integers, else ``IntegrityError``."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:  # TypeError: not text at all
        raise IntegrityError("a counts column of the vault is not valid JSON") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, int) for k, v in data.items()
    ):
        raise IntegrityError("a counts column of the vault has the wrong shape")
    return data
