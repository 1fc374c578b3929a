"""The hash-chained access log: appending an entry and verifying the chain.

Each entry's hash is SHA-256 over the previous entry's hash and the canonical encoding of the
entry (``crypto.log_entry_hash``); the first entry chains from 64 zeros. Appending happens
inside the caller's write transaction, so an entry commits together with what it records,
and an operation that releases plaintext commits its entry before releasing anything.
"""

from __future__ import annotations

from collections.abc import Mapping

import vault.crypto as crypto
from vault.errors import InputError, IntegrityError
from vault.models import LOG_ACTIONS, LogEntry
from vault.store import Database, LogRow

MAX_ACTION_LENGTH = 40
MAX_USER_LENGTH = 128
LAST_LOG_TIME = 253402300799.0  # 9999-12-31T23:59:59Z


def append(
    db: Database,
    *,
    vault_id: str,
    time: float,
    user: str,
    action: str,
    job_id: str | None,
    counts: Mapping[str, int],
    subject: str | None = None,
    facts: Mapping[str, str | int] | None = None,
) -> LogEntry:
    """Add one entry at the head of the chain (call inside ``db.write()``). Every new
    entry carries ``facts`` (the state it leaves behind; ``{}`` when there is none)."""
    row = append_after(
        db,
        db.log.last(),
        vault_id=vault_id,
        time=time,
        user=user,
        action=action,
        job_id=job_id,
        counts=counts,
        subject=subject,
        facts=facts,
    )
    return to_entry(row)


def append_after(
    db: Database,
    last: LogRow | None,
    *,
    vault_id: str,
    time: float,
    user: str,
    action: str,
    job_id: str | None,
    counts: Mapping[str, int],
    subject: str | None = None,
    facts: Mapping[str, str | int] | None = None,
) -> LogRow:
    """``append`` after ``last``, the head the caller has just read in this same write
    transaction (a release reads it to check it; reading it twice is a wasted statement)."""
    if not action or len(action) > MAX_ACTION_LENGTH:
        raise InputError("an access-log action must be 1 to 40 characters")
    if action not in LOG_ACTIONS:
        raise InputError(f"unknown access-log action {action!r} (known: {', '.join(LOG_ACTIONS)})")
    # The log is append-only for good: no control character (a terminal escape) gets in.
    if not 1 <= len(user) <= MAX_USER_LENGTH or not user.isprintable():
        raise InputError(
            f"the acting user's name must be 1 to {MAX_USER_LENGTH} printable characters "
            "(--user, QUESTA_VAULT_USER or the login name)"
        )
    # A time every reader can print (1970 to 9999, finite): the entry stays for good
    if not isinstance(time, int | float) or not 0 <= time <= LAST_LOG_TIME:
        raise InputError("an access-log entry's time must be Unix seconds from 1970 to 9999")
    # Flat text -> integer only: whatever is stored must be readable by every reader.
    if not all(isinstance(k, str) and type(v) is int for k, v in counts.items()):
        raise InputError("an access-log entry's counts must be a flat object of integers")
    clean = dict(counts)
    state: dict[str, str | int] = dict(facts or {})
    seq = 1 if last is None else last.seq + 1
    prev = crypto.GENESIS_HASH if last is None else last.entry_hash
    entry_hash = crypto.log_entry_hash(
        prev,
        vault_id=vault_id,
        seq=seq,
        time=time,
        user=user,
        action=action,
        job_id=job_id,
        counts=clean,
        subject=subject,
        facts=state,
    )
    row = LogRow(seq, time, user, action, job_id, clean, prev, entry_hash, subject, state)
    db.log.append(row)
    return row


def to_entry(row: LogRow) -> LogEntry:
    return LogEntry(
        seq=row.seq,
        time=row.time,
        user=row.user,
        action=row.action,
        job_id=row.job_id,
        counts=dict(row.counts),
        prev_hash=row.prev_hash,
        entry_hash=row.entry_hash,
        subject=row.subject,
        facts=None if row.facts is None else dict(row.facts),
    )


def verify_chain(db: Database, vault_id: str) -> tuple[int, str]:
    """Recompute the whole chain; its head ``(seq, hash)``, or ``IntegrityError`` naming the
    first entry that does not fit (edited, deleted, inserted or reordered)."""
    prev = crypto.GENESIS_HASH
    expected_seq = 1
    for row in db.log.rows():
        if row.seq != expected_seq:
            raise IntegrityError(
                f"access log: entry {expected_seq} is missing (next entry is {row.seq})"
            )
        if row.prev_hash != prev:
            raise IntegrityError(f"access log: entry {row.seq} does not follow its predecessor")
        if not crypto.constant_time_equal(rehash(row, vault_id).encode(), row.entry_hash.encode()):
            raise IntegrityError(f"access log: entry {row.seq} was altered")
        prev = row.entry_hash
        expected_seq += 1
    return expected_seq - 1, prev


def parse_head(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as ``log --head`` prints it; ``InputError`` if malformed."""
    shape = "a log head looks like SEQ:HASH (as printed by `log --head`)"
    seq_text, sep, digest = text.strip().partition(":")
    if not sep or not seq_text.isdigit():
        raise InputError(shape)
    try:
        bytes.fromhex(digest)
    except ValueError as exc:
        raise InputError(f"{shape}: HASH is 64 hexadecimal characters") from exc
    if len(digest) != 64:
        raise InputError(f"{shape}: HASH is 64 hexadecimal characters, not {len(digest)}")
    return int(seq_text), digest.lower()


def rehash(row: LogRow, vault_id: str) -> str:
    """The hash a stored entry must carry, computed from its fields and its ``prev_hash``."""
    return crypto.log_entry_hash(
        row.prev_hash,
        vault_id=vault_id,
        seq=row.seq,
        time=row.time,
        user=row.user,
        action=row.action,
        job_id=row.job_id,
        counts=row.counts,
        subject=row.subject,
        facts=row.facts,
    )
