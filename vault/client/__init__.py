"""The client of the Questa anonymization API (tier L2; the only part of `vault` importing httpx).

    AsyncQuestaClient   the calls as coroutines, for concurrent polling
    QuestaClient        the same calls, blocking (a thin wrapper running the asyncio client);
                        ``.aio()`` makes the asyncio twin
    RetryPolicy         bounds on retries and waits

Layout: ``_calls`` (the endpoints as data), ``_validate`` (every answer is checked before it is
returned), ``_retry`` (backoff, Retry-After, error translation), ``_http`` (the asyncio client
and its blocking wrapper).
No httpx type or exception leaves this package except the optional injected transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault._lazy import lazy_exports

# httpx loads with the first client, not with ``import vault.client`` (``check_job_id`` and
# the constants need no network stack).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "DEFAULT_MAX_RESPONSE": "vault.client._body",
        "DEFAULT_TIMEOUT": "vault.client._http",
        "EXPIRED_HINT": "vault.client._calls",
        "PLACEHOLDER_RE": "vault.client._validate",
        "UPLOAD_TYPES": "vault.client._calls",
        "AsyncQuestaClient": "vault.client._http",
        "QuestaClient": "vault.client._http",
        "RetryPolicy": "vault.client._retry",
        "check_job_id": "vault.client._jobid",
        "is_job_id": "vault.client._jobid",
        "is_placeholder_label": "vault.client._validate",
    },
)

if TYPE_CHECKING:
    from vault.client._body import DEFAULT_MAX_RESPONSE
    from vault.client._calls import EXPIRED_HINT, UPLOAD_TYPES
    from vault.client._http import DEFAULT_TIMEOUT, AsyncQuestaClient, QuestaClient
    from vault.client._jobid import check_job_id, is_job_id
    from vault.client._retry import RetryPolicy
    from vault.client._validate import PLACEHOLDER_RE, is_placeholder_label

__all__ = [
    "DEFAULT_MAX_RESPONSE",
    "DEFAULT_TIMEOUT",
    "EXPIRED_HINT",
    "PLACEHOLDER_RE",
    "UPLOAD_TYPES",
    "AsyncQuestaClient",
    "QuestaClient",
    "RetryPolicy",
    "check_job_id",
    "is_job_id",
    "is_placeholder_label",
]
