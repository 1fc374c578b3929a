"""Reading ``--since``/``--until`` values and writing times (UTC)."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, date, datetime, timedelta

from vault.errors import InputError
from vault.models import JobInfo

_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_SECONDS = re.compile(r"^\d{9,}(\.\d*)?$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def time_window(
    since: float | str | None, until: float | str | None, *, now: float | None = None
) -> tuple[float | None, float | None]:
    """``(since, until)`` as Unix seconds from numbers or ``parse_when`` texts; ``InputError``
    for anything else or for an empty window (the same rule as ``log`` and ``audit``)."""
    moment = time.time() if now is None else now
    out: list[float | None] = []
    for value, end in ((since, False), (until, True)):
        if value is None:
            out.append(None)
        elif isinstance(value, str):
            out.append(parse_when(value, now=moment, end=end))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise InputError(f"cannot read the time {value!r}: give a finite number")
            out.append(float(value))
        else:
            raise InputError(f"cannot read the time {value!r}: give Unix seconds or a text")
    start, stop = out
    if start is not None and stop is not None and start >= stop:
        raise InputError("--since must be earlier than --until")
    return start, stop


def parse_when(text: str, *, now: float | None = None, end: bool = False) -> float:
    """Unix seconds for an ISO date or datetime (UTC unless it says otherwise), a relative
    time (``30d``, ``12h``, ``2w``, ``45m`` before ``now``), ``today``/``yesterday`` (whole
    UTC days, like a date), ``now``, or Unix seconds (9+ digits).

    With ``end=True`` a date without a time means the end of that day (the next midnight), so
    ``--until 2024-05-31`` includes the 31st, and ``--until yesterday`` stops at today's midnight.
    """
    if now is None:
        now = time.time()
    value = text.strip()
    word = value.lower()
    if word == "now":
        return now
    if word in ("today", "yesterday"):
        midnight = math.floor(now / 86400) * 86400 - (86400 if word == "yesterday" else 0)
        return float(midnight + (86400 if end else 0))
    rel = _RELATIVE.match(value)
    if rel:
        return now - int(rel.group(1)) * _UNIT_SECONDS[rel.group(2)]
    if _SECONDS.match(value):  # Unix seconds, as `log --since` also takes them
        return float(value)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return (start + timedelta(days=1) if end else start).timestamp()
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(
            f"cannot read the time {text!r}: use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][+HH:MM], "
            "a relative time like 30d, 12h, 2w, 45m, today, yesterday, now, or Unix seconds"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# Formatting 100,000 times: the date part is formatted once per day (``time.strftime`` over
# ``gmtime``, kept in a small cache), the time of day comes from precomputed tables.
_DAY_SECONDS = 86400
_DAYS: dict[int, str] = {}
_HOURS_MINUTES = [f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)]
_SECONDS_Z = [f":{s:02d}Z" for s in range(60)]


def _day(day: int) -> str:
    text = _DAYS.get(day)
    if text is None:
        if len(_DAYS) >= 4096:
            _DAYS.clear()
        text = _DAYS[day] = time.strftime("%Y-%m-%d", time.gmtime(day * _DAY_SECONDS))
    return text


# The times a date can be printed for: 1970-01-01 to 9999-12-31 (UTC), that is every time
# whose whole second (the formatters floor) falls in those years: 9999-12-31T23:59:59.5 is
# still printable, as in the SQL listing (store/_listing.py). A stored time outside (1e300,
# NaN: written by a client that skipped the checks) prints as unknown instead of ending the
# whole listing with an OverflowError.
PRINTABLE_TIME_END = 253_402_300_800  # 10000-01-01T00:00:00Z, the first time not printable


def printable_time(ts: float | None) -> bool:
    """Whether ``ts`` is a time the formatters below can print."""
    return isinstance(ts, int | float) and 0 <= ts < PRINTABLE_TIME_END


def sane_time(ts: float | None) -> float | None:
    """``ts`` when it can be printed as a date (``printable_time``), else None."""
    return ts if ts is not None and printable_time(ts) else None


def iso_time(ts: float | None) -> str | None:
    """``2024-05-01T12:00:00Z`` (UTC, whole seconds), or None (unknown or not printable)."""
    if ts is None or not printable_time(ts):
        return None
    day, second = divmod(math.floor(ts), _DAY_SECONDS)
    return f"{_day(day)}T{_HOURS_MINUTES[second // 60]}{_SECONDS_Z[second % 60]}"


def short_time(ts: float | None) -> str:
    """``2024-05-01 12:00`` (UTC) for tables, ``-`` when unknown or not printable."""
    if ts is None or not printable_time(ts):
        return "-"
    day, second = divmod(math.floor(ts), _DAY_SECONDS)
    return f"{_day(day)} {_HOURS_MINUTES[second // 60]}"


def audit_time(job: JobInfo) -> float | None:
    """When the job entered the archive (``JobInfo.audit_time``; see the module docstring)."""
    return job.audit_time
