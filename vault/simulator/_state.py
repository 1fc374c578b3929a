"""What the simulated service remembers: jobs, their lifecycle, and the evaluation limits.

A job's state is computed from the clock on every read, never advanced by a timer: with
processing time P and S progress steps, a job is ``queued`` (progress 0) for the first
P/(S+1) seconds, then ``processing`` with progress rising by one step every P/(S+1) seconds
(always below 100), then at P it is ``completed`` (progress 100) or, if it was drawn to fail,
``failed`` with its progress frozen. Retention runs from that terminal moment; after it the
job is gone and answers 404 like an id that never existed.

Tests reach in through the public controls (``fail``, ``complete``, ``expire``, ``submit``,
``request_counts``, ``usage``). Every method is thread-safe: the server's event loop and the
test thread share one lock.
"""

from __future__ import annotations

import base64
import math
import random
import threading
import uuid
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import field

from vault._dataclass import dataclass
from vault.simulator._config import RATE_LIMIT_PER_MINUTE, REQUEST_CAP, SimulatorConfig

FAILURE_MESSAGE = "Anonymization failed: the document could not be processed."
_WINDOW = 60.0
# Expired jobs are forgotten when polled, and swept every this many new jobs, so a
# long-running simulator does not grow without bound.
_SWEEP_EVERY = 1000


@dataclass(frozen=True)
class JobView:
    """One job as ``GET /anonymize/status/{job_id}`` shows it at a moment."""

    job_id: str
    status: str
    progress: int
    file_type: str
    result: bytes | None
    mapping: Mapping[str, str]
    entity_count: int
    error: str | None
    created_at: float

    def to_json(self) -> dict[str, object]:
        """The status body; every documented key, always."""
        return {
            "status": self.status,
            "progress": self.progress,
            "file_type": self.file_type,
            "result": None if self.result is None else base64.b64encode(self.result).decode(),
            "de_anonymization_map": dict(self.mapping),
            "entity_count": self.entity_count,
            "error": self.error,
            "created_at": self.created_at,
        }


@dataclass
class _Job:
    """A job the simulated service holds, until it expires."""

    job_id: str
    file_type: str
    created_at: float
    content: bytes
    mapping: dict[str, str]
    entity_count: int
    # The planned end: None means completed; a message means failed with it.
    failure: str | None
    # A forced end (by a test control): (status, moment, frozen progress).
    forced: tuple[str, float, int] | None = None


@dataclass(frozen=True)
class LimitDecision:
    """Why a counted request may not go on (``None`` fields mean it may)."""

    status: int | None = None
    retry_after: int = 0


@dataclass
class _Usage:
    """An API key's accepted requests: the total, and the recent ones' times (the rate
    limit's window)."""

    total: int = 0
    recent: deque[float] = field(default_factory=deque)


class SimulatorState:
    """Jobs, limits and request counters of one simulator."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._usage: dict[str, _Usage] = {}
        self._requests: Counter[str] = Counter()
        self._rng = random.Random(config.seed)
        self._created = 0

    # ---------------------------------------------------------------- randomness

    def draw(self) -> float:
        """One draw in [0, 1) from the simulator's (seedable) random source."""
        with self._lock:
            return self._rng.random()

    # ---------------------------------------------------------------- jobs

    def create_job(
        self,
        file_type: str,
        content: bytes,
        mapping: Mapping[str, str],
        entity_count: int,
        *,
        failure: str | None = None,
    ) -> str:
        """Record a new job (queued now); ``failure`` makes it fail with that message."""
        with self._lock:
            if self.config.seed is None:
                job_id = str(uuid.uuid4())
            else:
                job_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            if failure is None and self._rng.random() < self.config.failure_rate:
                failure = FAILURE_MESSAGE
            self._created += 1
            if self._created % _SWEEP_EVERY == 0:
                self._sweep()
            self._jobs[job_id] = _Job(
                job_id=job_id,
                file_type=file_type,
                created_at=self.config.clock(),
                content=content,
                mapping=dict(mapping),
                entity_count=entity_count,
                failure=failure,
            )
            return job_id

    def view(self, job_id: str) -> JobView | None:
        """The job as the status call shows it now; None when unknown or expired."""
        with self._lock:
            now = self.config.clock()
            job = self._jobs.get(job_id)
            if job is None:
                return None
            view, terminal_at = self._view(job, now)
            if terminal_at is not None and now >= terminal_at + self.config.retention:
                del self._jobs[job_id]
                return None
            return view

    def _sweep(self) -> None:
        """Forget every job whose retention is over (callers hold the lock)."""
        now = self.config.clock()
        for job_id, job in list(self._jobs.items()):
            _, terminal_at = self._view(job, now)
            if terminal_at is not None and now >= terminal_at + self.config.retention:
                del self._jobs[job_id]

    def job_ids(self) -> list[str]:
        """Ids of the jobs the service still knows."""
        with self._lock:
            self._sweep()
            return list(self._jobs)

    def fail(self, job_id: str, error: str = FAILURE_MESSAGE) -> None:
        """Make a job fail now (its progress freezes where it is). KeyError if unknown."""
        self._force(job_id, "failed", error)

    def complete(self, job_id: str) -> None:
        """Make a job complete now. KeyError if unknown."""
        self._force(job_id, "completed", None)

    def expire(self, job_id: str) -> None:
        """Forget a job now, as if its retention had run out. KeyError if unknown."""
        with self._lock:
            del self._jobs[job_id]

    def _force(self, job_id: str, status: str, error: str | None) -> None:
        with self._lock:
            job = self._jobs[job_id]
            now = self.config.clock()
            view, terminal_at = self._view(job, now)
            if terminal_at is not None:
                return  # already terminal: the documented states never change after that
            job.forced = (status, now, view.progress)
            job.failure = error

    def _view(self, job: _Job, now: float) -> tuple[JobView, float | None]:
        """The job's state at ``now`` and the moment it became terminal (None if not yet)."""
        total = self.config.processing_time
        steps = self.config.progress_steps
        if job.forced is not None:
            status, terminal_at, frozen = job.forced
            progress = 100 if status == "completed" else frozen
        elif now - job.created_at >= total:
            terminal_at = job.created_at + total
            status = "completed" if job.failure is None else "failed"
            progress = 100 if job.failure is None else _last_progress(total, steps)
        else:
            elapsed = max(0.0, now - job.created_at)
            progress = _progress(elapsed, total, steps)
            status = "queued" if elapsed < total / (steps + 1) else "processing"
            return self._make_view(job, status, progress), None
        return self._make_view(job, status, progress), terminal_at

    @staticmethod
    def _make_view(job: _Job, status: str, progress: int) -> JobView:
        done = status == "completed"
        return JobView(
            job_id=job.job_id,
            status=status,
            progress=progress,
            file_type=job.file_type,
            result=job.content if done else None,
            mapping=dict(job.mapping) if done else {},
            entity_count=job.entity_count if done else 0,
            error=job.failure if status == "failed" else None,
            created_at=job.created_at,
        )

    # ---------------------------------------------------------------- limits

    def check_limits(self, key: str) -> LimitDecision:
        """The 403 cap, then the 429 rate limit, for one more counted request of ``key``."""
        with self._lock:
            return self._check(key, self.config.clock())

    def accept(self, key: str) -> LimitDecision:
        """Count an accepted request, unless a concurrent one used up the limit first."""
        with self._lock:
            now = self.config.clock()
            decision = self._check(key, now)
            if decision.status is None:
                usage = self._usage.setdefault(key, _Usage())
                usage.total += 1
                usage.recent.append(now)
            return decision

    def _check(self, key: str, now: float) -> LimitDecision:
        usage = self._usage.get(key)
        if usage is None:
            return LimitDecision()
        if self.config.request_cap and usage.total >= REQUEST_CAP:
            return LimitDecision(status=403)
        while usage.recent and usage.recent[0] <= now - _WINDOW:
            usage.recent.popleft()
        if self.config.rate_limit and len(usage.recent) >= RATE_LIMIT_PER_MINUTE:
            oldest = usage.recent[-RATE_LIMIT_PER_MINUTE]
            wait = max(1, math.ceil(oldest + _WINDOW - now))
            return LimitDecision(status=429, retry_after=wait)
        return LimitDecision()

    def usage(self, token: str | None = None) -> int:
        """Counted (accepted) requests of ``token`` (None: the no-auth deployment)."""
        with self._lock:
            usage = self._usage.get(token or "")
            return 0 if usage is None else usage.total

    # ---------------------------------------------------------------- request counters

    def count_request(self, route: str) -> None:
        with self._lock:
            self._requests[route] += 1

    def request_counts(self) -> dict[str, int]:
        """Requests received per route, e.g. ``{"GET /anonymize/status/{job_id}": 12}``.

        Every request that reached the server counts, including refused, failed and dropped ones.
        """
        with self._lock:
            return dict(self._requests)


def _last_progress(total: float, steps: int) -> int:
    """The progress a job shows just before it ends."""
    return 0 if total <= 0 else (100 * steps) // (steps + 1)


def _progress(elapsed: float, total: float, steps: int) -> int:
    """Progress of a job that is not terminal: 0 while queued, then rising by steps below 100."""
    if total <= 0:
        return 0
    tick = total / (steps + 1)
    k = min(steps, int(elapsed / tick))
    return (100 * k) // (steps + 1)
