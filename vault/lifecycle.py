"""Lifecycle of archived jobs: grant, revoke, erase, verify, backup.

Orchestration over the keyring (L3) and its store (L2); the cryptography stays in the keyring.
``Session.grant`` and ``Session.revoke`` do the key work (revoke re-keys each affected job in
one transaction); this module chooses the jobs (``--all``), refuses a revoke that would leave a
job without a reader unless forced, and adds what the keyring does not offer itself:

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
  data); refuses to overwrite; the copy is 0600; the backup is logged.

Nothing here prints; results are frozen dataclasses, errors ``VaultError`` subclasses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from vault.errors import (
    AccessDenied,
    InputError,
    IntegrityError,
    NoGrant,
    StoreError,
    UnknownJob,
    UnknownUser,
    VaultError,
)
from vault.keyring import Keyring, Session, parse_head
from vault.models import JobInfo, LogEntry
from vault.store import Store

Clock = Callable[[], float]

# ---------------------------------------------------------------------------------------------
# Choosing jobs


def live_jobs(keyring: Keyring) -> list[JobInfo]:
    """Every job that is not erased."""
    return [j for j in keyring.list_jobs() if j.status != "erased"]


def known_jobs(keyring: Keyring, job_ids: Iterable[str]) -> list[JobInfo]:
    """The named jobs, in the order given (duplicates dropped); ``UnknownJob`` for any that
    the vault does not hold."""
    out: list[JobInfo] = []
    seen: set[str] = set()
    for job_id in job_ids:
        if job_id in seen:
            continue
        seen.add(job_id)
        job = keyring.get_job(job_id)
        if job is None:
            raise UnknownJob(f"no job {job_id} in this vault")
        out.append(job)
    return out


def older_than(jobs: Iterable[JobInfo], days: float, *, now: float) -> list[JobInfo]:
    """Jobs (not yet erased) that entered the vault more than ``days`` days before ``now``.

    The age counts from ``JobInfo.audit_time`` (archived, else fetched,
    submitted or created); a job with no time at all is never selected.
    """
    if days < 0:
        raise InputError("--older-than takes a number of days, 0 or more")
    cutoff = now - days * 86400
    selected = []
    for job in jobs:
        ts = job.audit_time
        if job.status != "erased" and ts is not None and ts < cutoff:
            selected.append(job)
    return selected


# ---------------------------------------------------------------------------------------------
# Grant and revoke


def grant(
    keyring: Keyring, session: Session, user: str, job_ids: Sequence[str] | None
) -> list[str]:
    """Share jobs with ``user``; ``None`` means every live job the session's user can read.

    Returns the jobs newly granted (jobs ``user`` already holds are left alone).
    """
    if job_ids is None:
        ids = [j.job_id for j in live_jobs(keyring) if session.user in j.recipients]
    else:
        ids = [j.job_id for j in known_jobs(keyring, job_ids)]
    if not ids:
        return []
    return session.grant(user, ids)


@dataclass(frozen=True)
class RevokePlan:
    """What a revoke would do, worked out before any change."""

    user: str
    job_ids: tuple[str, ...]  # jobs the user holds a grant for: these are re-keyed
    orphaned: tuple[str, ...]  # of those, jobs nobody else could read afterwards
    not_rekeyable: tuple[str, ...]  # of those, jobs the acting user cannot read (cannot re-key)


def plan_revoke(
    keyring: Keyring, actor: str, user: str, job_ids: Sequence[str] | None
) -> RevokePlan:
    """Which jobs a revoke of ``user`` touches; ``None`` means all of the user's jobs."""
    if user not in {u.name for u in keyring.list_users()}:
        raise UnknownUser(f"no user {user} in this vault")
    jobs = live_jobs(keyring) if job_ids is None else known_jobs(keyring, job_ids)
    store = keyring.store
    held: list[str] = []
    orphaned: list[str] = []
    blocked: list[str] = []
    for job in jobs:
        if job.status == "erased":
            if job_ids is not None:
                raise UnknownJob(f"job {job.job_id} was erased")
            continue
        # Any key version counts: an older grant still opens the fields of that version.
        if not store.grants(job.job_id, user):
            continue
        held.append(job.job_id)
        if not set(job.recipients) - {user}:
            orphaned.append(job.job_id)
        if actor not in job.recipients:
            blocked.append(job.job_id)
    return RevokePlan(user, tuple(held), tuple(orphaned), tuple(blocked))


def _listing(job_ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(job_ids[:limit])
    more = len(job_ids) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def revoke(session: Session, plan: RevokePlan, *, force: bool = False) -> list[str]:
    """Withdraw the plan's grants and re-key its jobs in one transaction; the jobs re-keyed.

    Refuses (``InputError``) when a job would be left without a reader unless ``force``:
    forcing makes those jobs unreadable for good. ``NoGrant`` when the acting user cannot read
    a job it would have to re-key.
    """
    if plan.not_rekeyable:
        raise NoGrant(
            f"user {session.user} cannot re-key {len(plan.not_rekeyable)} job(s) that "
            f"{plan.user} holds ({_listing(plan.not_rekeyable)}): revoke as a user who holds "
            "a grant for them"
        )
    if plan.orphaned and not force:
        raise InputError(
            f"refusing: {plan.user} is the last user with access to "
            f"{len(plan.orphaned)} job(s) ({_listing(plan.orphaned)}); revoking would make "
            "them unreadable for good. Use --force to do it anyway, or erase them"
        )
    if not plan.job_ids:
        return []
    return session.revoke(plan.user, list(plan.job_ids), force=force)


# ---------------------------------------------------------------------------------------------
# Erase


@dataclass(frozen=True)
class Erased:
    """One crypto-shredded job (counts only)."""

    job_id: str
    grants_deleted: int
    blobs_deleted: int


def erase(
    keyring: Keyring,
    job_ids: Sequence[str],
    *,
    actor: str,
    clock: Clock = time.time,
) -> list[Erased]:
    """Crypto-shred jobs (see the module docstring); already-erased jobs are skipped.

    ``UnknownJob`` (before any change) for an id the vault does not hold. If the WAL cannot be
    emptied afterwards (another process is reading), the erase stays committed and
    ``StoreError`` says to run ``verify``/erase again once the vault is idle.
    """
    store = keyring.store
    jobs = known_jobs(keyring, job_ids)
    done: list[Erased] = []
    with store.write():
        for info in jobs:
            row = store.get_job(info.job_id)
            if row is None or row.status == "erased":
                continue
            grants = store.delete_grants(row.job_id)
            blobs = store.delete_blobs(row.job_id)
            store.put_job(replace(row, status="erased", seal=None, updated_at=clock()))
            keyring.record(
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
    if done:
        _checkpoint(store)
    return done


def _checkpoint(store: Store) -> None:
    try:
        store.checkpoint()
    except StoreError as exc:
        raise StoreError(
            "the jobs were erased, but the write-ahead log could not be emptied because "
            "another process is using the vault; run `questa-vault verify` when it is idle "
            "and erase again to flush it"
        ) from exc


# ---------------------------------------------------------------------------------------------
# Verify


@dataclass(frozen=True)
class Finding:
    """One problem ``verify`` found. ``check`` names the check; the message holds no value."""

    check: str  # database | schema | log | head | structure | deep
    message: str
    job_id: str | None = None


@dataclass(frozen=True)
class VerifyReport:
    findings: tuple[Finding, ...]
    jobs: int  # jobs whose structure was checked
    deep_checked: int  # jobs decrypted and seal-checked (--deep)
    deep_skipped: int  # jobs the user holds no grant for (--deep)
    log_entries: int
    head: tuple[int, str]  # the log's stored head (seq, hash)

    @property
    def ok(self) -> bool:
        return not self.findings


def verify(
    keyring: Keyring,
    *,
    session: Session | None = None,
    expect_head: str | None = None,
) -> VerifyReport:
    """Run every check and collect the findings (an empty tuple: all is well).

    A check that cannot run at all (the store fails, a row cannot be read) becomes a finding
    of its own, and the other checks still run.
    """
    expected = parse_head(expect_head) if expect_head is not None else None
    store = keyring.store
    findings: list[Finding] = []

    def attempt(check: str, run: Callable[[], list[Finding]]) -> None:
        try:
            findings.extend(run())
        except (StoreError, IntegrityError) as exc:
            findings.append(Finding(check, str(exc)))

    attempt("database", lambda: [Finding("database", p) for p in store.integrity_check()])
    attempt("schema", lambda: [Finding("schema", p) for p in store.schema_problems()])

    def check_chain() -> list[Finding]:
        keyring.verify_chain()  # IntegrityError names the first entry that does not fit
        return []

    attempt("log", check_chain)
    entries: list[LogEntry] = []
    head = (0, "")

    def read_log() -> list[Finding]:
        nonlocal head
        entries.extend(keyring.log_entries())
        head = keyring.log_head()
        if expected is None:
            return []
        return _head_findings(expected, {e.seq: e.entry_hash for e in entries}, head)

    attempt("head", read_log)
    jobs: list[JobInfo] = []

    def check_structure() -> list[Finding]:
        jobs.extend(keyring.list_jobs())
        return _structure_findings(store, jobs)

    attempt("structure", check_structure)
    deep_checked = deep_skipped = 0
    if session is not None:
        deep: list[Finding] = []
        for job in jobs:
            if job.status == "erased":
                continue
            if session.user not in job.recipients:
                deep_skipped += 1
                continue
            try:
                session.check_job(job.job_id)
                deep_checked += 1
            except NoGrant:
                deep_skipped += 1
            except (IntegrityError, AccessDenied, InputError, StoreError) as exc:
                deep_checked += 1
                deep.append(Finding("deep", str(exc), job.job_id))
        findings += deep
        user = session.user

        def log_deep() -> list[Finding]:
            counts = {"jobs": deep_checked, "findings": len(deep)}
            keyring.record(user, "verify-deep", None, counts)
            return []

        attempt("log", log_deep)
    return VerifyReport(
        findings=tuple(findings),
        jobs=len(jobs),
        deep_checked=deep_checked,
        deep_skipped=deep_skipped,
        log_entries=len(entries),
        head=head,
    )


def _head_findings(
    expected: tuple[int, str], hashes: dict[int, str], head: tuple[int, str]
) -> list[Finding]:
    seq, digest = expected
    if seq == 0:
        return []
    if head[0] < seq:
        return [
            Finding(
                "head",
                f"the log ends at entry {head[0]} but entry {seq} was expected: "
                "the log was truncated or the vault rolled back",
            )
        ]
    if hashes.get(seq) != digest:
        return [
            Finding(
                "head",
                f"entry {seq} of the log does not have the expected hash: "
                "the log was rewritten or this is another vault",
            )
        ]
    return []


def _structure_findings(store: Store, jobs: Sequence[JobInfo]) -> list[Finding]:
    layout: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for job_id, field, idx, version in store.blob_layout():
        layout.setdefault(job_id, {}).setdefault(field, []).append((idx, version))
    grant_versions: dict[str, set[int]] = {}
    for job_id, _user, version in store.grant_layout():
        grant_versions.setdefault(job_id, set()).add(version)
    known = {j.job_id for j in jobs}
    findings: list[Finding] = []
    for job in jobs:
        fields = layout.get(job.job_id, {})
        if job.status == "erased":
            if fields:
                findings.append(
                    Finding("structure", "an erased job still holds ciphertext", job.job_id)
                )
            if job.job_id in grant_versions:
                findings.append(
                    Finding("structure", "an erased job still holds wrapped keys", job.job_id)
                )
            continue
        readable = bool(job.recipients)
        if not readable:
            findings.append(
                Finding(
                    "structure",
                    "no user holds a grant for the current key version: the job is unreadable",
                    job.job_id,
                )
            )
        for field, chunks in sorted(fields.items()):
            indexes = sorted(i for i, _ in chunks)
            versions = {v for _, v in chunks}
            if indexes != list(range(len(indexes))):
                findings.append(
                    Finding("structure", f"the {field} chunks are not contiguous", job.job_id)
                )
            if len(versions) != 1 or not all(1 <= v <= job.key_version for v in versions):
                findings.append(
                    Finding("structure", f"the {field} chunks have a wrong key version", job.job_id)
                )
            elif readable and versions - grant_versions.get(job.job_id, set()):
                findings.append(
                    Finding(
                        "structure", f"no user holds the key version of its {field}", job.job_id
                    )
                )
    for job_id in sorted(set(layout) - known):
        findings.append(Finding("structure", "ciphertext without a job row", job_id))
    return findings


# ---------------------------------------------------------------------------------------------
# Backup


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int  # bytes of the copy's main file
    head: tuple[int, str]  # the log head the copy holds


def backup(keyring: Keyring, path: Path, *, actor: str) -> Backup:
    """A consistent online copy at ``path`` (``VaultExists`` if it exists), then verified to
    open with its log chain intact, then logged in the source vault."""
    dest = Path(path)
    keyring.store.backup(dest)
    try:
        with Keyring.open(dest) as copy:
            head = copy.verify_chain()
    except VaultError as exc:
        raise IntegrityError(f"the backup at {dest} does not verify: {exc}") from exc
    size = dest.stat().st_size
    keyring.record(actor, "backup", None, {"log_entries": head[0], "bytes": size})
    return Backup(dest, size, head)
