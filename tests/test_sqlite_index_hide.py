"""A writer of the SQLite file hides a middle ``erase`` or ``user-disable`` entry from the
release checks without editing or deleting it (review-attack6 B8): the row is left out of one
index (``writable_schema``: the index made partial while the row is re-inserted), and
``sqlite_stat1`` steers ``count(*)`` to an intact index. The table, the hash chain and the
count all still pass; only the index lies. Releases read the job's (the user's) entries and the
count from the table itself (``NOT INDEXED``), so the entry is seen and the release refused."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import FAST, PASSPHRASE, sample_job

from vault.custody import Custodian
from vault.lifecycle import erase

ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}


def _hide(path: Path, index: str, action: str, where: str) -> None:
    """Leave the ``action`` entry out of ``index``; the table keeps it, byte for byte."""
    c = sqlite3.connect(path, isolation_level=None)
    triggers = c.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'access_log'"
    ).fetchall()
    index_sql = c.execute("SELECT sql FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0]
    columns = [r[1] for r in c.execute("PRAGMA table_info(access_log)")]
    for name, _ in triggers:
        c.execute(f"DROP TRIGGER {name}")
    row = c.execute("SELECT * FROM access_log WHERE action = ?", (action,)).fetchone()
    c.execute("DELETE FROM access_log WHERE action = ?", (action,))
    c.execute("PRAGMA writable_schema = ON")
    partial = f"{index_sql} WHERE action <> '{action}'"
    c.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (partial, index))
    c.execute("PRAGMA writable_schema = OFF")
    c.close()
    c = sqlite3.connect(path, isolation_level=None)
    marks = ",".join("?" * len(columns))
    c.execute(f"INSERT INTO access_log ({','.join(columns)}) VALUES ({marks})", row)
    c.close()
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA writable_schema = ON")
    c.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (index_sql, index))
    c.execute("PRAGMA writable_schema = OFF")
    for _, sql in triggers:
        c.execute(sql)
    c.close()
    c = sqlite3.connect(path, isolation_level=None)  # the full index definition, read anew
    # steer count(*) to the other, intact index
    c.execute("ANALYZE")
    other = "access_log_job" if index == "access_log_subject" else "access_log_subject"
    c.execute("UPDATE sqlite_stat1 SET stat = stat || ' sz=250' WHERE idx = ?", (index,))
    c.execute("UPDATE sqlite_stat1 SET stat = stat || ' sz=2' WHERE idx = ?", (other,))
    through_index = c.execute(
        f"SELECT count(*) FROM access_log INDEXED BY {index} WHERE {where} AND action = ?",
        (action,),
    ).fetchone()[0]
    assert through_index == 0  # the index lies
    assert c.execute("SELECT count(*) FROM access_log NOT INDEXED WHERE action = ?", (action,)
                     ).fetchone()[0] == 1  # fmt: skip
    c.close()


def _assert_export_refused(vault: Path, user: str, tmp_path: Path) -> None:
    """``user``'s export of job-0 is refused as tampering (exit 5) and writes nothing."""
    out = tmp_path / "out.csv"
    args = ["--vault", str(vault), "--user", user, "export", "job-0", "-o", str(out)]
    result = invoke(args, env=ENV)
    assert result.exit_code == 5, result.output
    assert not out.exists()


@pytest.mark.sqlite_only("SQLite file edits: indexes and planner statistics")
def test_an_erase_hidden_from_the_job_index_still_stops_the_release(tmp_path: Path) -> None:
    vault, old = tmp_path / "vault.db", tmp_path / "old.db"
    with Custodian.create(vault, user="alice", passphrase=PASSPHRASE, kdf=FAST) as kr:
        kr.store_job(sample_job("job-0"), actor="alice")
    shutil.copy(vault, old)
    with Custodian.open(vault) as kr:
        erase(kr, ["job-0"], actor="alice")
        kr.store_job(sample_job("job-1"), actor="alice")
    _hide(vault, "access_log_job", "erase", "job_id = 'job-0'")
    c = sqlite3.connect(vault, isolation_level=None)  # the job's rows back from the copy
    c.execute("ATTACH ? AS o", (str(old),))
    for table in ("blobs", "grants", "jobs"):
        c.execute(f"DELETE FROM {table} WHERE job_id = 'job-0'")
    for table in ("jobs", "blobs", "grants"):
        c.execute(f"INSERT INTO {table} SELECT * FROM o.{table} WHERE job_id = 'job-0'")
    c.execute("DETACH o")
    c.close()
    _assert_export_refused(vault, "alice", tmp_path)


@pytest.mark.sqlite_only("SQLite file edits: indexes and planner statistics")
def test_a_user_disable_hidden_from_the_subject_index_still_locks_the_user(
    tmp_path: Path,
) -> None:
    vault = tmp_path / "vault.db"
    with Custodian.create(vault, user="alice", passphrase=PASSPHRASE, kdf=FAST) as kr:
        kr.add_user("bob", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
        kr.store_job(sample_job("job-0"), actor="alice")
        kr.disable_user("bob", actor="alice")
        kr.store_job(sample_job("job-1"), actor="alice")
    _hide(vault, "access_log_subject", "user-disable", "subject = 'bob'")
    c = sqlite3.connect(vault, isolation_level=None)
    c.execute("UPDATE users SET enabled = 1 WHERE name = 'bob'")
    c.close()
    _assert_export_refused(vault, "bob", tmp_path)
