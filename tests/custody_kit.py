"""Helpers shared by the vault's tests: fast KDF parameters, a deterministic random source,
sample jobs, and direct SQLite access for tampering (tests may bypass the store on purpose)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vault.custody import Custodian, KdfParams
from vault.models import JobContent, SubmitOptions
from vault.store import DatabaseUrl

# The same cost as conftest.FAST_KDF, as parameters for library calls.
FAST = KdfParams(memory_kib=8192, passes=1, lanes=1, unsafe=True)
PASSPHRASE = "correct horse battery staple"

# Originals that must never be found in the vault's files.
ORIGINALS = ("Johanna Quisling-Marx", "johanna.qm@example.org", "+41 79 555 01 23")


class DeterministicRandom:
    """``random(n)``: a SHA-256 counter stream from a seed, for known-answer vectors."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.counter = 0

    def __call__(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        return out[:n]


class StepClock:
    """A clock that starts at ``start`` and advances ``step`` seconds per reading."""

    def __init__(self, start: float = 1_800_000_000.0, step: float = 1.0) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        value = self.now
        self.now += self.step
        return value


def sample_job(
    job_id: str = "job-1",
    *,
    content: bytes | None = None,
    mapping: dict[str, str] | None = None,
    status: str = "archived",
    error: str | None = None,
    filename: str | None = None,
    options: SubmitOptions | None = None,
) -> JobContent:
    """A finished job whose map holds ``ORIGINALS`` (unless given another map)."""
    if mapping is None:
        mapping = {
            ORIGINALS[0]: "[PERSON_NAME_1]",
            ORIGINALS[1]: "[EMAIL_ADDRESS_2]",
            ORIGINALS[2]: "[PHONE_NUMBER_3]",
        }
    if content is None and status == "archived":
        content = b"name,email,phone\n[PERSON_NAME_1],[EMAIL_ADDRESS_2],[PHONE_NUMBER_3]\n"
    return JobContent(
        job_id=job_id,
        status=status,  # type: ignore[arg-type]
        file_type="csv",
        created_at=1_700_000_000.5,
        entity_count=len(mapping) + 2,
        content=content,
        mapping=mapping,
        error=error,
        filename=filename,
        options=options,
    )


def new_vault(path: Path, *, user: str = "alice", chunk_size: int = 1024 * 1024) -> Custodian:
    return Custodian.create(path, user=user, passphrase=PASSPHRASE, kdf=FAST, chunk_size=chunk_size)


class _PgRaw:
    """A psycopg connection that takes the tests' sqlite3-style SQL (``?`` parameters)."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def execute(self, sql: str, params=()):
        sql = sql.replace("?", "%s").replace(" user,", ' "user",').replace(" user ", ' "user" ')
        return self.conn.execute(sql, tuple(params))


@contextmanager
def raw_db(path) -> Iterator[sqlite3.Connection]:
    """A plain connection to the vault committing on exit (for tampering): sqlite3 for a
    file, psycopg (taking the same SQL) for a PostgreSQL vault."""
    if isinstance(path, DatabaseUrl) or str(path).startswith("postgresql://"):
        import psycopg

        with psycopg.connect(str(path)) as conn:  # one transaction, committed on exit
            yield _PgRaw(conn)  # type: ignore[misc]
        return
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()


def vault_bytes(path: Path) -> bytes:
    """The bytes of the vault file and its -wal and -shm companions."""
    out = b""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name.exists():
            out += name.read_bytes()
    return out


def vault_snapshot(location: Path | str) -> bytes | str:
    """What "left unchanged" compares: a SQLite vault file's bytes, a PostgreSQL vault's
    ``rows_digest`` (every row of every table)."""
    if isinstance(location, Path):
        return location.read_bytes()
    from vault.store import open_database, rows_digest

    with open_database(location) as db:
        return rows_digest(db)
