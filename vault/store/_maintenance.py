"""Maintenance of an open vault database: what ``erase``, ``backup`` and an administrator run
besides the rows. Functions over a ``Database``, one per task; the backends only provide
``maintenance_statement`` (and SQLite ``copy_to``).

- ``checkpoint`` after an erase: SQLite copies its write-ahead log into the file and truncates
  it (``secure_delete`` already zeroed the freed pages); PostgreSQL vacuums the tables erase
  shreds in, so dead row versions are reclaimed (docs/team.md says what WAL and backups may
  still hold).
- ``vacuum`` rebuilds the storage so freed space leaves it (SQLite ``VACUUM``, PostgreSQL
  ``VACUUM FULL``).
- ``backup`` writes a consistent copy into a new SQLite vault file (0600): the SQLite backup
  API for a file, a logical export of every row (``_copy``) for PostgreSQL. Either copy opens
  as a vault, ``verify`` checks it and ``migrate`` moves it back.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

from vault.errors import StoreError, VaultBusy, VaultExists
from vault.store._copy import copy_rows
from vault.store._database import Database
from vault.store._sqlite import SqliteDatabase, store_error


def checkpoint(db: Database) -> None:
    """After an erase: leave no shredded byte where the engine could hand it back."""
    if db.dialect == "sqlite":
        row = db.maintenance_statement("PRAGMA wal_checkpoint(TRUNCATE)")
        if row and int(row[0][0]) != 0:
            raise VaultBusy("the vault is busy: the write-ahead log could not be emptied")
    else:
        db.maintenance_statement("VACUUM grants, blobs, jobs")


def vacuum(db: Database) -> None:
    """Rebuild the storage so freed space leaves it."""
    db.maintenance_statement("VACUUM" if db.dialect == "sqlite" else "VACUUM FULL")


def backup(db: Database, dest: Path, publish: Callable[[Path], None] | None = None) -> None:
    """A consistent copy of ``db`` into the new SQLite file ``dest`` (0600; ``VaultExists``).

    The copy is made in a private directory (0700) beside ``dest``: SQLite's journal and WAL
    sidecars live where nobody else can plant a link. ``publish(copy)`` is called with the
    complete copy before it is linked into place (``backup`` verifies it and commits its log
    entry there): if it raises, the copy is removed and nothing is left at ``dest``. ``link``
    never follows or replaces anything at ``dest``."""
    dest = Path(dest)
    if os.path.lexists(dest):  # the same refusal whatever the backend
        raise VaultExists(f"{dest} already exists; refusing to overwrite it")
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    except OSError as exc:
        raise StoreError(f"cannot create {dest}: {exc.strerror}") from exc
    copy = work / "backup.db"
    try:
        if isinstance(db, SqliteDatabase):
            _file_backup(db, copy)
        else:
            _row_backup(db, copy)
        if publish is not None:
            publish(copy)
        os.link(copy, dest)
    except FileExistsError as exc:
        raise VaultExists(f"{dest} already exists; refusing to overwrite it") from exc
    except OSError as exc:
        raise StoreError(f"cannot create {dest}: {exc.strerror}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _row_backup(db: Database, copy: Path) -> None:
    """A logical export of every row into the new SQLite vault ``copy``."""
    target = SqliteDatabase.create(copy)
    try:
        with db.read(), target.write():
            copy_rows(db, target)
    except BaseException:
        target.discard()
        raise
    target.close()


def _file_backup(db: SqliteDatabase, copy: Path) -> None:
    """The SQLite backup API into the new file ``copy``."""
    try:
        os.close(os.open(copy, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        target = sqlite3.connect(str(copy), isolation_level=None)
        try:
            db.copy_to(target)
            target.execute("PRAGMA journal_mode = WAL")
        finally:
            target.close()  # the last connection: the WAL is checkpointed and removed
    except sqlite3.Error as exc:
        raise store_error(exc) from exc
