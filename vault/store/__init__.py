"""The vault's SQLite storage (tier L2): schema, migrations, transactions, row access.

The only part of questa-vault that imports ``sqlite3`` (the standard library's; no wrapper, so
opening a vault costs no more than SQLite itself). It knows tables
and rows, not cryptography: the keyring (L3) decides what the bytes in the rows mean.
See ``docs/storage.md`` for the schema.
"""

from __future__ import annotations

from vault.store._audit import AuditTotalsRows, JobListRow, JobTotalsRow
from vault.store._connection import BUSY_TIMEOUT_MS, SIDECARS
from vault.store._migrations import MIGRATIONS
from vault.store._rows import BlobRow, GrantRow, JobRow, LogRow, UserRow
from vault.store._store import Store

__all__ = [
    "BUSY_TIMEOUT_MS",
    "MIGRATIONS",
    "SIDECARS",
    "AuditTotalsRows",
    "BlobRow",
    "GrantRow",
    "JobListRow",
    "JobRow",
    "JobTotalsRow",
    "LogRow",
    "Store",
    "UserRow",
]
