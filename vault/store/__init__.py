"""The vault's storage (tier L2): schema, migrations, transactions, row access, on SQLite
(a file, the default) or PostgreSQL (a ``postgresql://`` URL).

The only part of questa-vault that imports ``sqlite3`` (the standard library's; no wrapper, so
opening a vault costs no more than SQLite itself) or ``psycopg``. It knows tables and rows, not
cryptography: the custodian (L3) decides what the bytes in the rows mean. The layers:
``_database`` (``Database``, the backend-neutral database object: connection, transactions,
migrations, and one query object per part: ``db.users``, ``db.jobs``, ``db.blobs``,
``db.grants``, ``db.log``, ``db.meta``, ``db.audit``) with ``_sqlite`` and ``_postgres`` under
it; ``_open`` (``open_database``/``create_database``: the location picks the backend);
``_maintenance`` (``checkpoint``, ``vacuum``, ``backup``); ``_copy`` (moving rows between
vaults). See ``docs/storage.md``.
"""

from __future__ import annotations

from vault.config import (
    CREDENTIALS_REFUSED,
    DatabaseUrl,
    Location,
    is_database_url,
    vault_location,
)
from vault.store._audit import AuditTotalsRows, JobListRow, JobTotalsRow
from vault.store._copy import copy_rows, rows_digest
from vault.store._database import Database
from vault.store._listing import ListingKind, ListingRows
from vault.store._maintenance import backup, checkpoint, vacuum
from vault.store._migrations import MIGRATIONS
from vault.store._open import check_new_location, create_database, open_database
from vault.store._rows import BlobRow, GrantRow, JobRow, LogRow, UserRow
from vault.store._sqlite import BUSY_TIMEOUT_MS, SIDECARS

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CREDENTIALS_REFUSED",
    "MIGRATIONS",
    "SIDECARS",
    "AuditTotalsRows",
    "BlobRow",
    "Database",
    "DatabaseUrl",
    "GrantRow",
    "JobListRow",
    "JobRow",
    "JobTotalsRow",
    "ListingKind",
    "ListingRows",
    "Location",
    "LogRow",
    "UserRow",
    "backup",
    "check_new_location",
    "checkpoint",
    "copy_rows",
    "create_database",
    "is_database_url",
    "open_database",
    "rows_digest",
    "vacuum",
    "vault_location",
]
