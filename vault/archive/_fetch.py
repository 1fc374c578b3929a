"""``fetch`` (archive the given jobs) and ``sync`` (archive every pending job)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

from vault._dataclass import dataclass
from vault.archive._expiry import ExpiryWarning, estimated_expiry
from vault.archive._run import (
    ArchiveTarget,
    JobRun,
    RunOptions,
    may_archive,
    run_all,
    unique_ids,
)
from vault.archive._writer import Writer
from vault.client import QuestaClient
from vault.config import EXPIRY_WARNING_SECONDS
from vault.errors import InputError
from vault.models import FetchOutcome


@dataclass(frozen=True)
class SyncReport:
    """Outcomes of a sync, and the jobs left pending close to their expiry."""

    outcomes: tuple[FetchOutcome, ...]
    warnings: tuple[ExpiryWarning, ...]

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)


async def fetch_async(
    client: QuestaClient,
    target: ArchiveTarget,
    job_ids: Iterable[str],
    options: RunOptions,
    *,
    on_outcome: Callable[[FetchOutcome], None] | None = None,
) -> list[FetchOutcome]:
    """``fetch`` as a coroutine, for callers that already run an event loop."""
    ids = unique_ids(job_ids)
    if ids:
        may_archive(target)
    known = {job_id: target.get_job(job_id) for job_id in ids}
    servers = {j: info.api_url for j, info in known.items() if info and info.api_url}
    by_server: dict[str, list[str]] = {}
    for job_id in ids:
        url = client.base_url if options.here else servers.get(job_id, client.base_url)
        by_server.setdefault(url, []).append(job_id)
    limit = asyncio.Semaphore(options.concurrency)
    deadline = options.clock() + options.timeout
    async with contextlib.AsyncExitStack() as stack:
        writer = await stack.enter_async_context(Writer(target))  # left last: after the clients
        runs: dict[str, JobRun] = {}
        problems: dict[str, str] = {}
        for url in by_server:
            try:
                server = client if url == client.base_url else client.at(url)
            except InputError:  # a recorded URL that is not http(s): that job's error
                problems[url] = "its recorded API URL is not a valid http(s) URL"
                continue
            aclient = await stack.enter_async_context(server.aio())
            runs[url] = JobRun(
                aclient,
                target,
                options,
                limit=limit,
                deadline=deadline,
                servers=servers,
                foreign=url != client.base_url,
                writer=writer,
            )
        where = {job_id: url for url, group in by_server.items() for job_id in group}

        async def one(job_id: str) -> FetchOutcome:
            url = where[job_id]
            if url in problems:
                outcome = FetchOutcome(job_id, "error", problems[url])
            else:
                outcome = await runs[url].job(job_id, known[job_id])
            if on_outcome is not None:
                on_outcome(outcome)
            return outcome

        return await run_all(one(j) for j in ids)


def fetch(
    client: QuestaClient,
    target: ArchiveTarget,
    job_ids: Iterable[str],
    options: RunOptions,
    *,
    on_outcome: Callable[[FetchOutcome], None] | None = None,
) -> list[FetchOutcome]:
    """Poll each job until completed or failed and archive it; one outcome per distinct id,
    in order. ``on_outcome`` is called as each job finishes.

    Raises ``InputError`` for a malformed job id (before any request) and ``ApiAuthError``
    when the service refuses the token (at once, for the whole run).
    """
    return asyncio.run(fetch_async(client, target, job_ids, options, on_outcome=on_outcome))


def sync(
    client: QuestaClient,
    target: ArchiveTarget,
    options: RunOptions,
    *,
    on_outcome: Callable[[FetchOutcome], None] | None = None,
) -> SyncReport:
    """Fetch every pending job, each at its own server (unless ``options.here``); a job its
    own server no longer knows is marked expired once the retention since its submission has
    passed (or at once with ``options.expire_missing``), else reported ``not-found`` and kept.

    Warns about jobs still pending afterwards within ``EXPIRY_WARNING_SECONDS`` of their
    estimated expiry. Safe while another sync runs: storing a job is idempotent.
    """
    # asked even when nothing is pending: a host whose role may not archive (an analyst's
    # credentials on the fetch host) learns it on the first run, not on the day a job waits
    may_archive(target)
    pending = target.pending_jobs()
    outcomes = fetch(client, target, [j.job_id for j in pending], options, on_outcome=on_outcome)
    unfinished = {
        o.job_id for o in outcomes if o.outcome in ("pending", "timeout", "error", "not-found")
    }
    now = options.now()
    warnings = []
    for job in pending:
        expires = estimated_expiry(job)
        if (
            job.job_id in unfinished
            and expires is not None
            and expires - now <= EXPIRY_WARNING_SECONDS
        ):
            warnings.append(ExpiryWarning(job.job_id, expires, expires - now))
    return SyncReport(tuple(outcomes), tuple(warnings))
