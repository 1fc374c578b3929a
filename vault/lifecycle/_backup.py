"""``backup``: a consistent online copy into a new SQLite file (the SQLite backup API for a
file vault, a logical export of every row for a PostgreSQL vault), checked and logged; a
PostgreSQL vault is restored from it with ``migrate``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vault.custody import Custodian
from vault.errors import IntegrityError, VaultError
from vault.store import backup as backup_database


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int  # bytes of the copy's main file
    head: tuple[int, str]  # the log head the copy holds


def backup(custodian: Custodian, path: Path, *, actor: str) -> Backup:
    """A consistent online copy at ``path`` (``VaultExists`` if it exists), then verified to
    open with its log chain intact, then logged in the source vault."""
    dest = Path(path)
    custodian.check_may_log("backup")  # else a complete copy would be left behind, unlogged
    backup_database(custodian.db, dest)
    try:
        with Custodian.open(dest) as copy:
            head = copy.verify_chain()
    except VaultError as exc:
        raise IntegrityError(f"the backup at {dest} does not verify: {exc}") from exc
    size = dest.stat().st_size
    custodian.record(actor, "backup", None, {"log_entries": head[0], "bytes": size})
    return Backup(dest, size, head)
