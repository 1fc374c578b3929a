"""Lifecycle of archived jobs: grant, revoke, erase, verify, backup.

Orchestration over the custodian (L3) and its store (L2); the cryptography stays in the custodian.
``Session.grant`` and ``Session.revoke`` do the key work (revoke re-keys each affected job in
one transaction); this module chooses the jobs (``--all``), refuses a revoke that would leave a
job without a reader unless forced, and adds what the custodian does not offer itself:

- ``erase``: crypto-shredding. In one transaction per call it deletes the jobs' grants (the
  sealed DEKs) and ciphertexts, keeps a tombstone row (status ``erased``; counts and times stay
  for audit; the seal, useless without the DEK, goes), and logs one ``erase`` entry per job.
  Then the WAL is checkpointed and truncated, so with ``secure_delete`` on no byte of the
  ciphertexts or wrapped keys remains in ``vault.db``, ``-wal`` or ``-shm``.
- ``verify``: every check runs and reports findings instead of stopping at the first one:
  SQLite's ``integrity_check``, the schema (migrations, tables, indexes, the log's append-only
  triggers), the log's hash chain and an expected head, and the structure of every job (a live
  job has a reader; chunks are contiguous; erased jobs hold no ciphertext or grant). With a
  session (``--deep``) every job the user can open is decrypted and its seal checked.
- ``backup``: the SQLite online backup API (a plain copy of a WAL database can miss committed
  data), or a logical export of a PostgreSQL vault into a new SQLite file; refuses to
  overwrite; the copy is 0600; the backup is logged.
- ``migrate``: a vault copied between SQLite and PostgreSQL, verified, resumable.

Nothing here prints; results are frozen dataclasses, errors ``VaultError`` subclasses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault._lazy import lazy_exports

# Imported on first use (see vault._lazy): opening a vault for ``jobs`` loads none of this.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "RevokePlan": "vault.lifecycle._access",
        "grant": "vault.lifecycle._access",
        "known_jobs": "vault.lifecycle._access",
        "live_jobs": "vault.lifecycle._access",
        "older_than": "vault.lifecycle._access",
        "plan_revoke": "vault.lifecycle._access",
        "revoke": "vault.lifecycle._access",
        "Backup": "vault.lifecycle._backup",
        "backup": "vault.lifecycle._backup",
        "Erased": "vault.lifecycle._erase",
        "erase": "vault.lifecycle._erase",
        "Migrated": "vault.lifecycle._migrate",
        "migrate": "vault.lifecycle._migrate",
        "Finding": "vault.lifecycle._verify",
        "VerifyReport": "vault.lifecycle._verify",
        "verify": "vault.lifecycle._verify",
    },
)

if TYPE_CHECKING:
    from vault.lifecycle._access import (
        RevokePlan,
        grant,
        known_jobs,
        live_jobs,
        older_than,
        plan_revoke,
        revoke,
    )
    from vault.lifecycle._backup import Backup, backup
    from vault.lifecycle._erase import Erased, erase
    from vault.lifecycle._migrate import Migrated, migrate
    from vault.lifecycle._verify import Finding, VerifyReport, verify

__all__ = [
    "Backup",
    "Erased",
    "Finding",
    "Migrated",
    "RevokePlan",
    "VerifyReport",
    "backup",
    "erase",
    "grant",
    "known_jobs",
    "live_jobs",
    "migrate",
    "older_than",
    "plan_revoke",
    "revoke",
    "verify",
]
