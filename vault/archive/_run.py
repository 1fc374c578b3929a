"""One run of fetch, submit or sync: the shared client, request limit, deadline and the
poll-and-archive loop of a single job (see the package docstring for the design)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from vault._dataclass import dataclass
from vault.archive._writer import Writer
from vault.client import EXPIRED_HINT, AsyncQuestaClient, check_job_id
from vault.config import RETENTION_SECONDS
from vault.errors import (
    ApiAuthError,
    ApiError,
    InputError,
    IntegrityError,
    JobNotFound,
    VaultError,
)
from vault.models import FetchOutcome, JobContent, JobInfo, RemoteJob, SubmitOptions

T = TypeVar("T")

DEFAULT_CONCURRENCY = 16
DEFAULT_TIMEOUT = 600.0
REQUEST_GRACE = 1.0  # a request may overrun the run's timeout by this much, no more


class ArchiveTarget(Protocol):
    """What the orchestration needs from the vault (``vault.custody.Custodian`` provides it).

    A target may also offer ``batch()``, a context manager that makes the writes inside it
    one transaction (``Custodian.batch``); the run's ``Writer`` then commits several jobs at
    once. Without it every write is its own transaction."""

    def record_pending(
        self,
        job_id: str,
        *,
        file_type: str,
        source: str,
        submitted_at: float,
        filename: str | None,
        options: SubmitOptions | None,
        actor: str,
        api_url: str | None = None,
    ) -> bool: ...

    def store_job(self, content: JobContent, *, actor: str, api_url: str | None = None) -> bool: ...

    def mark_expired(self, job_id: str, *, actor: str) -> None: ...

    def get_job(self, job_id: str) -> JobInfo | None: ...

    def pending_jobs(self) -> list[JobInfo]: ...


def may_archive(target: ArchiveTarget) -> None:
    """The target's own check that it may archive (``Custodian.check_may_archive``), before
    anything is sent or polled; a target without one is taken to be writable."""
    check = getattr(target, "check_may_archive", None)
    if check is not None:
        check()


@dataclass(frozen=True)
class PollPolicy:
    """Seconds between status polls: ``first``, then times ``factor``, at most ``cap``."""

    first: float = 0.5
    factor: float = 1.5
    cap: float = 5.0


@dataclass(frozen=True)
class RunOptions:
    """How a fetch, submit or sync run behaves; the defaults suit the command line.

    ``actor`` is the name the access log records; ``Vault.fetch/submit/sync(actor=...)`` fill
    it in when it is left empty here (one place decides it: see ``vault.api``)."""

    actor: str = ""
    wait: bool = True
    timeout: float = DEFAULT_TIMEOUT
    concurrency: int = DEFAULT_CONCURRENCY
    poll: PollPolicy = PollPolicy()
    clock: Callable[[], float] = time.monotonic  # bounds the run
    now: Callable[[], float] = time.time  # timestamps stored in the vault
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # between polls
    # A pending job is marked expired only when its own server answers 404 and this long has
    # passed since it was submitted, or when ``expire_missing`` says so explicitly.
    retention: float = RETENTION_SECONDS
    expire_missing: bool = False
    # Poll every job at the client's URL instead of the server recorded for it.
    here: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.concurrency, bool) or not 1 <= self.concurrency <= 256:
            raise InputError("concurrency must be from 1 to 256")
        if not self.timeout >= 0:
            raise InputError("timeout must be a number of seconds >= 0")

    def acting(self, actor: str | None) -> RunOptions:
        """These options with the log's actor settled: ``actor`` fills an empty one; a
        different name on both sides is an error (the access log must not record the wrong
        one silently)."""
        if actor is not None and self.actor and actor != self.actor:
            raise InputError(
                f"actor {actor!r} and RunOptions(actor={self.actor!r}) differ: give one of them"
            )
        name = self.actor or actor or "api"
        return self if name == self.actor else replace(self, actor=name)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def describe(file_type: str, size: int, map_size: int, entities: int) -> str:
    """The detail of an archived job: sizes and counts, never content."""
    return (
        f"{file_type}, {_count(size, 'byte', 'bytes')}, "
        f"{_count(map_size, 'map entry', 'map entries')}, "
        f"{_count(entities, 'entity', 'entities')}"
    )


def failed_detail(job_id: str) -> str:
    """A failed job's outcome: what to do next. The server's message may quote the document,
    so it is stored encrypted and only ``show --reveal`` (a key, logged) prints it, with the
    file name that ``sync`` (no key) cannot know; the service never retries a failed job."""
    return (
        "the server reports the job failed (not retried): `questa-vault show "
        f"{job_id} --reveal` prints its message and the file name; submit the file again"
    )


def _short(exc: VaultError, job_id: str) -> str:
    """The error message without a leading ``job X: `` (the outcome line names the job)."""
    message = str(exc)
    prefix = f"job {job_id}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


class JobRun:
    """One fetch/submit/sync run at one server: its client, and the limit and deadline
    shared by every server of the run."""

    def __init__(
        self,
        aclient: AsyncQuestaClient,
        target: ArchiveTarget,
        options: RunOptions,
        *,
        limit: asyncio.Semaphore | None = None,
        deadline: float | None = None,
        servers: dict[str, str] | None = None,
        foreign: bool = False,
        writer: Writer | None = None,
    ) -> None:
        self.aclient = aclient
        self.target = target
        # Every vault write of the run goes through the one writer (group commit, off the
        # event loop's thread: see ``_writer``).
        self.writer = writer or Writer(target)
        self.options = options.acting(None)  # an empty actor is logged as "api"
        self.limit = limit or asyncio.Semaphore(options.concurrency)
        self.deadline = options.clock() + options.timeout if deadline is None else deadline
        self.servers = servers if servers is not None else {}  # job id -> recorded API URL
        # Not the server of --api-url: the token was not sent, so a 401/403 concerns this job
        # only and does not end the run.
        self.foreign = foreign

    def bound(self) -> float:
        """Seconds a request started now may take: what is left of the run's ``timeout``,
        but at least ``REQUEST_GRACE`` so that ``--timeout 0`` still asks once. This is what
        makes ``--timeout`` bound requests already in flight (retries and waits included)."""
        return max(self.deadline - self.options.clock(), REQUEST_GRACE)

    async def status(self, job_id: str) -> RemoteJob:
        async with self.limit:
            async with asyncio.timeout(self.bound()):
                return await self.aclient.status(job_id)

    def _cut_off(self, job_id: str, known: JobInfo | None) -> FetchOutcome:
        """The run's time ran out while a request was in flight."""
        where = f"no answer from {self.aclient.host} within the {self.options.timeout:g} s allowed"
        if known is None:
            return FetchOutcome(job_id, "timeout", f"{where}; not recorded (fetch it again)")
        return FetchOutcome(job_id, "timeout", f"{where}; left {known.status} (run sync later)")

    async def job(self, job_id: str, known: JobInfo | None) -> FetchOutcome:
        """Poll one job to a terminal state (or the deadline) and archive it."""
        if known is not None and known.status in ("archived", "failed", "erased"):
            return self._local(job_id, known)
        interval = self.options.poll.first
        while True:
            try:
                remote = await self.status(job_id)
            except TimeoutError:
                return self._cut_off(job_id, known)
            except JobNotFound:
                return await self._not_found(job_id, known)
            except ApiAuthError as exc:
                if not self.foreign:
                    raise
                return FetchOutcome(
                    job_id,
                    "error",
                    f"{_short(exc, job_id)}; it was submitted to {self.aclient.base_url}, and "
                    "the token goes only to --api-url: fetch it with that --api-url",
                )
            except ApiError as exc:
                return FetchOutcome(job_id, "error", _short(exc, job_id))
            if remote.status in ("completed", "failed"):
                return await self._store(remote, known)
            remaining = self.deadline - self.options.clock()
            if not self.options.wait or remaining <= 0:
                return await self._still_running(remote, known)
            await self.options.sleep(min(interval, remaining))
            interval = min(self.options.poll.cap, interval * self.options.poll.factor)

    @staticmethod
    def _local(job_id: str, known: JobInfo) -> FetchOutcome:
        if known.status == "archived":
            return FetchOutcome(job_id, "already-archived", "already in the vault; nothing to do")
        if known.status == "failed":
            return FetchOutcome(job_id, "failed", "recorded earlier as failed on the server")
        return FetchOutcome(job_id, "error", "erased from this vault; not fetched again")

    def _own_server(self, job_id: str) -> bool:
        """Whether this run's server is the one the job was submitted to or fetched from (a
        job recorded before the vault kept URLs counts the server in use as its own)."""
        recorded = self.servers.get(job_id)
        return recorded is None or recorded == self.aclient.base_url

    async def _not_found(self, job_id: str, known: JobInfo | None) -> FetchOutcome:
        if known is None:  # never in this vault: nothing is known of it but the 404
            return FetchOutcome(job_id, "not-found", f"{EXPIRED_HINT}; nothing recorded")
        host = self.aclient.host
        if known.status == "expired":
            return FetchOutcome(
                job_id, "expired", f"marked expired earlier; {host} does not know it"
            )
        if known.status != "pending":  # pragma: no cover - archived/failed/erased never poll
            return FetchOutcome(job_id, "error", f"not found at {host}")
        why = self._keep_pending(job_id, known)
        if why is not None:
            return FetchOutcome(job_id, "not-found", f"not found at this server ({host}); {why}")
        actor = self.options.actor
        try:
            await self.writer.write(lambda: self.target.mark_expired(job_id, actor=actor))
        except VaultError as exc:
            return FetchOutcome(job_id, "error", _short(exc, job_id))
        if self.options.expire_missing:
            return FetchOutcome(job_id, "expired", f"not found at {host}; marked expired as asked")
        return FetchOutcome(
            job_id,
            "expired",
            "expired before it was archived (results are kept 1 hour); marked expired",
        )

    def _keep_pending(self, job_id: str, known: JobInfo) -> str | None:
        """Why a pending job the server does not know stays pending (None: mark it expired)."""
        if self.options.expire_missing:
            return None
        if not self._own_server(job_id):
            return f"kept pending: it was submitted to {self.servers[job_id]}"
        start = known.submitted_at if known.submitted_at is not None else known.created_at
        if start is None:
            return "kept pending: its submit time is unknown"
        age = self.options.now() - start
        if age < self.options.retention:
            minutes = max(0, int(age // 60))
            return (
                f"kept pending: submitted {minutes} min ago, within the "
                f"{self.options.retention / 60:g}-minute retention"
            )
        return None

    async def _store(self, remote: RemoteJob, known: JobInfo | None) -> FetchOutcome:
        completed = remote.status == "completed"
        content = JobContent(
            job_id=remote.job_id,
            status="archived" if completed else "failed",
            file_type=remote.file_type or (known.file_type if known else ""),
            created_at=remote.created_at,
            entity_count=remote.entity_count,
            content=remote.result,
            mapping=remote.mapping,
            error=None if completed else (remote.error or ""),
            source="upload",
        )
        actor, url = self.options.actor, self.aclient.base_url
        try:
            stored = await self.writer.write(
                lambda: self.target.store_job(content, actor=actor, api_url=url)
            )
        except IntegrityError:
            raise  # the vault disagrees with its own log: stop the whole run (exit 5)
        except VaultError as exc:
            return FetchOutcome(remote.job_id, "error", _short(exc, remote.job_id))
        if completed:
            if not stored:
                return FetchOutcome(remote.job_id, "already-archived", "archived by another run")
            return FetchOutcome(
                remote.job_id,
                "archived",
                describe(remote.file_type, len(remote.result or b""), len(remote.mapping),
                         remote.entity_count),
            )  # fmt: skip
        return FetchOutcome(
            remote.job_id,
            "failed",
            failed_detail(remote.job_id),
        )

    async def _still_running(self, remote: RemoteJob, known: JobInfo | None) -> FetchOutcome:
        job_id = remote.job_id
        if known is None:  # first met here: remember it so that sync finishes it later
            actor, url = self.options.actor, self.aclient.base_url
            try:
                await self.writer.write(
                    lambda: self.target.record_pending(
                        job_id,
                        file_type=remote.file_type,
                        source="upload",
                        submitted_at=remote.created_at,
                        filename=None,
                        options=None,
                        actor=actor,
                        api_url=url,
                    )
                )
            except VaultError as exc:
                return FetchOutcome(job_id, "error", _short(exc, job_id))
        state = f"{remote.status}, {remote.progress}% done"
        if not self.options.wait:
            return FetchOutcome(job_id, "pending", f"{state}; recorded as pending")
        return FetchOutcome(
            job_id,
            "timeout",
            f"{state} after {self.options.timeout:g} s; recorded as pending (run sync later)",
        )


async def run_all(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run all concurrently, results in order; the first exception (e.g. ``ApiAuthError``)
    cancels the rest and is raised as itself, not inside an ``ExceptionGroup``."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coros]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]


def unique_ids(job_ids: Iterable[str]) -> list[str]:
    """Distinct job ids in their first order; each checked before any request."""
    return [check_job_id(j) for j in dict.fromkeys(job_ids)]
