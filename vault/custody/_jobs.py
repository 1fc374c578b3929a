"""Writing a job's key version, and the job's plaintext view.

``write_key_version`` is the one place that encrypts fields under a new DEK, seals the DEK to
recipients, re-seals the job and replaces its blobs; storing, submitting and revoking all go
through it (inside the caller's write transaction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import vault.crypto as crypto
from vault.custody import _envelope as env
from vault.custody import _state
from vault.errors import InputError
from vault.models import JOB_META_FIELDS, JobInfo
from vault.store import BlobRow, Database, GrantRow, JobRow, UserRow


def check_job_id(job_id: str) -> None:
    """The one job-id rule (``vault.client.check_job_id``: what the service's ids look like,
    what the HTTP client takes from a server and the command line from a user) at the
    store's boundary too: an id with ``/``, ``..``, a control character or a leading
    formula character would otherwise be planted by whoever may store a job (the fetch
    host's role) and become a default file name or a spreadsheet cell."""
    from vault.client import check_job_id as check

    check(job_id)


NewKeyVersion = tuple[Mapping[str, bytes], Sequence[UserRow]]  # fields, recipients


def write_key_version(
    db: Database,
    *,
    vault_id: str,
    row: JobRow,
    fields: Mapping[str, bytes],
    keep: Sequence[BlobRow],
    recipients: Sequence[UserRow],
    now: float,
    random: crypto.Random,
    chunk_size: int,
) -> JobRow:
    """Encrypt ``fields`` under a new key version (``row.key_version + 1``) sealed to
    ``recipients``, keep the blobs of ``keep`` whose field is not rewritten, re-seal, and write
    the row, blobs and grants; grants of versions no blob uses any more are deleted."""
    return write_key_versions(
        db,
        vault_id=vault_id,
        row=row,
        key_versions=[(fields, recipients)],
        keep=keep,
        now=now,
        random=random,
        chunk_size=chunk_size,
    )


def write_key_versions(
    db: Database,
    *,
    vault_id: str,
    row: JobRow,
    key_versions: Sequence[NewKeyVersion],
    keep: Sequence[BlobRow],
    now: float,
    random: crypto.Random,
    chunk_size: int,
) -> JobRow:
    """Like ``write_key_version`` for several new key versions at once: the i-th key version's
    fields are encrypted under version ``row.key_version + 1 + i`` with its own DEK, sealed to
    its own recipients only. The last key version is the job's new key version and seals the
    job, so its recipients are the job's readers. A field appears in one key version at most."""
    if not key_versions:
        raise InputError("internal: no key version to write")
    rewritten = {field for fields, _ in key_versions for field in fields}
    if len(rewritten) != sum(len(fields) for fields, _ in key_versions):
        raise InputError("internal: a field in two key versions")
    blobs = [b for b in keep if b.field not in rewritten]
    versions: list[int] = []
    sealed: list[GrantRow] = []
    seal_key = b""
    for offset, (fields, recipients) in enumerate(key_versions, start=1):
        version = row.key_version + offset
        versions.append(version)
        dek = crypto.new_dek(random)
        keys = crypto.job_keys(dek)
        seal_key = keys.seal_key  # the last key version seals the job
        for field, plaintext in fields.items():
            blobs += env.encrypt_field(
                vault_id=vault_id,
                job_id=row.job_id,
                key_version=version,
                blob_key=keys.blob_key,
                field=field,
                plaintext=plaintext,
                chunk_size=chunk_size,
                random=random,
            )
        for user in recipients:
            info = crypto.dek_info(vault_id, row.job_id, user.name, version)
            sealed.append(
                GrantRow(
                    row.job_id, user.name, version, crypto.seal_dek(dek, user.public_key, info), now
                )
            )
    row = replace(
        row,
        key_version=versions[-1],
        chunk_count=sum(1 for b in blobs if b.field == env.FIELD_FILE),
        ciphertext_size=sum(len(b.data) for b in blobs),
        updated_at=now,
    )
    # The seal authenticates who will hold each key version once the grants are written and
    # pruned (seal format 2). The row is written once, already sealed: a second write of it
    # in this transaction would be refused where the database lets an archiver update only
    # pending jobs (PostgreSQL roles, docs/team.md).
    live = {versions[-1], *(b.key_version for b in blobs)}
    users = {u.name: u for u in db.users.all()}
    kept = [(g.key_version, g.user) for g in db.grants.of_job(row.job_id) if g.key_version in live]
    holders = _state.holders_of([*kept, *((g.key_version, g.user) for g in sealed)], users)
    message = env.seal_message(vault_id, row, blobs, _state.seal_holders(holders))
    row = replace(row, seal=crypto.compute_seal(seal_key, message, crypto.SEAL_V2))
    db.jobs.put(row)
    db.blobs.delete(row.job_id)
    db.blobs.insert(blobs)
    for grant in sealed:
        db.grants.insert(grant)
    db.grants.prune(row.job_id, sorted(live))
    return row


def reseal(
    db: Database, *, vault_id: str, row: JobRow, seal_key: bytes, blobs: Sequence[BlobRow]
) -> JobRow:
    """Seal ``row`` over ``blobs`` and the job's grants as they are in the store now, write
    the row, and return it (inside the caller's write transaction)."""
    message = env.seal_message(
        vault_id, row, blobs, _state.seal_holders(_state.holders(db, row.job_id))
    )
    row = replace(row, seal=crypto.compute_seal(seal_key, message, crypto.SEAL_V2))
    db.jobs.put(row)
    return row


def job_info(row: JobRow, recipients: tuple[str, ...]) -> JobInfo:
    """The reader's view of a row: its ``JobMeta`` fields and the recipients."""
    return JobInfo(**{name: getattr(row, name) for name in JOB_META_FIELDS}, recipients=recipients)
