"""``backup``: a consistent online copy into a new SQLite file (the SQLite backup API for a
file vault, a logical export of every row for a PostgreSQL vault), checked and logged; a
PostgreSQL vault is restored from it with ``migrate``."""

from __future__ import annotations

from pathlib import Path

from vault._dataclass import dataclass
from vault.custody import Custodian
from vault.errors import IntegrityError, VaultError
from vault.store import backup as backup_database


@dataclass(frozen=True)
class Backup:
    """A finished backup: where the copy is, its size, and the log head it holds."""

    path: Path
    size: int  # bytes of the copy's main file
    head: tuple[int, str]  # the log head the copy holds


def backup(custodian: Custodian, path: Path, *, actor: str) -> Backup:
    """A consistent online copy at ``path`` (``VaultExists`` if it exists), verified to open
    with its log chain intact and logged in the source vault, all before it is linked into
    place: a copy whose log entry is refused (by the role, a guard trigger, a lost connection)
    is removed, so no unlogged copy is left."""
    dest = Path(path)
    # nothing is copied when the role may not log this backup (as this actor) at all
    custodian.check_may_log("backup", action="backup", actor=actor)
    done: list[tuple[int, tuple[int, str]]] = []

    def publish(copy: Path) -> None:
        try:
            with Custodian.open(copy) as opened:
                head = opened.verify_chain()
        except VaultError as exc:
            raise IntegrityError(f"the backup at {dest} does not verify: {exc}") from exc
        size = copy.stat().st_size
        custodian.record(actor, "backup", None, {"log_entries": head[0], "bytes": size})
        done.append((size, head))

    backup_database(custodian.db, dest, publish)
    size, head = done[0]
    return Backup(dest, size, head)
