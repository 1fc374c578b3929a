"""When to try again, how long to wait, and what to raise: shared by the sync and async clients.

``Attempts`` is a small state machine that sees one outcome at a time (a response or a
transport error) and answers "done", "wait N seconds and retry", or raises the error the caller
should see. It never sleeps itself, so both clients share it and tests can drive it directly.

- Connection errors, timeouts and 5xx: exponential backoff with *full jitter*
  (``uniform(0, min(cap, base * 2**n))``), at most ``max_retries`` retries.
- 429: wait ``Retry-After`` (seconds or an HTTP date; backoff when absent), at most
  ``max_rate_limited`` times, and never longer than ``max_wait`` for one wait: a server that
  asks for more is reported at once rather than obeyed for an hour.
- Every wait also has to fit in ``deadline`` seconds from the first attempt.
- 401/403 stop at once with the server's ``detail``; 404 raises what the caller chose; other
  4xx and 3xx are reported with the server's ``detail``.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from vault._dataclass import dataclass
from vault.errors import (
    ApiAuthError,
    ApiError,
    InputError,
    MalformedResponse,
    RateLimited,
    ServerError,
)

_DETAIL_MAX = 200


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying one call. All times in seconds."""

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_rate_limited: int = 10
    max_wait: float = 120.0
    deadline: float = 600.0


def server_detail(response: httpx.Response) -> str:
    """The server's ``detail``, shortened and stripped of control characters."""
    try:
        body: Any = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested too deep to decode
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # a validation error: [{"loc": [...], "msg": "..."}]
        parts = []
        for item in detail[:3]:
            if isinstance(item, dict) and isinstance(item.get("msg"), str):
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
                parts.append(f"{where}: {item['msg']}" if where else item["msg"])
        detail = "; ".join(parts)
    if not isinstance(detail, str):
        return ""
    clean = "".join(ch if ch.isprintable() else " " for ch in detail).strip()
    return clean if len(clean) <= _DETAIL_MAX else clean[: _DETAIL_MAX - 3] + "..."


def retry_after(response: httpx.Response, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date), if any."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def undecodable(what: str, exc: httpx.RequestError) -> MalformedResponse:
    """An answer httpx could not read (bad content encoding and the like): not retried."""
    return MalformedResponse(
        f"{what}: the answer could not be decoded ({type(exc).__name__}); nothing was stored"
    )


def unreadable(call: Any, exc: OSError) -> InputError:
    """The file to upload could not be opened or read (each attempt opens it afresh)."""
    return InputError(f"{call.what}: cannot read the file ({exc.strerror or type(exc).__name__})")


def _status_text(response: httpx.Response) -> str:
    detail = server_detail(response)
    return f"HTTP {response.status_code}: {detail}" if detail else f"HTTP {response.status_code}"


class Attempts:
    """Retry bookkeeping for one call (see the module docstring)."""

    def __init__(
        self,
        what: str,
        policy: RetryPolicy,
        *,
        clock: Callable[[], float],
        rng: random.Random,
        not_found: Callable[[], ApiError],
        host: str,
    ) -> None:
        self.what = what
        self.policy = policy
        self.clock = clock
        self.rng = rng
        self.not_found = not_found
        self.host = host
        self.started = clock()
        self.attempts = 0
        self.failures = 0
        self.rate_limited = 0

    def _fits(self, delay: float) -> bool:
        return self.clock() - self.started + delay <= self.policy.deadline

    def _backoff(self) -> float:
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (self.failures - 1))
        return self.rng.uniform(0.0, ceiling)

    def _transient(self, reason: str) -> float:
        self.failures += 1
        if self.failures > self.policy.max_retries:
            raise ServerError(f"{self.what}: {reason}, {self.attempts} attempts made")
        delay = self._backoff()
        if not self._fits(delay):
            raise ServerError(
                f"{self.what}: {reason}, giving up after {self.attempts} attempts "
                f"({self.policy.deadline:g} s allowed)"
            )
        return delay

    def after_error(self, exc: httpx.TransportError) -> float:
        """A transport error happened: the delay before retrying, or raise."""
        self.attempts += 1
        if isinstance(exc, httpx.UnsupportedProtocol):
            raise ApiError(f"{self.what}: the API URL is not http(s)") from exc
        reason = (
            f"timed out talking to {self.host}"
            if isinstance(exc, httpx.TimeoutException)
            else f"cannot reach {self.host} ({type(exc).__name__})"
        )
        return self._transient(reason)

    def after_response(self, response: httpx.Response) -> float | None:
        """``None`` when the response is final (2xx), the delay before retrying, or raise."""
        self.attempts += 1
        code = response.status_code
        if 200 <= code < 300:
            return None
        if code in (401, 403):
            raise ApiAuthError(f"{self.what}: {_status_text(response)}", status=code)
        if code == 404:
            raise self.not_found()
        if code == 429:
            return self._rate_limited(response)
        if code >= 500:
            return self._transient(f"the server answered {_status_text(response)}")
        raise ApiError(f"{self.what}: the server refused ({_status_text(response)})", status=code)

    def _rate_limited(self, response: httpx.Response) -> float:
        self.rate_limited += 1
        if self.rate_limited > self.policy.max_rate_limited:
            raise RateLimited(
                f"{self.what}: still rate limited (HTTP 429) after {self.rate_limited - 1} waits",
                status=429,
            )
        asked = retry_after(response, time.time())
        delay = asked if asked is not None else self._backoff_for_429()
        if delay > self.policy.max_wait:
            raise RateLimited(
                f"{self.what}: rate limited; the server asks to wait {delay:.0f} s, more than "
                f"the {self.policy.max_wait:g} s allowed",
                status=429,
            )
        if not self._fits(delay):
            raise RateLimited(
                f"{self.what}: rate limited; waiting {delay:.0f} s more would pass the "
                f"{self.policy.deadline:g} s allowed",
                status=429,
            )
        return delay

    def _backoff_for_429(self) -> float:
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * 2**self.rate_limited)
        return self.rng.uniform(0.0, ceiling)
