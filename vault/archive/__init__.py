"""Fetch, submit and sync (tier L4): archive every finished job before the service forgets it.

The orchestration is handed its collaborators: a ``QuestaClient`` (its asyncio twin does the
network work) and an ``ArchiveTarget`` (the custodian, or any object with the same methods).
Archiving needs no secret: the custodian seals new jobs to its users' public keys.

Layout: ``_run`` (one job's poll-and-archive loop, the run's limits), ``_fetch`` (fetch,
sync), ``_submit`` (checking inputs, submit), ``_expiry`` (the expiry estimate).

Design choices:
- Jobs run concurrently; at most ``concurrency`` requests are in flight at once (the limit is
  held per request, not while a job waits between polls, so slow jobs do not starve fast ones).
- Polling starts at ``PollPolicy.first`` seconds and grows by ``factor`` up to ``cap``.
  ``timeout`` bounds the whole run; a job still processing then is left *pending* in the vault
  so ``sync`` can finish it later.
- A job is recorded pending the moment the server accepts its upload, before anything else,
  so a crash after the upload loses nothing.
- Storing is one custodian transaction per job, idempotent: two processes archiving the same job
  store it once, and the loser reports "already-archived".
- 401/403 stop the whole run at once (every other job would fail the same way); any other
  per-job problem becomes that job's outcome.
- Expiry estimate for ``sync`` warnings: the service keeps results one hour from the moment a
  job *finishes*, which we cannot see; we count the hour from the submit time (or the server's
  ``created_at`` for jobs we first met in a fetch), which is never later than the real expiry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault._lazy import lazy_exports

# The network stack (asyncio, httpx) loads with the first run, not with the package: ``jobs``
# needs only the expiry estimate.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DEFAULT_CONCURRENCY": "vault.archive._run",
        "DEFAULT_TIMEOUT": "vault.archive._run",
        "SUBMIT_TYPES": "vault.archive._submit",
        "ArchiveTarget": "vault.archive._run",
        "ExpiryWarning": "vault.archive._expiry",
        "PollPolicy": "vault.archive._run",
        "RunOptions": "vault.archive._run",
        "SubmitFile": "vault.archive._submit",
        "SubmitOutcome": "vault.archive._submit",
        "SyncReport": "vault.archive._fetch",
        "check_files": "vault.archive._submit",
        "custom_entities": "vault.archive._submit",
        "estimated_expiry": "vault.archive._expiry",
        "fetch": "vault.archive._fetch",
        "fetch_async": "vault.archive._fetch",
        "submit": "vault.archive._submit",
        "submit_async": "vault.archive._submit",
        "sync": "vault.archive._fetch",
    },
)

if TYPE_CHECKING:
    from vault.archive._expiry import ExpiryWarning, estimated_expiry
    from vault.archive._fetch import SyncReport, fetch, fetch_async, sync
    from vault.archive._run import (
        DEFAULT_CONCURRENCY,
        DEFAULT_TIMEOUT,
        ArchiveTarget,
        PollPolicy,
        RunOptions,
    )
    from vault.archive._submit import (
        SUBMIT_TYPES,
        SubmitFile,
        SubmitOutcome,
        check_files,
        custom_entities,
        submit,
        submit_async,
    )

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_TIMEOUT",
    "SUBMIT_TYPES",
    "ArchiveTarget",
    "ExpiryWarning",
    "PollPolicy",
    "RunOptions",
    "SubmitFile",
    "SubmitOutcome",
    "SyncReport",
    "check_files",
    "custom_entities",
    "estimated_expiry",
    "fetch",
    "fetch_async",
    "submit",
    "submit_async",
    "sync",
]
