"""The SQLite layer on real files: modes, pragmas, migrations, transactions, backup, and the
behaviour of several processes (concurrent writers; a writer killed mid-transaction)."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from custody_kit import PASSPHRASE, new_vault, raw_db, sample_job

import vault.store as store
from vault.custody import Custodian
from vault.errors import StoreError, VaultExists, VaultNotFound
from vault.models import JOB_INFO_FIELDS, JOB_META_FIELDS
from vault.store import SIDECARS, Database, JobRow, UserRow, create_database, open_database
from vault.store._migrations import MIGRATIONS, MIGRATIONS_TABLE
from vault.store._rows import JOB_COLUMNS


def _mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    s = create_database(tmp_path / "s.db")
    yield s
    s.close()


def test_file_and_sidecars_are_created_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o002)
    try:
        path = tmp_path / "sub" / "dir" / "v.db"
        with new_vault(path) as kr:
            kr.store_job(sample_job(), actor="alice")
            names = [path, *(Path(f"{path}{s}") for s in SIDECARS)]
            assert all(p.exists() for p in names)
            assert [_mode(p) for p in names] == [0o600] * 3
    finally:
        os.umask(old)
    assert _mode(path.parent) & 0o077 == 0


def test_create_refuses_an_existing_vault(db: Database) -> None:
    with pytest.raises(VaultExists):
        create_database(db.location)


def test_open_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(VaultNotFound, match=r"no vault at .*: run questa-vault init"):
        open_database(tmp_path / "missing.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 200)
    with pytest.raises(StoreError, match="not a questa-vault database"):
        open_database(junk)


@pytest.mark.parametrize("setup", ["empty", "other schema"])
def test_other_sqlite_files_are_refused_and_left_unchanged(tmp_path: Path, setup: str) -> None:
    path = tmp_path / "plain.db"
    if setup == "empty":
        path.write_bytes(b"")
    else:
        conn = sqlite3.connect(str(path))
        conn.execute("CREATE TABLE notes (x)")
        conn.commit()
        conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a questa-vault database"):
        open_database(path)
    assert path.read_bytes() == before


FOREIGN_MIGRATIONS = "CREATE TABLE schema_migrations (id INTEGER PRIMARY KEY, name, applied_at)"


@pytest.mark.parametrize(
    "statements",
    [
        [FOREIGN_MIGRATIONS],
        [FOREIGN_MIGRATIONS, "INSERT INTO schema_migrations VALUES (1, '0001_users', 0)"],
        [FOREIGN_MIGRATIONS, "INSERT INTO schema_migrations VALUES (1, 'm001_initial', 0)"],
        [FOREIGN_MIGRATIONS, "CREATE TABLE vault_meta (key, value)"],
        ["CREATE TABLE schema_migrations (version)", "CREATE TABLE vault_meta (key, value)"],
    ],
    ids=["empty", "other names", "no vault_meta", "no migration", "other columns"],
)
@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_a_foreign_file_with_a_migrations_table_is_left_unchanged(
    tmp_path: Path, statements: list[str], journal: str
) -> None:
    """Another program's database may also keep a schema_migrations table: neither the WAL
    switch nor our migrations may touch it."""
    path = tmp_path / "app.db"
    conn = sqlite3.connect(str(path))
    conn.execute(f"PRAGMA journal_mode = {journal}")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        open_database(path)
    assert str(info.value) == f"{path} is not a questa-vault database"
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists() or journal == "wal"
    with sqlite3.connect(str(path)) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "users" not in tables and "jobs" not in tables
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == journal


def test_every_connection_sets_the_safety_pragmas(db: Database) -> None:
    assert db.settings() == {
        "journal_mode": "wal",
        "synchronous": 2,  # FULL
        "busy_timeout": 30_000,
        "foreign_keys": 1,
        "secure_delete": 1,
    }


KNOWN = [name for name, _ in MIGRATIONS]


def test_migrations_run_once_and_are_recorded(db: Database) -> None:
    assert KNOWN[:3] == ["m001_initial", "m002_job_api_url", "m003_log_facts"]
    assert db.migrations() == KNOWN
    db.close()
    with open_database(db.location) as again:
        assert again.migrations() == KNOWN
    with raw_db(db.location) as raw:
        assert raw.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(KNOWN)


def test_a_vault_of_the_first_schema_is_migrated_in_place(tmp_path: Path) -> None:
    """A vault written before m002 gains the api_url column; its jobs have no URL."""
    path = tmp_path / "old.db"
    with raw_db(path) as raw:
        raw.execute(MIGRATIONS_TABLE)
        for sql in MIGRATIONS[0][1]:
            raw.execute(sql)
        raw.execute("INSERT INTO schema_migrations VALUES (1, 'm001_initial', 0)")
        raw.execute("INSERT INTO jobs (job_id, status, file_type, source, updated_at) "
                   "VALUES ('old-job', 'pending', 'csv', 'upload', 0)")  # fmt: skip
    with open_database(path) as db:
        assert db.migrations() == KNOWN
        assert db.jobs.get("old-job").api_url is None  # type: ignore[union-attr]
        assert db.schema_problems() == []


def test_the_jobs_table_has_exactly_the_columns_of_the_one_job_definition(db: Database) -> None:
    with raw_db(db.location) as raw:
        columns = [r[1] for r in raw.execute("PRAGMA table_info(jobs)")]
    assert sorted(columns) == sorted(JOB_COLUMNS)
    assert set(JOB_META_FIELDS) <= set(JOB_COLUMNS)
    assert set(JOB_INFO_FIELDS) - set(JOB_META_FIELDS) == {"recipients"}


def test_a_job_row_survives_the_round_trip_through_sql(db: Database) -> None:
    row = JobRow(
        job_id="j",
        status="archived",
        file_type="csv",
        source="upload",
        created_at=1.5,
        expires_at=9,
        entity_counts={"B": 2, "A": 1},
        seal=b"\x01" * 33,
        chunk_count=3,
        updated_at=2.0,
    )
    with db.write():
        db.jobs.put(row)
    assert db.jobs.get("j") == row
    assert db.jobs.all() == [row]


def test_a_vault_from_a_newer_version_is_refused(db: Database) -> None:
    db.close()
    with raw_db(db.location) as raw:
        raw.execute("INSERT INTO schema_migrations VALUES (?, 'm999_future', 0)", (len(KNOWN) + 1,))
    with pytest.raises(StoreError, match="newer"):
        open_database(db.location)


def _user(name: str) -> UserRow:
    return UserRow(0, name, True, 1.0, b"k" * 32, None, None, None, None, None, None)


def test_writes_outside_a_transaction_are_refused(db: Database) -> None:
    with pytest.raises(StoreError, match="outside a write transaction"):
        db.users.insert(_user("alice"))
    with db.read(), pytest.raises(StoreError, match="outside a write transaction"):
        db.users.insert(_user("alice"))
    with db.read(), pytest.raises(StoreError, match="inside a read snapshot"), db.write():
        pass
    assert db.users.all() == []


def test_a_failed_transaction_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError), db.write():
        db.users.insert(_user("alice"))
        raise RuntimeError("boom")
    assert db.users.all() == []
    with db.write():
        db.users.insert(_user("alice"))
    assert [u.name for u in db.users.all()] == ["alice"]


def test_write_takes_the_write_lock_at_begin(db: Database) -> None:
    other = sqlite3.connect(str(db.location), isolation_level=None, timeout=0.05)
    try:
        with db.write():
            # BEGIN IMMEDIATE: the lock is held before the first write statement
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_a_writer_waits_for_another_instead_of_failing(db: Database) -> None:
    holder = sqlite3.connect(str(db.location), isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.4, lambda: holder.execute("COMMIT"))
    release.start()
    start = time.monotonic()
    with db.write():
        db.users.insert(_user("alice"))
    assert time.monotonic() - start >= 0.3
    release.join()
    holder.close()


def test_checkpoint_empties_the_wal(tmp_path: Path) -> None:
    with new_vault(tmp_path / "v.db") as kr:
        kr.store_job(sample_job(), actor="alice")
        assert Path(f"{kr.path}-wal").stat().st_size > 0
        store.checkpoint(kr.db)
        assert Path(f"{kr.path}-wal").stat().st_size == 0
        assert kr.db.integrity_check() == []


def test_backup_is_a_consistent_0600_copy(tmp_path: Path) -> None:
    with new_vault(tmp_path / "v.db") as kr:
        kr.store_job(sample_job(), actor="alice")  # still in the WAL, not the main file
        store.backup(kr.db, tmp_path / "copy.db")
        with pytest.raises(VaultExists):
            store.backup(kr.db, tmp_path / "copy.db")
    assert _mode(tmp_path / "copy.db") == 0o600
    with Custodian.open(tmp_path / "copy.db") as copy:
        assert copy.unlock("alice", PASSPHRASE).open_job("job-1") == sample_job()
        assert copy.verify_chain() == copy.log_head()


# --------------------------------------------------------------------------- processes

WRITER = """
import sys
from pathlib import Path
from vault.custody import Custodian
from vault.models import JobContent

path, prefix, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
mapping = {f"original {i} of {prefix}": f"[PERSON_NAME_{i}]" for i in range(1, 200)}
with Custodian.open(Path(path), chunk_size=64 * 1024) as kr:
    for n in range(count):
        job = JobContent(f"{prefix}-{n}", "archived", "csv", 1.0, 199,
                         bytes([n % 256]) * size, mapping)
        kr.store_job(job, actor=prefix)
        print(job.job_id, flush=True)
"""


def _writer(path: Path, prefix: str, count: int, size: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), prefix, str(count), str(size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check_every_job_whole(path: Path, expected_size: int) -> int:
    with Custodian.open(path) as kr:
        assert kr.db.integrity_check() == []
        assert kr.verify_chain() == kr.log_head()
        session = kr.unlock("alice", PASSPHRASE)
        jobs = kr.list_jobs()
        for info in jobs:
            assert info.status == "archived"
            content = session.open_job(info.job_id)
            assert len(content.content or b"") == expected_size
            assert len(content.mapping) == 199
        fetches = {e.job_id for e in kr.log_entries(action="fetch")}
        assert fetches == {j.job_id for j in jobs}
        return len(jobs)


def test_three_processes_storing_at_once_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    new_vault(path).close()
    writers = [_writer(path, f"w{i}", 12, 100_000) for i in range(3)]
    results = [w.communicate(timeout=120) for w in writers]
    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err
        assert len(out.split()) == 12
    assert _check_every_job_whole(path, 100_000) == 36


def test_a_writer_killed_mid_store_leaves_no_partial_job(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    new_vault(path).close()
    writer = _writer(path, "k", 10_000, 600_000)
    assert writer.stdout is not None
    done = [writer.stdout.readline() for _ in range(3)]
    assert all(line.startswith("k-") for line in done)
    time.sleep(0.013)  # land somewhere inside the next store
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    stored = _check_every_job_whole(path, 600_000)
    assert stored >= 3
    with raw_db(path) as raw:  # no orphan rows of an unfinished job
        assert (
            raw.execute(
                "SELECT count(*) FROM blobs WHERE job_id NOT IN (SELECT job_id FROM jobs)"
            ).fetchone()[0]
            == 0
        )


def test_the_log_triggers_checked_before_release_are_the_ones_a_fresh_vault_has(
    tmp_path: Path,
) -> None:
    """``LOG_TRIGGERS`` comes from the migrations' text (no database is built to compare with
    before a release): it must be exactly what SQLite's catalogue holds for a new vault, and a
    trigger dropped or redefined must fail the check."""
    from vault.store._migrations import LOG_TRIGGERS

    path = tmp_path / "vault.db"
    db = create_database(path)
    try:
        rows = db.query(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'access_log'"
        )
        assert {str(n): " ".join(str(sql).split()) for n, sql in rows} == dict(LOG_TRIGGERS)
        assert db.log_guarded()
        with db.write():
            db.execute("DROP TRIGGER access_log_no_delete")
            db.execute(
                "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log "
                "WHEN 0 BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END"
            )
        assert not db.log_guarded()
    finally:
        db.close()
