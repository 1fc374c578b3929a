"""``migrate``: copy a vault between SQLite and PostgreSQL (either way), then prove the copy.

The rows travel unchanged (``vault.store.copy_rows``: same ciphertexts, sealed keys, seals, key
versions and log entries), so the copy is the same vault: same vault id, same passphrases.
Afterwards the destination must hold byte for byte what the source held in the snapshot the
copy read (a digest of every row of every table, compared), its log chain must recompute, and
its head must be an entry of the source's chain. With an unlocked session (``--deep``) every job
the user can open in the destination is decrypted and its seal checked as well.

Idempotent and resumable: rows are upserted by primary key, jobs travel in batches, each batch
one destination transaction, so a run that was killed leaves whole jobs and the next run
converges on the source. Before anything is written the destination must be empty, or hold
the same vault with a log that is a prefix of the source's (every entry it has is the source's
entry of that number, hash for hash): a destination holding a different vault, or one used or
newer than the source (an old backup migrated onto the live vault would otherwise write back
erased jobs, revoked grants and old passphrases), is refused with nothing written.

The deep check (``unlock``) is not logged in the copy: it releases nothing, and an entry the
source does not have would make the copy no longer a prefix of it, so the next ``migrate``
could not bring over the source's newer entries.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vault._dataclass import dataclass
from vault.custody import Custodian, Session
from vault.errors import InputError, IntegrityError, VaultNotFound
from vault.lifecycle._verify import verify
from vault.store import (
    Database,
    DatabaseUrl,
    Location,
    copy_rows,
    create_database,
    open_database,
    rows_digest,
    vault_location,
)


@dataclass(frozen=True)
class Migrated:
    """What a migration copied, and the log head the new vault holds."""

    jobs: int
    log_entries: int
    head: tuple[int, str]
    deep_checked: int  # jobs decrypted and seal-checked (0 without a session)
    already: int = 0  # log entries the destination held before (an older copy brought forward)


def _same(a: Location, b: Location) -> bool:
    """The same vault location as written (URLs compared as given, not as shown); the same
    vault spelled differently is found by identity once both are open
    (``Database.same_database``)."""
    if isinstance(a, DatabaseUrl) and isinstance(b, DatabaseUrl):
        return a.url == b.url
    return str(a) == str(b)


def _open_or_create(location: Location) -> Database:
    if isinstance(location, Path) and not location.exists():
        return create_database(location)
    try:
        return open_database(location)
    except VaultNotFound:
        if isinstance(location, Path):
            raise
        try:
            return create_database(location)  # an empty database
        except VaultNotFound as exc:
            raise VaultNotFound(
                f"the destination database {location} does not exist: create it first "
                "(CREATE DATABASE name OWNER role; docs/team.md)"
            ) from exc


def _check_prefix(source: Custodian, target: Database, where: str) -> int:
    """``InputError`` unless every log entry of ``target`` is the source's entry of the same
    number (hash for hash): only then is the destination an older (or partial) copy of the
    source that the copy may bring up to date."""
    own = target.query("SELECT seq, entry_hash FROM access_log")
    if not own:
        return 0
    theirs = dict(source.db.query("SELECT seq, entry_hash FROM access_log"))
    extra = sum(1 for seq, digest in own if theirs.get(seq) != digest)
    if extra:
        entries = "entry" if extra == 1 else "entries"
        raise InputError(
            f"{where} has {extra} log {entries} the source does not have (it was used since "
            "it was copied, or it is newer than the source): nothing written; migrate into an "
            "empty database, or from the vault that holds all of its entries"
        )
    return len(own)


def migrate(
    source: Custodian,
    dest: Location | str,
    *,
    unlock: Callable[[Custodian], Session] | None = None,
    batch: int = 200,
    on_jobs: Callable[[int], None] | None = None,
) -> Migrated:
    """Copy ``source`` into ``dest`` (a new or partly copied vault) and verify the copy."""
    where = vault_location(dest)
    if _same(where, source.path):
        raise InputError("the source and the destination are the same vault")
    target = _open_or_create(where)
    try:
        if source.db.same_database(target):  # spelled differently: by identity
            raise InputError("the source and the destination are the same vault")
        other = target.meta.get("vault_id")
        if other is not None and other != source.vault_id:
            raise InputError(f"{where} holds a different vault; refusing to mix them")
        already = _check_prefix(source, target, str(where))
        expected = copy_rows(source.db, target, batch=batch, on_jobs=on_jobs)
        if rows_digest(target) != expected:
            raise IntegrityError(
                f"the copy at {where} differs from the source (was the destination changed "
                "during the copy?); run migrate again"
            )
    finally:
        target.close()
    with Custodian.open(where) as copy:
        head = copy.verify_chain()  # IntegrityError names the first entry that does not fit
        if head[0] and (head[0], head[1]) not in {
            (e.seq, e.entry_hash) for e in source.log_entries()
        }:
            raise IntegrityError(f"the log of the copy at {where} is not the source's log")
        session = unlock(copy) if unlock is not None else None
        report = verify(copy, session=session, record=False)
        if not report.ok:
            first = report.findings[0]
            raise IntegrityError(
                f"the copy at {where} does not verify: {len(report.findings)} finding(s), "
                f"first [{first.check}] {first.message}"
            )
        return Migrated(report.jobs, report.log_entries, head, report.deep_checked, already)
