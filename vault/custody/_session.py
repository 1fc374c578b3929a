"""An unlocked user: decrypting jobs, logging releases, sharing and withdrawing access.

A ``Session`` holds one user's raw private key for its lifetime (one key derivation per
unlock, however many jobs it opens). Every read checks, in this order: the job exists and is
not erased, the user holds a grant for each key version needed (``NoGrant``), each sealed DEK
opens (``IntegrityError``: moved or edited grant), the job's seal matches its plaintext
metadata and every ciphertext digest (``IntegrityError``), then each blob decrypts under its
associated data (``IntegrityError``). Nothing is returned unless all of that passed.

Opening does not log; the caller logs with ``release`` after computing its output and before
writing it out, so a release that cannot be logged releases nothing (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import vault.crypto as crypto
from vault._dataclass import dataclass
from vault.custody import _envelope as env
from vault.custody import _jobs, _log, _state, _users
from vault.errors import InputError, IntegrityError, NoGrant, UnknownJob, UnknownUser, UserDisabled
from vault.models import JobContent, LogEntry
from vault.store import BlobRow, Database, GrantRow, JobRow


@dataclass(frozen=True)
class _Opened:
    """A job row and the plaintext of the fields the session's user could open."""

    job: JobRow
    fields: Mapping[str, bytes]  # field name -> plaintext, for the fields the user could open


class Session:
    """An unlocked user of one open custodian. Made by ``Custodian.unlock``."""

    def __init__(
        self,
        *,
        db: Database,
        vault_id: str,
        user: str,
        private_key: bytes,
        clock: Callable[[], float],
        random: crypto.Random,
        chunk_size: int,
    ) -> None:
        self.user = user
        self.vault_id = vault_id
        self._db = db
        self._private_key = private_key
        self._clock = clock
        self._random = random
        self._chunk_size = chunk_size

    def __repr__(self) -> str:  # never show the key
        return f"Session(user={self.user!r})"

    # ----------------------------------------------------------------- reading

    def open_map(self, job_id: str) -> Mapping[str, str]:
        """The job's map, original -> placeholder; ``NoGrant``, ``IntegrityError``."""
        opened = self._open(job_id, (env.FIELD_MAP,), require=(env.FIELD_MAP,))
        return env.decode_map(opened.fields[env.FIELD_MAP])

    def open_file(self, job_id: str) -> bytes:
        """The archived anonymized file; ``InputError`` if the job has none (failed)."""
        opened = self._open(job_id, (env.FIELD_FILE,), require=())
        if env.FIELD_FILE not in opened.fields:
            raise InputError(f"job {job_id} has no archived file (status {opened.job.status})")
        return opened.fields[env.FIELD_FILE]

    def open_job(self, job_id: str) -> JobContent:
        """Everything stored for the job, decrypted and seal-checked.

        Fields of an older key version the user holds no grant for (the submit options and
        file name of a job submitted before the user was added) come back as ``None``.
        """
        opened = self._open(job_id, env.FIELDS, require=(env.FIELD_MAP, env.FIELD_FILE))
        return self._content(opened)

    def open_details(self, job_id: str) -> JobContent:
        """What the job holds besides its map and file, decrypted and seal-checked: the file
        name, the submit options and the server's error text (a failed job has only these).
        ``content`` and ``mapping`` are left empty."""
        wanted = (env.FIELD_FILENAME, env.FIELD_OPTIONS, env.FIELD_ERROR)
        return self._content(self._open(job_id, wanted, require=()))

    def check_job(self, job_id: str) -> None:
        """Open every field of the job the user can open (``verify --deep``)."""
        self._open(job_id, env.FIELDS, require=())

    def _content(self, opened: _Opened) -> JobContent:
        job, fields = opened.job, opened.fields
        mapping = env.decode_map(fields[env.FIELD_MAP]) if env.FIELD_MAP in fields else {}
        error = fields.get(env.FIELD_ERROR)
        filename = fields.get(env.FIELD_FILENAME)
        options = fields.get(env.FIELD_OPTIONS)
        return JobContent(
            job_id=job.job_id,
            status=job.status,
            file_type=job.file_type,
            created_at=job.created_at,
            entity_count=job.entity_count,
            content=fields.get(env.FIELD_FILE),
            mapping=mapping,
            error=None if error is None else env.decode_text(error),
            filename=None if filename is None else env.decode_text(filename),
            options=None if options is None else env.decode_options(options),
            source="text" if job.source == "text" else "upload",
        )

    def _open(self, job_id: str, wanted: Sequence[str], *, require: Sequence[str]) -> _Opened:
        db = self._db
        # One snapshot, each row read once: the job, the log's head (two rows) and its
        # triggers, every grant with its holder's public key, the job's log entries, its blobs.
        with db.read():
            job = self._readable_job(job_id)
            # Nothing leaves unless the log's head holds and the job is what its log says.
            _state.check_head(db, self.vault_id)
            all_grants = db.grants.of_job_with_keys(job_id)
            holders = _state.holders_with_keys(all_grants)
            _state.check_job_rows(db, job_id, job, holders, self.vault_id)
            blobs = db.blobs.of_job(job_id)
        grants = [g for g, _ in all_grants if g.user == self.user]
        self._check_structure(job, blobs)
        deks = self._deks(job, grants)
        current = deks.get(job.key_version)
        if current is None:
            raise NoGrant(
                f"user {self.user} holds no grant for job {job_id}: a user who holds one "
                f"(`questa-vault show {job_id}` lists them) can run `questa-vault --user "
                f"HOLDER grant {self.user} -j {job_id}`"
            )
        keys = {version: crypto.job_keys(dek) for version, dek in deks.items()}
        self._check_seal(job, blobs, holders, keys[job.key_version].seal_key)
        if job.status in ("pending", "expired") and any(f in require for f in wanted):
            raise InputError(f"job {job_id} is {job.status}: nothing was archived for it")
        by_field: dict[str, list[BlobRow]] = {}
        for blob in blobs:
            by_field.setdefault(blob.field, []).append(blob)
        for field in require:
            if field in wanted and field not in by_field and _expects(job, field):
                raise IntegrityError(f"job {job_id} lacks its {field}")
        fields: dict[str, bytes] = {}
        for field in wanted:
            rows = by_field.get(field)
            if not rows:
                continue
            version = rows[0].key_version
            if version not in keys:
                continue  # an older key version this user was never given
            fields[field] = env.decrypt_field(
                vault_id=self.vault_id, job_id=job_id, blob_key=keys[version].blob_key, rows=rows
            )
        return _Opened(job, fields)

    def _check_seal(
        self,
        job: JobRow,
        blobs: Sequence[BlobRow],
        holders: Sequence[_state.Holder],
        seal_key: bytes,
    ) -> None:
        """The job's seal over its metadata, ciphertexts and (format 2) its holders: a grant
        row added, removed or moved outside the tool fails here, under the job's key."""
        sealed = None
        if crypto.seal_version(job.seal) == crypto.SEAL_V2:
            sealed = _state.seal_holders(holders)
        message = env.seal_message(self.vault_id, job, blobs, sealed)
        try:
            crypto.check_seal(seal_key, message, job.seal)
        except IntegrityError as exc:
            raise IntegrityError(
                f"the seal of job {job.job_id} does not match its metadata, ciphertexts and "
                "holders (a row was edited, or a grant row added outside questa-vault)"
            ) from exc

    def _deks(self, job: JobRow, grants: Iterable[GrantRow]) -> dict[int, bytes]:
        deks: dict[int, bytes] = {}
        for grant in grants:
            if grant.key_version > job.key_version:
                raise IntegrityError(f"job {job.job_id} has a grant from the future")
            info = crypto.dek_info(self.vault_id, job.job_id, self.user, grant.key_version)
            deks[grant.key_version] = crypto.open_dek(grant.sealed_dek, self._private_key, info)
        return deks

    @staticmethod
    def _check_structure(job: JobRow, blobs: Sequence[BlobRow]) -> None:
        for blob in blobs:
            if blob.field not in env.FIELDS or not 1 <= blob.key_version <= job.key_version:
                raise IntegrityError(f"job {job.job_id} has a foreign blob")
        # The newest key version always encrypts something once a job holds any blob.
        if blobs and max(b.key_version for b in blobs) != job.key_version:
            raise IntegrityError(f"job {job.job_id} has a key version no blob uses")

    # ----------------------------------------------------------------- logging

    def release(
        self,
        action: str,
        job_ids: Sequence[str],
        counts: Mapping[str, int] | None = None,
        *,
        per_job: Mapping[str, Mapping[str, int]] | None = None,
    ) -> list[LogEntry]:
        """Commit one access-log entry per job BEFORE the caller releases plaintext.

        ``counts`` go into every entry unless ``per_job`` gives a job its own. Raises (and
        commits nothing) if the entries cannot be written: then release nothing.
        """
        if not job_ids:
            raise InputError("a release names at least one job")
        now = self._clock()
        entries: list[LogEntry] = []
        with self._db.write():
            last = _state.check_head(self._db, self.vault_id)
            for job_id in job_ids:
                job_counts = (per_job or {}).get(job_id, counts or {})
                last = _log.append_after(
                    self._db,
                    last,
                    vault_id=self.vault_id,
                    time=now,
                    user=self.user,
                    action=action,
                    job_id=job_id,
                    counts=job_counts,
                )
                entries.append(_log.to_entry(last))
        return entries

    # ----------------------------------------------------------------- sharing

    def grant(self, user: str, job_ids: Sequence[str]) -> list[str]:
        """Seal each job's DEK(s) to ``user`` as well; the jobs newly granted, in one transaction.

        Needs this session's own grants (``NoGrant``); the target must be an enabled user.
        """
        granted: list[str] = []
        now = self._clock()
        with self._db.write():
            target = self._db.users.get(user)
            if target is None:
                raise UnknownUser(f"no user {user} in this vault")
            if not target.enabled:
                raise UserDisabled(f"user {user} is disabled")
            for job_id in job_ids:
                job = self._readable_job(job_id)
                deks = self._deks(job, self._db.grants.of_job(job_id, self.user))
                if job.key_version not in deks:
                    raise NoGrant(f"user {self.user} holds no grant for job {job_id}")
                # Authenticate the job (seal, holders, log) before adding to its holders.
                self._open(job_id, (), require=())
                have = {g.key_version for g in self._db.grants.of_job(job_id, user)}
                missing = sorted(set(deks) - have)
                for version in missing:
                    info = crypto.dek_info(self.vault_id, job_id, user, version)
                    sealed = crypto.seal_dek(deks[version], target.public_key, info)
                    self._db.grants.insert(GrantRow(job_id, user, version, sealed, now))
                if missing:
                    job = _jobs.reseal(
                        self._db,
                        vault_id=self.vault_id,
                        row=job,
                        seal_key=crypto.job_keys(deks[job.key_version]).seal_key,
                        blobs=self._db.blobs.of_job(job_id),
                    )
                    granted.append(job_id)
                    self._log(
                        "grant",
                        job_id,
                        {"key_versions": len(missing)},
                        now,
                        user,
                        facts=self._job_facts(job),
                    )
        return granted

    def revoke(
        self, user: str, job_ids: Sequence[str], *, force: bool = False, disable: bool = False
    ) -> list[str]:
        """Withdraw ``user``'s grants and re-key each affected job, all in one transaction,
        because the revoked user may have kept the old DEKs.

        Re-keyed are the job's current key version and every older one ``user`` holds, each
        separately: its fields get a new DEK sealed only to that version's remaining holders,
        so nobody gains a field they could not read before (a user added after submit still
        cannot read the file name and options). Older versions ``user`` never held keep their
        DEK. The re-keyed versions become ``key_version + 1, ...`` in their old order.

        Refuses (``InputError``) to leave a re-keyed version with no holder unless ``force``.
        The jobs re-keyed are returned; jobs the user held no grant for are left alone.
        ``disable`` also disables ``user`` in the same transaction (no new job is sealed to
        them); it refuses (``InputError``) to disable the last enabled user.
        """
        rekeyed: list[str] = []
        now = self._clock()
        with self._db.write():
            target = self._db.users.get(user)
            if target is None:
                raise UnknownUser(f"no user {user} in this vault")
            if disable and target.enabled:
                if sum(1 for u in self._db.users.all() if u.enabled) <= 1:
                    raise InputError(f"user {user} is the last enabled user; add another first")
                self._db.users.set_enabled(user, False)
                self._log("user-disable", None, {}, now, user)
            for job_id in job_ids:
                job = self._readable_job(job_id)
                grants = self._db.grants.of_job(job_id)
                if not any(g.user == user for g in grants):
                    continue
                versions = sorted(
                    {g.key_version for g in grants if g.user == user} | {job.key_version}
                )
                holders = {
                    v: {g.user for g in grants if g.key_version == v} - {user} for v in versions
                }
                if not force and not all(holders.values()):
                    raise InputError(
                        f"revoking {user} would leave job {job_id} with no reader "
                        "(erase it instead, or force)"
                    )
                new = self._rekey(job, holders, now)
                rekeyed.append(job_id)
                self._log(
                    "revoke",
                    job_id,
                    {"key_version": new.key_version},
                    now,
                    user,
                    facts=self._job_facts(new),
                )
        return rekeyed

    def _rekey(self, job: JobRow, holders: Mapping[int, set[str]], now: float) -> JobRow:
        blobs = self._db.blobs.of_job(job.job_id)
        version_of = {b.field: b.key_version for b in blobs}
        wanted = [f for f in env.FIELDS if version_of.get(f) in holders]
        opened = self._open(job.job_id, wanted, require=())
        if set(wanted) - set(opened.fields):
            raise NoGrant(
                f"user {self.user} cannot re-key job {job.job_id}: it lacks an older key version"
            )
        users = {u.name: u for u in self._db.users.all()}
        key_versions: list[_jobs.NewKeyVersion] = [
            (
                {f: opened.fields[f] for f in wanted if version_of[f] == version},
                [users[name] for name in sorted(names)],
            )
            for version, names in sorted(holders.items())
        ]
        return _jobs.write_key_versions(
            self._db,
            vault_id=self.vault_id,
            row=job,
            key_versions=key_versions,
            keep=[b for b in blobs if b.key_version not in holders],
            now=now,
            random=self._random,
            chunk_size=self._chunk_size,
        )

    def _job_facts(self, job: JobRow) -> dict[str, str | int]:
        return _state.job_facts(job, _state.holders(self._db, job.job_id))

    def _readable_job(self, job_id: str) -> JobRow:
        job = self._db.jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no job {job_id} in this vault")
        if job.status == "erased":
            raise UnknownJob(f"job {job_id} was erased")
        return job

    # ----------------------------------------------------------------- own key

    def change_passphrase(self, new_passphrase: str, kdf: crypto.KdfParams) -> None:
        """Re-wrap this user's private key under a new passphrase (new salt, given KDF).

        Refused for a user whose private key is kept offline (added with a public key): a
        passphrase would move that key into the vault, where a copy of the file could be
        attacked offline."""
        current = self._db.users.get(self.user)
        if current is not None and current.wrapped_key is None:
            raise InputError(
                f"user {self.user} has no passphrase: its private key is kept offline "
                "(added with --public-key), and passwd would store it in the vault"
            )
        new = _users.make_key(
            vault_id=self.vault_id,
            name=self.user,
            passphrase=new_passphrase,
            kdf=kdf,
            random=self._random,
            private_key=self._private_key,
        )
        now = self._clock()
        with self._db.write():
            self._db.users.update_key(
                self.user,
                wrapped_key=new.wrapped_key,
                kdf_algorithm=kdf.algorithm,
                kdf_memory_kib=kdf.memory_kib,
                kdf_passes=kdf.passes,
                kdf_lanes=kdf.lanes,
                kdf_salt=new.salt,
                changed_at=now,
            )
            row = self._db.users.get(self.user)
            if row is None:
                raise UnknownUser(f"no user {self.user} in this vault")
            facts = _state.user_facts(row, unsafe=kdf.below_floor())
            self._log("passwd", None, {}, now, self.user, facts=facts)

    def _log(
        self,
        action: str,
        job_id: str | None,
        counts: Mapping[str, int],
        now: float,
        subject: str | None = None,
        *,
        facts: Mapping[str, str | int] | None = None,
    ) -> None:
        _log.append(
            self._db,
            vault_id=self.vault_id,
            time=now,
            user=self.user,
            action=action,
            job_id=job_id,
            counts=counts,
            subject=subject,
            facts=facts,
        )


def _expects(job: JobRow, field: str) -> bool:
    if field == env.FIELD_MAP:
        return job.status in ("archived", "failed")
    if field == env.FIELD_FILE:
        return job.chunk_count > 0
    return False
