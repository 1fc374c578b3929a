"""The simulator's knobs, and a clock that tests move by hand.

``SimulatorConfig`` is frozen and validated once, so the server never meets a nonsensical
value mid-request. Times are seconds. The evaluation limits themselves (30 counted requests per
minute, 1,000 in a token's lifetime) are the service's documented numbers, not knobs; only
whether each applies is configurable.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import field

from vault._dataclass import dataclass
from vault.errors import InputError

RATE_LIMIT_PER_MINUTE = 30
REQUEST_CAP = 1000
DEFAULT_RETENTION = 3600.0


@dataclass(frozen=True)
class SimulatorConfig:
    """How the simulated service behaves.

    ``tokens`` empty means a self-hosted deployment: no ``Authorization`` header is needed
    (and any sent is ignored). The rates are probabilities per request (``error_rate``,
    ``drop_rate``, on ``/anonymize/*`` routes) or per job (``failure_rate``); ``seed`` makes
    them, and the job ids, reproducible. ``clock`` returns Unix seconds and drives the job
    lifecycle, retention and the rate limit (latency uses real time).
    """

    tokens: tuple[str, ...] = ()
    processing_time: float = 2.0
    progress_steps: int = 4
    retention: float = DEFAULT_RETENTION
    failure_rate: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    latency: float = 0.0
    rate_limit: bool = False
    request_cap: bool = False
    seed: int | None = None
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.tokens, str) or not isinstance(self.tokens, tuple | list):
            raise InputError("tokens must be a tuple of strings")
        object.__setattr__(self, "tokens", tuple(self.tokens))  # a list is accepted, kept frozen
        for token in self.tokens:
            if not isinstance(token, str) or not token or token != token.strip():
                raise InputError("each token must be a non-empty string without surrounding spaces")
            if any(ch.isspace() for ch in token):
                raise InputError("a token must not contain whitespace")
        for name in ("processing_time", "retention", "latency"):
            value = getattr(self, name)
            if not _finite(value) or value < 0:
                raise InputError(f"{name} must be a number of seconds >= 0")
        for name in ("failure_rate", "error_rate", "drop_rate"):
            value = getattr(self, name)
            if not _finite(value) or not 0.0 <= value <= 1.0:
                raise InputError(f"{name} must be between 0 and 1")
        if (
            isinstance(self.progress_steps, bool)
            or not isinstance(self.progress_steps, int)
            or not 0 <= self.progress_steps <= 99
        ):
            raise InputError("progress_steps must be an integer from 0 to 99")
        if self.error_rate + self.drop_rate > 1.0:
            raise InputError("error_rate + drop_rate must not exceed 1")


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class ManualClock:
    """A clock that only moves when told to: ``clock.advance(61)``.

    Starts at a fixed Unix time so ``created_at`` values are predictable in tests.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backward) and return the new time."""
        if seconds < 0:
            raise InputError("a clock only moves forward")
        with self._lock:
            self._now += seconds
            return self._now
