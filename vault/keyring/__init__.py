"""The vault proper (tier L3): users and their keys, per-job envelope encryption, grants,
the hash-chained access log, and unlocking.

``Keyring`` is an open vault that holds no secret: archiving and auditing work with public
keys only. ``Keyring.unlock`` returns a ``Session`` (an unlocked user) that can read. The
contract other parts code against is in ``docs/architecture.md``; byte formats and schema are
in ``docs/storage.md``; the threat model is in ``docs/security.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault._lazy import lazy_exports

# Imported on first use (see vault._lazy).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "analyse_map": "vault.keyring._envelope",
        "default_kdf": "vault.crypto",
        "parse_head": "vault.keyring._log",
        "Clock": "vault.keyring._keyring",
        "KdfParams": "vault.crypto",
        "Keyring": "vault.keyring._keyring",
        "MapStats": "vault.keyring._envelope",
        "Session": "vault.keyring._session",
        "StateProblem": "vault.keyring._state",
    },
)

if TYPE_CHECKING:
    from vault.crypto import KdfParams, default_kdf
    from vault.keyring._envelope import MapStats, analyse_map
    from vault.keyring._keyring import Clock, Keyring
    from vault.keyring._log import parse_head
    from vault.keyring._session import Session
    from vault.keyring._state import StateProblem

__all__ = [
    "Clock",
    "KdfParams",
    "Keyring",
    "MapStats",
    "Session",
    "StateProblem",
    "analyse_map",
    "default_kdf",
    "parse_head",
]
