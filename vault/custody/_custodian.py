"""``Custodian``: keeps an open vault's records (users, jobs, grants, log); holds no secret.

Everything here works with public keys only: creating users, recording pending jobs, storing
finished jobs (each in one ``BEGIN IMMEDIATE`` transaction together with its log entry, so a
job is wholly there or absent), listing metadata and reading the access log. Reading
plaintext needs ``unlock``, which returns a ``Session``.

The clock, the random source and the file chunk size are injectable for tests and vectors.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace

import vault.crypto as crypto
from vault.config import CHUNK_SIZE
from vault.custody import _envelope as env
from vault.custody import _jobs, _log, _state, _users
from vault.custody._session import Session
from vault.errors import (
    AccessDenied,
    InputError,
    RoleRefused,
    StoreError,
    UnknownUser,
    UserDisabled,
)
from vault.models import JobContent, JobInfo, LogEntry, SubmitOptions, UserInfo
from vault.store import (
    SUBJECTS,
    BlobRow,
    Database,
    JobRow,
    Location,
    LogRow,
    UserRow,
    check_new_location,
    create_database,
    open_database,
    vault_location,
)

# What archiving writes: a pending job's row, then the archived row over it, its blobs (the
# old version's replaced), its grants, and the log entries.
# What recording and archiving a job needs, asked before anything is sent. SELECT is asked
# of whole tables: a column-limited grant does not pass (archiving reads every column of the
# users it seals to, to check each row against the log).
ARCHIVE_PRIVILEGES = (
    ("jobs", "SELECT"),
    ("blobs", "SELECT"),
    ("grants", "SELECT"),
    ("users", "SELECT"),
    ("access_log", "SELECT"),
    ("jobs", "INSERT"),
    ("jobs", "UPDATE"),
    ("blobs", "INSERT"),
    ("blobs", "DELETE"),
    ("grants", "INSERT"),
    ("access_log", "INSERT"),
)

# The table privileges each key-management action writes with (besides its log entry).
CHANGE_PRIVILEGES: dict[str, tuple[tuple[str, str], ...]] = {
    "grant": (("grants", "INSERT"), ("jobs", "UPDATE")),
    "revoke": (
        ("grants", "DELETE"),
        ("grants", "INSERT"),
        ("blobs", "DELETE"),
        ("blobs", "INSERT"),
        ("jobs", "UPDATE"),
    ),
    "erase": (("grants", "DELETE"), ("blobs", "DELETE"), ("jobs", "UPDATE")),
    "user-add": (("users", "INSERT"),),
}

Clock = Callable[[], float]


class Custodian:
    """The records of an open vault, kept under their keys and logged.

    ``Custodian.create`` / ``Custodian.open``; close it or use ``with``. ``vault.Vault`` wraps
    it for callers."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = time.time,
        random: crypto.Random = os.urandom,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        vault_id = db.meta.get("vault_id")
        if vault_id is None:
            raise StoreError(f"{db.location} is not a questa-vault vault (no vault id)")
        if chunk_size < 1:
            raise InputError("the chunk size must be positive")
        self.vault_id = vault_id
        self.path = db.location
        self._db = db
        self._clock = clock
        self._random = random
        self._chunk_size = chunk_size

    # ----------------------------------------------------------------- lifetime

    @staticmethod
    def check_new(path: Location | str) -> None:
        """Refuse a location ``create`` would refuse (a vault or another file already there,
        a directory) before any secret is asked for or key derived."""
        check_new_location(path)

    @classmethod
    def create(
        cls,
        path: Location | str,
        *,
        user: str,
        passphrase: str,
        kdf: crypto.KdfParams,
        clock: Clock = time.time,
        random: crypto.Random = os.urandom,
        chunk_size: int = CHUNK_SIZE,
    ) -> Custodian:
        """Create a vault with its first user; ``VaultExists`` if ``path`` exists.

        The key is derived before the file is created, so bad parameters leave no file.
        """
        _users.check_name(user)
        where = vault_location(path)
        check_new_location(where)  # before the key derivation: an existing file is never touched
        vault_id = random(16).hex()
        key = _users.make_key(
            vault_id=vault_id, name=user, passphrase=passphrase, kdf=kdf, random=random
        )
        db = create_database(where)
        try:
            now = clock()
            with db.write():
                db.meta.set("vault_id", vault_id)
                db.meta.set("created_at", repr(now))
                db.meta.set("format", str(crypto.FORMAT_V1))
                row = _users.user_row(user, key, now)
                db.users.insert(row)
                for action in ("init", "user-add"):
                    _log.append(
                        db,
                        vault_id=vault_id,
                        time=now,
                        user=user,
                        action=action,
                        job_id=None,
                        counts={},
                        subject=user,
                        facts=_state.user_facts(row, unsafe=kdf.below_floor()),
                    )
            return cls(db, clock=clock, random=random, chunk_size=chunk_size)
        except BaseException:
            db.discard()
            raise

    @classmethod
    def open(
        cls,
        path: Location | str,
        *,
        clock: Clock = time.time,
        random: crypto.Random = os.urandom,
        chunk_size: int = CHUNK_SIZE,
    ) -> Custodian:
        """Open an existing vault; ``VaultNotFound`` ("no vault at PATH: run questa-vault init")."""
        db = open_database(vault_location(path))
        try:
            return cls(db, clock=clock, random=random, chunk_size=chunk_size)
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Custodian:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db(self) -> Database:
        """The vault's database (for lifecycle maintenance and tests)."""
        return self._db

    # ----------------------------------------------------------------- users

    def add_user(
        self, name: str, *, passphrase: str, kdf: crypto.KdfParams, actor: str
    ) -> UserInfo:
        """Add a user whose private key is kept here, wrapped under ``passphrase``.

        New jobs are sealed to the user; existing jobs need a ``grant``.
        """
        _users.check_name(name)
        if self._db.users.get(name) is not None:
            raise InputError(f"user {name} already exists")
        key = _users.make_key(
            vault_id=self.vault_id, name=name, passphrase=passphrase, kdf=kdf, random=self._random
        )
        row = _users.user_row(name, key, self._clock())
        return self._insert_user(row, actor, unsafe=kdf.below_floor())

    def add_public_user(self, name: str, public_key: bytes, *, actor: str) -> UserInfo:
        """Add a user known only by an X25519 public key (raw 32 bytes or PEM)."""
        _users.check_name(name)
        raw = public_key if len(public_key) == crypto.X25519_SIZE else None
        raw = raw or crypto.load_public_key(public_key)
        row = UserRow(0, name, True, self._clock(), raw, None, None, None, None, None, None)
        return self._insert_user(row, actor, unsafe=False)

    def _insert_user(self, row: UserRow, actor: str, *, unsafe: bool) -> UserInfo:
        with self._db.write():
            if self._db.users.get(row.name) is not None:
                raise InputError(f"user {row.name} already exists")
            # Never re-create a user the log knows (added before, deleted by hand).
            _state.check_user_absent(self._db, row.name)
            # One key, one person: a revoke re-keys a job away from one user's key, so a key
            # shared by two users would keep opening what one of them was revoked from.
            users = self._db.users.all()
            twin = next((u.name for u in users if u.public_key == row.public_key), None)
            if twin is not None:
                raise InputError(
                    f"user {twin} already has this public key "
                    f"({crypto.fingerprint(row.public_key)}): each user needs a key of their own"
                )
            self._db.users.insert(row)
            self._append(
                actor,
                "user-add",
                None,
                {},
                subject=row.name,
                now=row.created_at,
                facts=_state.user_facts(row, unsafe=unsafe),
            )
        return _users.user_info(row)

    def list_users(self) -> list[UserInfo]:
        return [_users.user_info(r) for r in self._db.users.all()]

    def disable_user(self, name: str, *, actor: str, force: bool = False) -> bool:
        """Stop sealing new jobs to ``name`` and refuse its unlock; its grants stay until a
        ``revoke``. Disabling cannot be undone. Refuses (``InputError``) to disable the last
        enabled user, and, unless ``force``, a user who is the only enabled reader of a job
        (the job would become unreadable for good). False when already disabled."""
        with self._db.write():
            row = self._db.users.get(name)
            if row is None:
                raise UnknownUser(f"no user {name} in this vault")
            if not row.enabled:
                return False
            others = {u.name for u in self._db.users.all() if u.enabled and u.name != name}
            if not others:
                raise InputError(f"user {name} is the last enabled user; add another first")
            if not force:
                sole = sorted(
                    job_id
                    for job_id, readers in self._db.jobs.recipients().items()
                    if name in readers and not others.intersection(readers)
                )
                if sole:
                    shown = ", ".join(sole[:5]) + (", ..." if len(sole) > 5 else "")
                    raise InputError(
                        f"user {name} is the only enabled reader of {len(sole)} job(s) "
                        f"({shown}): disabled, nobody could read them again; grant them to "
                        "another user first, or --force"
                    )
            self._db.users.set_enabled(name, False)
            self._append(actor, "user-disable", None, {}, subject=name)
        return True

    def default_user(self) -> str | None:
        """The only enabled user, else ``None`` (the CLI then uses the login name)."""
        enabled = [u.name for u in self._db.users.all() if u.enabled]
        return enabled[0] if len(enabled) == 1 else None

    def unlock(self, name: str, passphrase: str) -> Session:
        """One key derivation; ``UnknownUser``, ``UserDisabled``, ``WrongPassphrase``."""
        row, entries = self._enabled_user(name)
        if row.wrapped_key is None:
            raise AccessDenied(
                f"user {name} keeps the private key outside this vault; "
                "unlock with its key file (--key-file)"
            )
        facts = _state.key_facts(entries)
        # Settings below the floor open only if the vault recorded them as accepted so.
        unsafe_ok = facts is None or facts.get("kdf_unsafe") == 1
        private_key = _users.open_key(
            row, vault_id=self.vault_id, passphrase=passphrase, unsafe_ok=unsafe_ok
        )
        return self._session(name, private_key)

    def unlock_with_key(self, name: str, private_key_pem: bytes) -> Session:
        """Unlock with the user's private key file (as ``keygen`` writes it)."""
        row, _ = self._enabled_user(name)
        private_key = crypto.load_private_key_pem(private_key_pem)
        if not crypto.constant_time_equal(crypto.public_key_of(private_key), row.public_key):
            raise AccessDenied(f"that key file does not belong to user {name}")
        return self._session(name, private_key)

    def _enabled_user(self, name: str) -> tuple[UserRow, list[LogRow]]:
        """The user's row, checked against the log, and the log's entries about the user."""
        row = self._db.users.get(name)
        if row is None:
            raise UnknownUser(f"no user {name} in this vault")
        if not row.enabled:
            raise UserDisabled(f"user {name} is disabled")
        # The row must be what the log recorded (not re-enabled, key and KDF not edited):
        # an edited record is tampering (exit 5), never a wrong passphrase.
        return row, _state.check_user(self._db, row, self.vault_id)

    def _session(self, name: str, private_key: bytes) -> Session:
        return Session(
            db=self._db,
            vault_id=self.vault_id,
            user=name,
            private_key=private_key,
            clock=self._clock,
            random=self._random,
            chunk_size=self._chunk_size,
        )

    # ----------------------------------------------------------------- archiving

    def record_pending(
        self,
        job_id: str,
        *,
        file_type: str,
        source: str,
        submitted_at: float | None,
        filename: str | None,
        options: SubmitOptions | None,
        actor: str,
        expires_at: float | None = None,
        api_url: str | None = None,
    ) -> bool:
        """Record a submitted job as ``pending`` (file name and options encrypted to every
        enabled user) with the API base URL it was submitted to; ``False`` when the job is
        already known."""
        _jobs.check_job_id(job_id)
        fields: dict[str, bytes] = {}
        if filename is not None:
            fields[env.FIELD_FILENAME] = env.encode_text(filename)
        if options is not None:
            fields[env.FIELD_OPTIONS] = env.encode_options(options)
        with self._db.write():
            if self._db.jobs.get(job_id) is not None:
                return False
            # Never re-create a job the log knows (archived, erased, or deleted by hand).
            _state.check_job(self._db, job_id, self.vault_id)
            now = self._clock()
            row = JobRow(
                job_id=job_id,
                status="pending",
                file_type=file_type,
                source=source,
                submitted_at=submitted_at,
                expires_at=expires_at,
                api_url=api_url,
                updated_at=now,
            )
            row = self._write_key_version(row, fields, keep=[], now=now)
            self._append(actor, "submit", job_id, {}, now=now, facts=self._job_facts(row))
        return True

    def batch(self) -> AbstractContextManager[None]:
        """Several archive writes (``store_job``, ``record_pending``, ``mark_expired``) in one
        transaction, so they share one commit: each call joins it, and any exception out of
        the block rolls back all of them. The fetch's group commit (``vault.archive``) uses it."""
        return self._db.write()

    def store_job(self, content: JobContent, *, actor: str, api_url: str | None = None) -> bool:
        """Archive a finished job (status ``archived`` or ``failed``) in one transaction
        with its log entry and the API base URL it was fetched from; ``False`` if it is
        already archived, failed or erased.

        Needs only public keys: a fresh DEK is sealed to every enabled user.
        """
        _jobs.check_job_id(content.job_id)
        if content.status not in ("archived", "failed"):
            raise InputError(f"store_job takes archived or failed jobs, not {content.status}")
        stats = env.analyse_map(content.mapping)
        fields: dict[str, bytes] = {env.FIELD_MAP: env.encode_map(content.mapping)}
        if content.content is not None:
            fields[env.FIELD_FILE] = content.content
        if content.error is not None:
            fields[env.FIELD_ERROR] = env.encode_text(content.error)
        if content.filename is not None:
            fields[env.FIELD_FILENAME] = env.encode_text(content.filename)
        if content.options is not None:
            fields[env.FIELD_OPTIONS] = env.encode_options(content.options)
        with self._db.write():
            existing = self._db.jobs.get(content.job_id)
            if existing is not None and existing.status not in ("pending", "expired"):
                return False
            # Archiving never overwrites or re-creates a job the log says was archived or
            # erased, nor one whose rows differ from what the log recorded (IntegrityError).
            # A job without a row has no grants to compare (``job_problems`` compares them
            # only with a row), so a new job is checked against its log entries alone.
            holders = _state.holders(self._db, content.job_id) if existing is not None else []
            _state.check_job_rows(self._db, content.job_id, existing, holders, self.vault_id)
            now = self._clock()
            # One row built, not a blank one then copies (a row costs microseconds to build).
            build: Callable[..., JobRow] = (
                functools.partial(JobRow, job_id=content.job_id, updated_at=now)
                if existing is None
                else functools.partial(replace, existing)
            )
            row = build(
                status=content.status,
                file_type=content.file_type,
                source=content.source,
                created_at=content.created_at,
                fetched_at=now,
                archived_at=now,
                entity_count=content.entity_count,
                map_size=len(content.mapping),
                entity_counts=stats.entity_counts,
                shared_placeholders=stats.shared_placeholders,
                placeholder_like_originals=stats.placeholder_like_originals,
                file_size=len(content.content) if content.content is not None else 0,
                api_url=api_url if api_url is not None or existing is None else existing.api_url,
            )
            keep = self._db.blobs.of_job(content.job_id) if existing else []
            row = self._write_key_version(row, fields, keep=keep, now=now)
            counts = {
                "map_entries": len(content.mapping),
                "entities": content.entity_count,
                "file_bytes": row.file_size,
            }
            self._append(
                actor, "fetch", content.job_id, counts, now=now, facts=self._job_facts(row)
            )
        return True

    def _write_key_version(
        self, row: JobRow, fields: Mapping[str, bytes], *, keep: list[BlobRow], now: float
    ) -> JobRow:
        # Only users whose rows match the log: a user added or re-enabled by a raw edit of
        # the file gets nothing (and ``verify`` reports them). Read once per write
        # transaction: a batch of stored jobs changes neither the users nor their entries.
        recipients = self._db.memo("custody.recipients", ("users", SUBJECTS), self._recipients)
        if not recipients:
            raise InputError("the vault has no enabled user to seal the job to")
        return _jobs.write_key_version(
            self._db,
            vault_id=self.vault_id,
            row=row,
            fields=fields,
            keep=keep,
            recipients=recipients,
            now=now,
            random=self._random,
            chunk_size=self._chunk_size,
        )

    def _recipients(self) -> list[UserRow]:
        return [
            u
            for u in self._db.users.all()
            if u.enabled and not _state.user_problems(u.name, u, self._db.log.rows(subject=u.name))
        ]

    def mark_expired(self, job_id: str, *, actor: str) -> None:
        """A pending job the server no longer knows becomes ``expired`` (no-op otherwise)."""
        with self._db.write():
            job = self._db.jobs.get(job_id)
            if job is None or job.status != "pending":
                return
            now = self._clock()
            self._db.jobs.set_status(job_id, "expired", now)
            facts = self._job_facts(replace(job, status="expired"))
            self._append(actor, "expire", job_id, {}, now=now, facts=facts)

    # ----------------------------------------------------------------- metadata

    def get_job(self, job_id: str) -> JobInfo | None:
        row = self._db.jobs.get(job_id)
        if row is None:
            return None
        return _jobs.job_info(row, self._db.jobs.recipients(job_id).get(job_id, ()))

    def job_status(self, job_id: str) -> str | None:
        """The job's status, ``None`` when the vault has no such job (one narrow read)."""
        return self._db.jobs.status(job_id)

    def list_jobs(self, *, status: str | None = None) -> list[JobInfo]:
        """Every job (or those in ``status``) in the order first stored; the store builds the
        ``JobInfo`` straight from one lean query (100,000 jobs in a fraction of a second)."""
        return self._db.audit.job_infos(statuses=() if status is None else (status,))

    def pending_jobs(self) -> list[JobInfo]:
        return self.list_jobs(status="pending")

    def check_may_log(
        self, command: str, *, action: str | None = None, actor: str | None = None
    ) -> None:
        """``StoreError`` unless this connection may append to the access log: asked before
        a command that must log what it did (``backup``, a deep check) does anything.

        With ``action`` and ``actor`` (PostgreSQL), the very entry is also tried in a
        transaction that is rolled back, so that the database's own rules on who may log what
        (the role guard of docs/team.md) refuse it now (``RoleRefused``), before anything is
        copied or decrypted, and not after."""
        if self._db.missing_privileges((("access_log", "INSERT"),)):
            raise StoreError(
                f"the database role may not write the access log: {command} needs the analyst "
                "or admin role (docs/team.md); nothing was done"
            )
        if action is None or actor is None or self._db.dialect == "sqlite":
            return  # a SQLite file has no roles: whoever opened it may write it

        class _Tried(Exception):
            pass

        try:
            with self._db.write():
                self._append(actor, action, None, {})
                raise _Tried
        except _Tried:
            pass

    def check_may_change(self, action: str, actor: str) -> None:
        """``RoleRefused`` unless this connection may do ``action`` (``grant``, ``revoke``,
        ``erase``, ``user-add``) as ``actor``: asked (PostgreSQL) before a passphrase is asked
        for or a confirmation shown, so a role that may not is told so first. The table
        privileges the action writes with, then its log entry tried in a rolled-back
        transaction (the role guard of docs/team.md refuses it there, with its reason)."""
        if self._db.dialect == "sqlite":
            return
        missing = self._db.missing_privileges(CHANGE_PRIVILEGES.get(action, ()))
        if missing:
            raise RoleRefused(
                f"the database role may not do this (no {', '.join(missing)}): {action} needs "
                "the admin role (docs/team.md); nothing was done"
            )
        self.check_may_log(action, action=action, actor=actor)

    def check_may_archive(self) -> None:
        """``StoreError`` unless the database lets this connection archive (add and archive
        jobs, their blobs and grants, and log it): asked before anything is sent to the
        service or polled, so a role that may not archive never uploads a file whose result
        it could not keep. Nothing to ask of a SQLite file (opening it proved access)."""
        missing = self._db.missing_privileges(ARCHIVE_PRIVILEGES)
        if missing:
            raise StoreError(
                f"the database role may not archive (no {', '.join(missing)}): submit, fetch "
                "and sync need the archiver or admin role (docs/team.md); nothing was sent"
            )

    # ----------------------------------------------------------------- access log

    def log_entries(
        self,
        *,
        user: str | None = None,
        action: str | None = None,
        job_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[LogEntry]:
        """Entries in order; ``since`` inclusive, ``until`` exclusive (Unix seconds)."""
        rows = self._db.log.rows(user=user, action=action, job_id=job_id, since=since, until=until)
        return [_log.to_entry(r) for r in rows]

    def log_head(self) -> tuple[int, str]:
        """``(seq, entry_hash)`` of the newest entry; ``(0, 64 zeros)`` for an empty log."""
        last = self._db.log.last()
        return (0, crypto.GENESIS_HASH) if last is None else (last.seq, last.entry_hash)

    def verify_chain(self) -> tuple[int, str]:
        """Recompute the log's hash chain; its head, or ``IntegrityError``."""
        with self._db.read():
            return _log.verify_chain(self._db, self.vault_id)

    def state_problems(self) -> list[_state.Problem]:
        """How the jobs and users disagree with the access log (no key needed): a job
        archived twice or re-created after an erase, rows rolled back, a grant row outside
        the recorded holders, a disabled user enabled again, edited key settings."""
        with self._db.read():
            return _state.vault_problems(self._db)

    def _job_facts(self, row: JobRow) -> dict[str, str | int]:
        return _state.job_facts(row, _state.holders(self._db, row.job_id))

    def record(
        self,
        actor: str,
        action: str,
        job_id: str | None = None,
        counts: Mapping[str, int] | None = None,
        *,
        subject: str | None = None,
    ) -> LogEntry:
        """Append one entry for an event that needs no key (e.g. ``backup``)."""
        with self._db.write():
            return self._append(actor, action, job_id, counts or {}, subject=subject)

    def _append(
        self,
        actor: str,
        action: str,
        job_id: str | None,
        counts: Mapping[str, int],
        *,
        subject: str | None = None,
        now: float | None = None,
        facts: Mapping[str, str | int] | None = None,
    ) -> LogEntry:
        return _log.append(
            self._db,
            vault_id=self.vault_id,
            time=self._clock() if now is None else now,
            user=actor,
            action=action,
            job_id=job_id,
            counts=counts,
            subject=subject,
            facts=facts,
        )
