"""The client of the Questa anonymization API (tier L2; the only part of `vault` importing httpx).

    QuestaClient        blocking calls; ``.aio()`` makes the asyncio twin
    AsyncQuestaClient   the same calls as coroutines, for concurrent polling
    RetryPolicy         bounds on retries and waits

Layout: ``_calls`` (the endpoints as data), ``_validate`` (every answer is checked before it is
returned), ``_retry`` (backoff, Retry-After, error translation), ``_http`` (the two clients).
No httpx type or exception leaves this package except the optional injected transport.
"""

from __future__ import annotations

from vault.client._calls import EXPIRED_HINT, UPLOAD_TYPES
from vault.client._http import DEFAULT_TIMEOUT, AsyncQuestaClient, QuestaClient
from vault.client._retry import RetryPolicy
from vault.client._validate import PLACEHOLDER_RE, check_job_id

__all__ = [
    "DEFAULT_TIMEOUT",
    "EXPIRED_HINT",
    "PLACEHOLDER_RE",
    "UPLOAD_TYPES",
    "AsyncQuestaClient",
    "QuestaClient",
    "RetryPolicy",
    "check_job_id",
]
