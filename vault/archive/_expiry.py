"""When a pending job may expire on the service: the estimate ``jobs``, ``show`` and ``sync``
warnings share (see the package docstring). No network stack: ``jobs`` loads only this."""

from __future__ import annotations

from vault._dataclass import dataclass
from vault.config import RETENTION_SECONDS
from vault.models import JobInfo


@dataclass(frozen=True)
class ExpiryWarning:
    """A job still pending close to (or past) its estimated expiry."""

    job_id: str
    expires_at: float  # estimate: submit time + 1 hour (see the package docstring)
    seconds_left: float


def estimated_expiry(job: JobInfo) -> float | None:
    """The earliest moment the service may forget a pending job (see the package docstring)."""
    start = job.submitted_at if job.submitted_at is not None else job.created_at
    return None if start is None else start + RETENTION_SECONDS
