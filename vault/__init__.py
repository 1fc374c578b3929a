"""questa-vault: archive Questa AI anonymization results encrypted, restore, audit.

The public API (see docs/python-api.md)::

    from vault import Vault, QuestaClient

Archiving and auditing need no secret; restoring needs an unlocked user; everything returns
data objects and raises ``VaultError`` subclasses.
"""

from __future__ import annotations

from vault._version import __version__
from vault.api import Unlocked, Vault
from vault.archive import RunOptions
from vault.client import QuestaClient
from vault.errors import (
    AccessDenied,
    ApiError,
    Incomplete,
    InputError,
    IntegrityError,
    PlaceholderCollision,
    VaultError,
)
from vault.keyring import KdfParams
from vault.models import FetchOutcome, JobInfo, LogEntry, SubmitOptions, UserInfo
from vault.placeholders import invert_map
from vault.report import AuditQuery, AuditReport
from vault.restore import RestoreOptions, RestoreReport, restore_text

__all__ = [
    "AccessDenied",
    "ApiError",
    "AuditQuery",
    "AuditReport",
    "FetchOutcome",
    "Incomplete",
    "InputError",
    "IntegrityError",
    "JobInfo",
    "KdfParams",
    "LogEntry",
    "PlaceholderCollision",
    "QuestaClient",
    "RestoreOptions",
    "RestoreReport",
    "RunOptions",
    "SubmitOptions",
    "Unlocked",
    "UserInfo",
    "Vault",
    "VaultError",
    "__version__",
    "invert_map",
    "restore_text",
]
