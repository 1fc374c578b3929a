"""Frozen data objects that cross layers. No raw dicts between modules.

Helpers that belong to one module stay in that module; only what two or more tiers exchange
lives here. Mappings inside frozen dataclasses are treated as read-only by convention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, fields
from typing import Literal

from vault._dataclass import dataclass

# File types as the server names them, plus "text" for jobs made through /anonymize/text.
FileType = Literal["pdf", "docx", "csv", "excel", "text"]
FILE_TYPES: tuple[str, ...] = ("pdf", "docx", "csv", "excel", "text")
# File-name extension per file type (the server's "excel" is an .xlsx file).
EXTENSIONS: Mapping[str, str] = {
    "pdf": "pdf",
    "docx": "docx",
    "csv": "csv",
    "excel": "xlsx",
    "text": "txt",
}

# Remote job states (the server's words).
RemoteStatus = Literal["queued", "processing", "completed", "failed"]
REMOTE_STATUSES: tuple[str, ...] = ("queued", "processing", "completed", "failed")

# Local job states in the vault.
JobStatus = Literal["pending", "archived", "failed", "expired", "erased"]
JOB_STATUSES: tuple[str, ...] = ("pending", "archived", "failed", "expired", "erased")

# Every action the access log records (``log --action`` offers exactly these). An entry with
# another action is refused where it is written (``custody._log.append``), so a new action
# cannot be forgotten here.
LOG_ACTIONS: tuple[str, ...] = (
    "init",
    "user-add",
    "user-disable",
    "passwd",
    "submit",
    "fetch",
    "expire",
    "grant",
    "revoke",
    "erase",
    "restore",
    "export",
    "show",
    "audit-deep",
    "verify-deep",
    "backup",
)


@dataclass(frozen=True)
class RemoteJob:
    """A validated answer of ``GET /anonymize/status/{job_id}``."""

    job_id: str
    status: RemoteStatus
    progress: int
    file_type: str
    # The result and the map never appear in a repr (a traceback or a log line would leak them).
    result: bytes | None = field(repr=False)
    mapping: Mapping[str, str] = field(repr=False)  # original -> placeholder, as sent
    entity_count: int
    error: str | None
    created_at: float


@dataclass(frozen=True)
class TextResult:
    """A validated answer of ``POST /anonymize/text``."""

    anonymized_text: str = field(repr=False)
    mapping: Mapping[str, str] = field(repr=False)  # original -> placeholder
    entities: int


@dataclass(frozen=True)
class SubmitOptions:
    """What the user asked the server for (stored encrypted with the job)."""

    entities: str | None = None
    start_index: int = 0
    # (original, placeholder label): never in a repr
    custom_entities: tuple[tuple[str, str], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class JobContent:
    """Everything the vault stores for one job; the secret fields are encrypted at rest."""

    job_id: str
    status: JobStatus
    file_type: str
    created_at: float | None
    entity_count: int = 0
    # Secret (encrypted) fields, never in a repr:
    content: bytes | None = field(default=None, repr=False)
    mapping: Mapping[str, str] = field(default_factory=dict, repr=False)  # original -> placeholder
    error: str | None = field(default=None, repr=False)
    filename: str | None = field(default=None, repr=False)
    options: SubmitOptions | None = field(default=None, repr=False)
    source: Literal["upload", "text"] = "upload"


# A job's metadata is defined once, here: ``JobMeta`` holds the plaintext fields every view of a
# job shares, ``JobInfo`` adds what a reader sees (the recipients), the store's ``JobRow`` adds
# what only the table holds (chunk count, seal, update time). The store derives its column list
# and converters from these annotations, the custodian derives the seal's fields from the
# ``seal`` metadata below, the audit its JSON keys: a new field is added in one place.
#
# ``metadata={"seal": ...}``: the name a field has in the seal's message, or ``None`` for a field
# the seal does not cover (the job id and key version are bound by the seal's own arguments;
# ``expires_at`` is an estimate that may be revised without a key). Unmarked fields are sealed
# under their own name.
NOT_SEALED: Mapping[str, None] = {"seal": None}


@dataclass(frozen=True, kw_only=True)
class JobMeta:
    """Plaintext metadata of one job: what anyone may see without a key."""

    job_id: str = field(metadata=NOT_SEALED)
    status: JobStatus = field(metadata={"seal": "state"})  # sealed as ``sealed_state(status)``
    file_type: str
    source: str
    created_at: float | None = None
    submitted_at: float | None = None
    fetched_at: float | None = None
    archived_at: float | None = None
    expires_at: float | None = field(default=None, metadata=NOT_SEALED)
    entity_count: int = 0
    map_size: int = 0
    entity_counts: Mapping[str, int] = field(default_factory=dict)  # per placeholder type
    file_size: int = 0
    key_version: int = field(default=0, metadata=NOT_SEALED)
    # Map problems found at archive time (counts only, never values):
    shared_placeholders: int = 0  # placeholders that carry two or more originals
    placeholder_like_originals: int = 0  # originals that contain a placeholder-like text
    ciphertext_size: int = 0  # bytes of all the job's stored ciphertexts
    # The API base URL the job was submitted to or last fetched from (None: recorded before the
    # vault kept it). Where to poll, not content: the seal does not cover it.
    api_url: str | None = field(default=None, metadata=NOT_SEALED)

    @property
    def audit_time(self) -> float | None:
        """When the job entered the vault: archived, else fetched, submitted or created (the
        first known). ``audit --since/--until`` and ``erase --older-than`` count from it."""
        for ts in (self.archived_at, self.fetched_at, self.submitted_at, self.created_at):
            if ts is not None:
                return ts
        return None


@dataclass(frozen=True, kw_only=True)
class JobInfo(JobMeta):
    """A job's metadata as a reader sees it: ``JobMeta`` and who can read it."""

    recipients: tuple[str, ...] = ()  # users holding a grant at the current key version


JOB_META_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(JobMeta))
# JobMeta's fields, then JobInfo's own (its annotations): read without processing JobInfo,
# which most commands never make (vault._dataclass).
JOB_INFO_FIELDS: tuple[str, ...] = JOB_META_FIELDS + tuple(vars(JobInfo)["__annotations__"])


FetchOutcomeKind = Literal[
    "archived",
    "already-archived",
    "failed",
    "expired",
    "timeout",
    "error",
    "pending",
    "not-found",
]


@dataclass(frozen=True)
class FetchOutcome:
    """What happened to one job in a fetch, submit or sync run."""

    job_id: str
    outcome: FetchOutcomeKind
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in ("archived", "already-archived", "pending")


@dataclass(frozen=True)
class UserInfo:
    """A vault user (no secret material)."""

    name: str
    enabled: bool
    has_private_key: bool  # False for a --public-key user
    created_at: float
    fingerprint: str  # short hex digest of the X25519 public key
    unsafe_kdf: bool = False  # its passphrase KDF is below the floor (--unsafe-kdf)


@dataclass(frozen=True)
class LogEntry:
    """One row of the hash-chained access log. Counts only, never values."""

    seq: int
    time: float
    user: str
    action: str
    job_id: str | None
    counts: Mapping[str, int]
    prev_hash: str
    entry_hash: str
    subject: str | None = None  # the user acted upon (user-add, grant, revoke, ...)
    # The state the entry left behind (key version, seal digest, holders, KDF settings);
    # None for entries written before the vault recorded it.
    facts: Mapping[str, str | int] | None = None
