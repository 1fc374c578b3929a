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

import typing

from vault._lazy import lazy_exports as _lazy_exports

# Where each public name lives, imported on first use: a restore opens a vault and reads rows
# but never loads the audit queries, the copier or the maintenance code (cold start).
_WHERE = {
    "BUSY_TIMEOUT_MS": "vault.store._sqlite",
    "CREDENTIALS_REFUSED": "vault.config",
    "MIGRATIONS": "vault.store._migrations",
    "SIDECARS": "vault.store._sqlite",
    "SUBJECTS": "vault.store._log",
    "AuditTotalsRows": "vault.store._audit",
    "BlobRow": "vault.store._rows",
    "Database": "vault.store._database",
    "DatabaseUrl": "vault.config",
    "GrantRow": "vault.store._rows",
    "JobListRow": "vault.store._audit",
    "JobRow": "vault.store._rows",
    "JobTotalsRow": "vault.store._audit",
    "ListingKind": "vault.store._listing",
    "ListingRows": "vault.store._listing",
    "Location": "vault.config",
    "LogRow": "vault.store._rows",
    "UserRow": "vault.store._rows",
    "backup": "vault.store._maintenance",
    "check_new_location": "vault.store._open",
    "checkpoint": "vault.store._maintenance",
    "copy_rows": "vault.store._copy",
    "create_database": "vault.store._open",
    "is_database_url": "vault.config",
    "open_database": "vault.store._open",
    "rows_digest": "vault.store._copy",
    "vacuum": "vault.store._maintenance",
    "vault_location": "vault.config",
}
__getattr__, __dir__ = _lazy_exports(__name__, _WHERE)

if typing.TYPE_CHECKING:
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
    from vault.store._log import SUBJECTS
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
    "SUBJECTS",
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
