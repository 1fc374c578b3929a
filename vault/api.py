"""The ``Vault`` facade (tier L5): what a pipeline imports.

It composes the parts without adding policy of its own: archiving and auditing need no
secret (``Vault``), restoring and exporting need an unlocked user (``Unlocked``), and every
call returns data objects. Every plaintext release (restore, export, ``show --reveal``,
``audit --deep``, from Python or the command line) goes through ``Unlocked._released``:
decrypt (seal checked), compute the output, commit the access-log entry, then hand it over.

    from vault import Vault, QuestaClient

    client = QuestaClient("http://127.0.0.1:8765")
    with Vault.open("vault.db") as v:
        v.fetch(client, ["550e8400-..."], actor="pipeline")
        session = v.unlock("alice", passphrase)
        text, report = session.restore_text("Dear [PERSON_NAME_1], ...", jobs=["550e8400-..."])
        print(v.audit().totals)
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, TypeVar

# Lazy packages: asyncio and httpx load with the first archive run, the restore engine and
# the placeholder matcher with the first restore, the document readers with the first
# cross-check, the audit views with the first audit, lifecycle with its first operation.
import vault.archive as archive
import vault.audit as report
import vault.crypto as crypto
import vault.lifecycle as lifecycle
import vault.placeholders as placeholders
import vault.restore as restore
from vault.custody import Custodian, Session
from vault.errors import InputError, NoGrant
from vault.models import (
    JOB_STATUSES,
    FetchOutcome,
    JobContent,
    JobInfo,
    LogEntry,
    SubmitOptions,
    UserInfo,
)

if TYPE_CHECKING:
    from vault.archive import RunOptions, SubmitFile, SubmitOutcome, SyncReport
    from vault.audit import AuditListing, AuditQuery, AuditReport, CrossCheck
    from vault.client import QuestaClient
    from vault.config import Location
    from vault.crypto import KdfParams
    from vault.lifecycle import Backup, Erased, Migrated, RevokePlan, VerifyReport
    from vault.placeholders import Resolver
    from vault.restore import RestoreOptions, RestoreReport, StreamRestorer
    from vault.store import JobListRow

T = TypeVar("T")
PerJob = Mapping[str, Mapping[str, int]]  # job id -> the counts its access-log entry records

__all__ = ["Unlocked", "Vault"]


class Vault:
    """An open vault. No secret is held: archive and audit freely; ``unlock`` to read."""

    def __init__(self, custodian: Custodian) -> None:
        self._custodian = custodian

    @classmethod
    def open(cls, path: Location | str) -> Vault:
        """Open an existing vault: a SQLite file path or a ``postgresql://`` URL without a
        password (``VaultNotFound`` when there is none)."""
        return cls(Custodian.open(path))

    @staticmethod
    def check_new(path: Location | str) -> None:
        """Refuse a location ``create`` would refuse (a vault or another file already there, a
        directory) before any secret is asked for or key derived."""
        Custodian.check_new(path)

    @classmethod
    def create(
        cls, path: Location | str, *, user: str, passphrase: str, kdf: KdfParams | None = None
    ) -> Vault:
        """Create a new vault with its first user, in a new SQLite file or an empty
        PostgreSQL database (``VaultExists`` if a vault is there)."""
        custodian = Custodian.create(
            path, user=user, passphrase=passphrase, kdf=kdf or crypto.default_kdf()
        )
        return cls(custodian)

    @property
    def custodian(self) -> Custodian:
        """The custodian of the vault's records, for the operations the facade does not wrap."""
        return self._custodian

    @property
    def path(self) -> Location:
        """Where the vault is: a SQLite file or a ``postgresql://`` URL."""
        return self._custodian.path

    @property
    def vault_id(self) -> str:
        return self._custodian.vault_id

    def close(self) -> None:
        self._custodian.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- archiving: public keys only ---------------------------------------------------------
    def fetch(
        self,
        client: QuestaClient,
        job_ids: Iterable[str],
        *,
        actor: str | None = None,
        options: RunOptions | None = None,
        on_outcome: Callable[[FetchOutcome], None] | None = None,
    ) -> list[FetchOutcome]:
        """Poll each job until it finishes and archive it; one outcome per job, in order.

        The access log records ``actor`` (or ``options.actor``; "api" when neither is given;
        both given and different is an ``InputError``)."""
        run = (options or archive.RunOptions()).acting(actor)
        return archive.fetch(client, self._custodian, job_ids, run, on_outcome=on_outcome)

    def submit(
        self,
        client: QuestaClient,
        paths: Sequence[str | Path],
        *,
        actor: str | None = None,
        submit_options: SubmitOptions | None = None,
        options: RunOptions | None = None,
        on_outcome: Callable[[SubmitOutcome], None] | None = None,
    ) -> list[SubmitOutcome]:
        """Upload files (text through the text endpoint), record them pending, then archive
        (the actor as for ``fetch``)."""
        run = (options or archive.RunOptions()).acting(actor)
        files: list[SubmitFile] = archive.check_files([Path(p) for p in paths])
        return archive.submit(
            client,
            self._custodian,
            files,
            run,
            submit_options or SubmitOptions(),
            on_outcome=on_outcome,
        )

    def sync(
        self, client: QuestaClient, *, actor: str | None = None, options: RunOptions | None = None
    ) -> SyncReport:
        """Fetch every pending job; report expiry warnings (the actor as for ``fetch``)."""
        run = (options or archive.RunOptions()).acting(actor)
        return archive.sync(client, self._custodian, run)

    # -- auditing: no secret -----------------------------------------------------------------
    def jobs(self, *, status: str | None = None) -> list[JobInfo]:
        """Every job's metadata, or those with ``status`` (``InputError`` for an unknown one)."""
        if status is not None and status not in JOB_STATUSES:
            raise InputError(f"unknown status {status!r}: choose from {', '.join(JOB_STATUSES)}")
        return self._custodian.list_jobs(status=status)

    def job(self, job_id: str) -> JobInfo | None:
        """One job's metadata (``None`` when the vault has no such job)."""
        return self._custodian.get_job(job_id)

    def job_status(self, job_id: str) -> str | None:
        """One job's status (``None`` when the vault has no such job): cheaper than ``job``,
        which also reads who holds it."""
        return self._custodian.job_status(job_id)

    def known_jobs(self, job_ids: Iterable[str]) -> list[JobInfo]:
        """The named jobs in the order given (duplicates dropped); ``UnknownJob`` otherwise."""
        return lifecycle.known_jobs(self._custodian, job_ids)

    def job_ids_with_prefix(self, prefix: str, *, limit: int) -> list[str]:
        """Up to ``limit`` job ids starting with ``prefix``, in id order (short ids)."""
        return self._custodian.db.jobs.ids_with_prefix(prefix, limit=limit)

    def audit(self, query: AuditQuery | None = None) -> AuditReport:
        return report.load_audit(self._custodian.db, query)

    def audit_summary(self, query: AuditQuery | None = None) -> AuditReport:
        """``audit``'s totals added up inside the database (``jobs`` empty): fast on large
        vaults."""
        return report.summarize(self._custodian.db, query)

    def audit_listing(
        self, query: AuditQuery | None = None, *, recipients: bool = True
    ) -> AuditListing:
        """``audit`` with lean rows; ``recipients=False`` leaves them empty (no grant read)."""
        return report.list_audit(self._custodian.db, query, recipients=recipients)

    def audit_text(self, query: AuditQuery, fmt: str) -> list[str] | None:
        """The whole listing in ``fmt`` (``table``, ``csv``, ``json``) formatted inside the
        database, in pieces whose concatenation is what ``audit --format`` prints; ``None``
        when it cannot be."""
        return report.fast_listing(self._custodian.db, query, fmt)

    def log(
        self,
        *,
        user: str | None = None,
        action: str | None = None,
        job_id: str | None = None,
        since: float | str | None = None,
        until: float | str | None = None,
    ) -> list[LogEntry]:
        """Access-log entries in order; ``since`` inclusive, ``until`` exclusive: Unix seconds,
        or a time as ``log --since`` reads it (``"30d"``, ``"2026-05-01"``, ``"yesterday"``;
        a whole-day ``until`` includes that day). Anything else is an ``InputError``."""
        start, end = report.time_window(since, until)
        return self._custodian.log_entries(
            user=user, action=action, job_id=job_id, since=start, until=end
        )

    def log_head(self) -> tuple[int, str]:
        """The log's newest entry as ``(seq, hash)``; ``(0, 64 zeros)`` when empty."""
        return self._custodian.log_head()

    def verify(
        self, unlocked: Unlocked | None = None, *, expect_head: str | None = None
    ) -> VerifyReport:
        """Every check (database, schema, log chain, structure; with ``unlocked`` also every
        seal that user can open); findings instead of stopping at the first."""
        session = unlocked.session if unlocked is not None else None
        return lifecycle.verify(self._custodian, session=session, expect_head=expect_head)

    # -- users: no secret but the new user's -------------------------------------------------
    def users(self) -> list[UserInfo]:
        return self._custodian.list_users()

    def default_user(self) -> str | None:
        """The only enabled user, else ``None``."""
        return self._custodian.default_user()

    def add_user(
        self, name: str, *, passphrase: str, kdf: KdfParams | None = None, actor: str = "api"
    ) -> UserInfo:
        """A user whose private key is kept here, wrapped under ``passphrase``."""
        return self._custodian.add_user(
            name, passphrase=passphrase, kdf=kdf or crypto.default_kdf(), actor=actor
        )

    def add_public_user(self, name: str, public_key: bytes, *, actor: str = "api") -> UserInfo:
        """A user known by public key only (raw 32 bytes or PEM, as ``keygen`` prints it)."""
        return self._custodian.add_public_user(name, public_key, actor=actor)

    def disable_user(self, name: str, *, actor: str = "api", force: bool = False) -> bool:
        """No new job is sealed to ``name`` and they cannot unlock; cannot be undone. Refuses
        the last enabled user, and the only enabled reader of a job unless ``force``. False
        when the user was already disabled."""
        return self._custodian.disable_user(name, actor=actor, force=force)

    # -- erase and backup: no secret ---------------------------------------------------------
    def erase(self, job_ids: Sequence[str], *, actor: str = "api") -> list[Erased]:
        """Crypto-shred the jobs (grants and ciphertexts deleted, a tombstone kept, logged)."""
        return lifecycle.erase(self._custodian, job_ids, actor=actor)

    def backup(self, path: Path, *, actor: str = "api") -> Backup:
        """A verified copy in a new SQLite file (mode 0600); logged."""
        return lifecycle.backup(self._custodian, path, actor=actor)

    def migrate(
        self, dest: Location | str, *, unlock: Callable[[Vault], Unlocked] | None = None
    ) -> Migrated:
        """Copy the vault into ``dest`` (a new, empty or partly copied vault; resumable) and
        verify the copy; with ``unlock`` (given the copy) also every seal that user can open."""
        opener = (lambda copy: unlock(Vault(copy)).session) if unlock is not None else None
        return lifecycle.migrate(self._custodian, dest, unlock=opener)

    # -- reading and sharing: an unlocked user -----------------------------------------------
    def unlock(self, user: str, passphrase: str) -> Unlocked:
        """One key derivation; the returned view reads every job the user holds a grant for."""
        return Unlocked(self._custodian.unlock(user, passphrase))

    def unlock_with_key(self, user: str, private_key_pem: bytes) -> Unlocked:
        """Unlock with a ``keygen`` private key file's contents instead of a passphrase."""
        return Unlocked(self._custodian.unlock_with_key(user, private_key_pem))

    def grant(self, unlocked: Unlocked, user: str, job_ids: Sequence[str] | None) -> list[str]:
        """Seal the unlocked user's keys of ``job_ids`` (``None``: every live job they can
        read) to ``user`` too; the jobs newly granted, each logged."""
        return lifecycle.grant(self._custodian, unlocked.session, user, job_ids)

    def plan_revoke(self, actor: str, user: str, job_ids: Sequence[str] | None) -> RevokePlan:
        """What a revoke of ``user`` would touch (``None``: all their jobs), before any change."""
        return lifecycle.plan_revoke(self._custodian, actor, user, job_ids)

    def revoke(
        self, unlocked: Unlocked, plan: RevokePlan, *, force: bool = False, disable: bool = False
    ) -> list[str]:
        """Drop the plan's grants and re-key each job in one transaction (``InputError`` when
        a job would lose its last reader, unless ``force``)."""
        return lifecycle.revoke(unlocked.session, plan, force=force, disable=disable)


class Unlocked:
    """An authorized view: restore, export, reveal and cross-check, each released through the
    one fail-closed path (``_released``): decrypt (seals checked) and compute without showing
    anything, commit the access-log entries, only then hand the result over or link the
    output into place. Nothing is released when any step fails."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def user(self) -> str:
        return self._session.user

    @property
    def session(self) -> Session:
        return self._session

    def change_passphrase(self, new_passphrase: str, kdf: KdfParams | None = None) -> None:
        """Wrap this user's private key under a new passphrase (logged as ``passwd``)."""
        self._session.change_passphrase(new_passphrase, kdf or crypto.default_kdf())

    # -- the one release path ------------------------------------------------------------------
    def _released(self, action: str, compute: Callable[[], tuple[T, PerJob]]) -> T:
        """``compute`` decrypts and computes the result (nothing shown yet) and names the log
        counts of each job it read; those entries are committed, then the result is returned.
        A compute that read no job logs nothing (it released nothing)."""
        result, per_job = compute()
        if per_job:
            self._session.release(action, list(per_job), per_job=per_job)
        return result

    def _released_to(
        self,
        action: str,
        dst: Path | BinaryIO,
        compute: Callable[[BinaryIO], tuple[T, PerJob]],
        *,
        replace: bool = True,
    ) -> T:
        """``_released`` for a result written to ``dst``: computed into an unnamed temporary
        file, linked into place (or copied to the stream) only after the log is committed.
        With ``replace=False`` an existing ``dst`` is refused (``OutputExists``), atomically."""
        with restore.AtomicOutput(dst, replace=replace) as out:
            result = self._released(action, lambda: compute(out.file))
            out.commit()
        return result

    # -- restore -------------------------------------------------------------------------------
    def resolver(self, jobs: Sequence[str], *, prefer: str | None = None) -> Resolver:
        """The merged placeholder -> original lookup of ``jobs`` (collisions raise)."""
        return placeholders.merge_resolvers(
            [placeholders.invert_map(self._session.open_map(j), j) for j in jobs], prefer=prefer
        )

    def restore_stream(
        self,
        src: BinaryIO | None,
        dst: Path | BinaryIO,
        *,
        jobs: Sequence[str],
        options: RestoreOptions | None = None,
        prefer: str | None = None,
        progress: Callable[[int], None] | None = None,
        replace: bool = True,
    ) -> RestoreReport:
        """Restore ``src`` (``None``: the one job's own archived file) into ``dst`` (a path,
        written atomically, or a stream); logged as ``restore`` for every job."""
        job_ids = list(dict.fromkeys(jobs))
        resolver = self.resolver(job_ids, prefer=prefer)
        if src is None:
            if len(job_ids) != 1:
                raise InputError("restoring a job's own file takes exactly one job")
            src = io.BytesIO(self._session.open_file(job_ids[0]))
        source = src

        def compute(out: BinaryIO) -> tuple[RestoreReport, PerJob]:
            done = restore.restore_stream(
                source, out, resolver, options or restore.RestoreOptions(), progress=progress
            )
            return done, done.log_counts_by_job(resolver)

        return self._released_to("restore", dst, compute, replace=replace)

    def restore_live(
        self,
        src: BinaryIO,
        dst: BinaryIO,
        *,
        jobs: Sequence[str],
        options: RestoreOptions | None = None,
        prefer: str | None = None,
    ) -> RestoreReport:
        """Restore a live stream (a pipe, such as an LLM's streamed answer) into ``dst`` as it
        arrives. The output cannot be held back until the end, so the one ``restore`` entry
        (counts ``stream``) is committed before the first byte is written; the full counts
        are in the returned report."""
        job_ids = list(dict.fromkeys(jobs))
        resolver = self.resolver(job_ids, prefer=prefer)
        self._released("restore", lambda: (None, {job: {"stream": 1} for job in job_ids}))
        return restore.restore_stream(
            src, dst, resolver, options or restore.RestoreOptions(), live=True
        )

    def restore_text(
        self,
        text: str,
        *,
        jobs: Sequence[str],
        lenient: bool = False,
        prefer: str | None = None,
        format: str = "text",
    ) -> tuple[str, RestoreReport]:
        """Restore a string; the access-log entry is committed before the text is returned."""
        job_ids = list(dict.fromkeys(jobs))
        resolver = self.resolver(job_ids, prefer=prefer)

        def compute() -> tuple[tuple[str, RestoreReport], PerJob]:
            # straight to the matcher: no encoding round trip for text
            done = restore.restore_text(text, resolver, lenient=lenient, format=format)
            return done, done[1].log_counts_by_job(resolver)

        return self._released("restore", compute)

    def stream_restorer(
        self, jobs: Sequence[str], *, lenient: bool = False, prefer: str | None = None
    ) -> StreamRestorer:
        """A restorer for a token stream (``feed(text) -> str``, ``close() -> str``, or
        ``async for piece in restorer.restore(chunks)``). Its one access-log entry is
        committed before the first restored text is returned."""
        job_ids = list(dict.fromkeys(jobs))
        resolver = self.resolver(job_ids, prefer=prefer)

        def log() -> None:
            self._released("restore", lambda: (None, {job: {"stream": 1} for job in job_ids}))

        return restore.StreamRestorer(resolver, lenient=lenient, on_first=log)

    # -- export, reveal, cross-check -------------------------------------------------------------
    def export(self, job_id: str) -> bytes:
        """The archived anonymized file as the server sent it (logged before it is returned,
        as ``export`` with ``file_bytes``)."""

        def compute() -> tuple[bytes, PerJob]:
            data = self._session.open_file(job_id)
            return data, {job_id: {"file_bytes": len(data)}}

        return self._released("export", compute)

    def export_to(self, job_id: str, dst: Path | BinaryIO, *, replace: bool = True) -> int:
        """``export`` written to ``dst`` (a path, atomically, or a stream); the bytes written."""

        def compute(out: BinaryIO) -> tuple[int, PerJob]:
            data = self._session.open_file(job_id)
            try:
                out.write(data)
            except OSError as exc:
                raise InputError(f"cannot write the export: {exc.strerror or 'I/O error'}") from exc
            return len(data), {job_id: {"file_bytes": len(data)}}

        return self._released_to("export", dst, compute, replace=replace)

    def reveal(self, job_id: str) -> JobContent:
        """The job's encrypted details (file name, submit options, server error; ``content``
        and ``mapping`` left empty), logged as ``show`` with the number of fields present."""

        def compute() -> tuple[JobContent, PerJob]:
            details = self._session.open_details(job_id)
            present = sum(v is not None for v in (details.filename, details.options, details.error))
            return details, {job_id: {"fields": present}}

        return self._released("show", compute)

    def cross_check(self, jobs: Iterable[JobInfo | JobListRow]) -> list[CrossCheck]:
        """``audit --deep``: each archived job's placeholders against its map. A job this user
        holds no grant for is reported as not checked; each job opened is logged as
        ``audit-deep`` (counts only) before any result is returned."""

        def compute() -> tuple[list[CrossCheck], PerJob]:
            checks: list[CrossCheck] = []
            per_job: dict[str, Mapping[str, int]] = {}
            user = self._session.user
            for job in jobs:
                if job.status != "archived":
                    continue
                try:
                    if user not in job.recipients:
                        raise NoGrant(user)
                    check = report.cross_check(self._session.open_job(job.job_id))
                except NoGrant:
                    check = report.CrossCheck(
                        job_id=job.job_id,
                        checked=False,
                        reason=f"user {user} holds no grant for this job",
                        entity_count=job.entity_count,
                    )
                else:
                    per_job[job.job_id] = {
                        "placeholders": check.occurrences,
                        "missing_from_map": len(check.missing_from_map),
                        "other_tokens": check.other_tokens,
                        "unused_map_entries": len(check.unused_map_entries),
                    }
                checks.append(check)
            return checks, per_job

        return self._released("audit-deep", compute)
