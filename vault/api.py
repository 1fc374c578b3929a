"""The ``Vault`` facade (tier L5): what a pipeline imports.

It composes the parts without adding policy of its own: archiving and auditing need no
secret (``Vault``), restoring and exporting need an unlocked user (``Unlocked``), and every
call returns data objects. Every plaintext release follows the one order of DESIGN.md:
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
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

import vault.archive as archive  # a lazy package: asyncio and httpx load with the first run
from vault.keyring import KdfParams, Keyring, Session, default_kdf
from vault.models import FetchOutcome, JobInfo, LogEntry, SubmitOptions, UserInfo
from vault.placeholders import Resolver, invert_map, merge_resolvers
from vault.report import AuditQuery, AuditReport, load_audit
from vault.restore import (
    AtomicOutput,
    RestoreOptions,
    RestoreReport,
    StreamRestorer,
    restore_stream,
)

if TYPE_CHECKING:
    from vault.archive import RunOptions, SubmitFile, SubmitOutcome, SyncReport
    from vault.client import QuestaClient

__all__ = ["Unlocked", "Vault"]


class Vault:
    """An open vault. No secret is held: archive and audit freely; ``unlock`` to read."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    @classmethod
    def open(cls, path: str | Path) -> Vault:
        """Open an existing vault: a SQLite file path or a ``postgresql://`` URL without a
        password (``VaultNotFound`` when there is none)."""
        return cls(Keyring.open(path))

    @classmethod
    def create(
        cls, path: str | Path, *, user: str, passphrase: str, kdf: KdfParams | None = None
    ) -> Vault:
        """Create a new vault with its first user, in a new SQLite file or an empty
        PostgreSQL database (``VaultExists`` if a vault is there)."""
        keyring = Keyring.create(path, user=user, passphrase=passphrase, kdf=kdf or default_kdf())
        return cls(keyring)

    @property
    def keyring(self) -> Keyring:
        """The underlying keyring, for the operations the facade does not wrap."""
        return self._keyring

    def close(self) -> None:
        self._keyring.close()

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
        actor: str = "api",
        options: RunOptions | None = None,
        on_outcome: Callable[[FetchOutcome], None] | None = None,
    ) -> list[FetchOutcome]:
        """Poll each job until it finishes and archive it; one outcome per job, in order."""
        run = options or archive.RunOptions(actor=actor)
        return archive.fetch(client, self._keyring, job_ids, run, on_outcome=on_outcome)

    def submit(
        self,
        client: QuestaClient,
        paths: Sequence[str | Path],
        *,
        actor: str = "api",
        submit_options: SubmitOptions | None = None,
        options: RunOptions | None = None,
        on_outcome: Callable[[SubmitOutcome], None] | None = None,
    ) -> list[SubmitOutcome]:
        """Upload files (text through the text endpoint), record them pending, then archive."""
        files: list[SubmitFile] = archive.check_files([Path(p) for p in paths])
        run = options or archive.RunOptions(actor=actor)
        return archive.submit(
            client,
            self._keyring,
            files,
            run,
            submit_options or SubmitOptions(),
            on_outcome=on_outcome,
        )

    def sync(
        self, client: QuestaClient, *, actor: str = "api", options: RunOptions | None = None
    ) -> SyncReport:
        """Fetch every pending job; report expiry warnings."""
        return archive.sync(client, self._keyring, options or archive.RunOptions(actor=actor))

    # -- auditing: no secret -----------------------------------------------------------------
    def jobs(self, *, status: str | None = None) -> list[JobInfo]:
        return self._keyring.list_jobs(status=status)

    def audit(self, query: AuditQuery | None = None) -> AuditReport:
        return load_audit(self._keyring.store, query)

    def log(self) -> list[LogEntry]:
        return self._keyring.log_entries()

    def users(self) -> list[UserInfo]:
        return self._keyring.list_users()

    # -- reading: an unlocked user -------------------------------------------------------------
    def unlock(self, user: str, passphrase: str) -> Unlocked:
        """One key derivation; the returned view reads every job the user holds a grant for."""
        return Unlocked(self._keyring.unlock(user, passphrase))


class Unlocked:
    """An authorized view: restore and export, each logged before anything is released."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def user(self) -> str:
        return self._session.user

    @property
    def session(self) -> Session:
        return self._session

    def resolver(self, jobs: Sequence[str], *, prefer: str | None = None) -> Resolver:
        """The merged placeholder -> original lookup of ``jobs`` (collisions raise)."""
        return merge_resolvers(
            [invert_map(self._session.open_map(j), j) for j in jobs], prefer=prefer
        )

    def restore_stream(
        self,
        src: BinaryIO,
        dst: Path | BinaryIO,
        *,
        jobs: Sequence[str],
        options: RestoreOptions | None = None,
        prefer: str | None = None,
    ) -> RestoreReport:
        """Restore ``src`` into ``dst`` (a path, written atomically, or a stream)."""
        resolver = self.resolver(jobs, prefer=prefer)
        with AtomicOutput(dst) as out:
            report = restore_stream(src, out.file, resolver, options or RestoreOptions())
            self._session.release("restore", list(jobs), report.log_counts())
            out.commit()
        return report

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
        options = RestoreOptions(format=format, lenient=lenient, encoding="utf-8")
        out = io.BytesIO()
        report = self.restore_stream(
            io.BytesIO(text.encode("utf-8")), out, jobs=jobs, options=options, prefer=prefer
        )
        return out.getvalue().decode("utf-8"), report

    def stream_restorer(
        self, jobs: Sequence[str], *, lenient: bool = False, prefer: str | None = None
    ) -> StreamRestorer:
        """A restorer for a token stream (``feed(text) -> str``, ``close() -> str``, or
        ``async for piece in restorer.restore(chunks)``). Its one access-log entry is
        committed before the first restored text is returned."""
        resolver = self.resolver(jobs, prefer=prefer)
        job_ids = list(jobs)

        def log() -> None:
            self._session.release("restore", job_ids, {"stream": 1})

        return StreamRestorer(resolver, lenient=lenient, on_first=log)

    def export(self, job_id: str) -> bytes:
        """The archived anonymized file as the server sent it (logged before it is returned)."""
        data = self._session.open_file(job_id)
        self._session.release("export", [job_id], {"bytes": len(data)})
        return data
