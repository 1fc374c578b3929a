"""questa-vault: archive Questa AI anonymization results encrypted, restore, audit.

The public API (see docs/python-api.md)::

    from vault import Vault, QuestaClient

Archiving and auditing need no secret; restoring needs an unlocked user; everything returns
data objects and raises ``VaultError`` subclasses.
"""

from __future__ import annotations

import typing

from vault._lazy import lazy_exports as _lazy_exports
from vault._version import __version__

# Where each public name lives. Imported on first use, so ``import vault`` stays cheap (the
# network stack, SQLite and cryptography load only when a command needs them).
_WHERE = {
    "AccessDenied": "vault.errors",
    "ApiError": "vault.errors",
    "AuditQuery": "vault.audit",
    "AuditReport": "vault.audit",
    "FetchOutcome": "vault.models",
    "Incomplete": "vault.errors",
    "InputError": "vault.errors",
    "IntegrityError": "vault.errors",
    "JobInfo": "vault.models",
    "KdfParams": "vault.crypto",
    "LogEntry": "vault.models",
    "PlaceholderCollision": "vault.errors",
    "QuestaClient": "vault.client",
    "RestoreOptions": "vault.restore",
    "RestoreReport": "vault.restore",
    "RunOptions": "vault.archive",
    "StreamRestorer": "vault.restore",
    "SubmitOptions": "vault.models",
    "Unlocked": "vault.api",
    "UserInfo": "vault.models",
    "Vault": "vault.api",
    "VaultError": "vault.errors",
    "invert_map": "vault.placeholders",
    "restore_text": "vault.restore",
}
__getattr__, __dir__ = _lazy_exports(__name__, _WHERE)

if typing.TYPE_CHECKING:
    from vault.api import Unlocked, Vault
    from vault.archive import RunOptions
    from vault.audit import AuditQuery, AuditReport
    from vault.client import QuestaClient
    from vault.crypto import KdfParams
    from vault.errors import (
        AccessDenied,
        ApiError,
        Incomplete,
        InputError,
        IntegrityError,
        PlaceholderCollision,
        VaultError,
    )
    from vault.models import FetchOutcome, JobInfo, LogEntry, SubmitOptions, UserInfo
    from vault.placeholders import invert_map
    from vault.restore import RestoreOptions, RestoreReport, StreamRestorer, restore_text

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
    "StreamRestorer",
    "SubmitOptions",
    "Unlocked",
    "UserInfo",
    "Vault",
    "VaultError",
    "__version__",
    "invert_map",
    "restore_text",
]
