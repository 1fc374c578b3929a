"""Custody of the vault's records (tier L3): users and their keys, per-job envelope
encryption, grants, the hash-chained access log, and unlocking.

The vault is ``vault.Vault``; the ``Custodian`` is the part of it that keeps the records in
its custody, holding no secret: archiving and auditing work with public keys only.
``Custodian.unlock`` returns a ``Session`` (an unlocked user) that can read. The
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
        "analyse_map": "vault.custody._envelope",
        "FIELD_FILE": "vault.custody._envelope",
        "FIELDS": "vault.custody._envelope",
        "LAST_LOG_TIME": "vault.custody._log",
        "default_kdf": "vault.crypto",
        "parse_head": "vault.custody._log",
        "Clock": "vault.custody._custodian",
        "KdfParams": "vault.crypto",
        "Custodian": "vault.custody._custodian",
        "MapStats": "vault.custody._envelope",
        "Session": "vault.custody._session",
        "StateProblem": "vault.custody._state",
    },
)

if TYPE_CHECKING:
    from vault.crypto import KdfParams, default_kdf
    from vault.custody._custodian import Clock, Custodian
    from vault.custody._envelope import FIELD_FILE, FIELDS, MapStats, analyse_map
    from vault.custody._log import LAST_LOG_TIME, parse_head
    from vault.custody._session import Session
    from vault.custody._state import StateProblem

__all__ = [
    "FIELDS",
    "FIELD_FILE",
    "LAST_LOG_TIME",
    "Clock",
    "Custodian",
    "KdfParams",
    "MapStats",
    "Session",
    "StateProblem",
    "analyse_map",
    "default_kdf",
    "parse_head",
]
