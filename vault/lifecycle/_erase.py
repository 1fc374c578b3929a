"""Crypto-shredding: delete a job's wrapped keys and ciphertexts, keep a tombstone, empty the
write-ahead log (see the package docstring)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from vault._dataclass import dataclass
from vault.custody import Custodian
from vault.errors import StoreError
from vault.lifecycle._access import known_jobs
from vault.store import Database, checkpoint

Clock = Callable[[], float]


@dataclass(frozen=True)
class Erased:
    """One crypto-shredded job (counts only)."""

    job_id: str
    grants_deleted: int
    blobs_deleted: int


def erase(
    custodian: Custodian,
    job_ids: Sequence[str],
    *,
    actor: str,
    clock: Clock = time.time,
) -> list[Erased]:
    """Crypto-shred jobs (see the module docstring); the newly erased jobs are returned.

    ``UnknownJob`` (before any change) for an id the vault does not hold. Already-erased jobs
    change nothing, but the WAL is emptied whenever any job was named: the earlier erase of
    such a job may have left its old pages in ``-wal``. If the WAL cannot be emptied (another
    process holds a read transaction), the erase stays committed and ``StoreError`` says to
    erase any of the jobs again by id once no other process uses the vault.
    """
    db = custodian.db
    jobs = known_jobs(custodian, job_ids)
    done: list[Erased] = []
    with db.write():
        for info in jobs:
            row = db.jobs.get(info.job_id)
            if row is None or row.status == "erased":
                continue
            grants = db.grants.delete(row.job_id)
            blobs = db.blobs.delete(row.job_id)
            db.jobs.put(replace(row, status="erased", seal=None, updated_at=clock()))
            custodian.record(
                actor,
                "erase",
                row.job_id,
                {
                    "grants": grants,
                    "blobs": blobs,
                    "map_entries": row.map_size,
                    "entities": row.entity_count,
                },
            )
            done.append(Erased(row.job_id, grants, blobs))
    if jobs:
        _checkpoint(db)
    return done


def _checkpoint(db: Database) -> None:
    try:
        checkpoint(db)
    except StoreError as exc:
        raise StoreError(
            "the jobs are erased, but the write-ahead log could not be emptied because "
            "another process is reading the vault: pieces of their keys and ciphertexts may "
            "remain in the -wal file until it is; once no other process uses the vault, erase "
            "any one of these jobs again by its id (that empties it)"
        ) from exc
