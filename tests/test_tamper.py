"""Tampering with the vault file directly (sqlite3, bypassing the store) is detected: every
case ends in ``IntegrityError`` (exit 5 through the CLI) and nothing is released. A stolen
vault file holds no original value."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import (
    FAST,
    ORIGINALS,
    PASSPHRASE,
    new_vault,
    raw_db,
    sample_job,
    vault_bytes,
)

import vault.store as store
from vault.custody import Custodian
from vault.custody._envelope import SEALED_FIELDS
from vault.errors import IntegrityError, StoreError
from vault.models import SubmitOptions
from vault.store._rows import JOB_COLUMNS

CHUNK = 16
Tamper = Callable[[sqlite3.Connection], object]


def _user_id(db: sqlite3.Connection, name: str) -> int:
    return db.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()[0]


def _swap(db: sqlite3.Connection, where_a: str, where_b: str) -> None:
    a = db.execute(f"SELECT data FROM blobs WHERE {where_a}").fetchone()[0]
    b = db.execute(f"SELECT data FROM blobs WHERE {where_b}").fetchone()[0]
    db.execute(f"UPDATE blobs SET data = ? WHERE {where_a}", (b,))
    db.execute(f"UPDATE blobs SET data = ? WHERE {where_b}", (a,))


def _last_chunk(db: sqlite3.Connection, job: str = "job-1") -> int:
    return db.execute(
        "SELECT max(idx) FROM blobs WHERE job_id = ? AND field = 'file'", (job,)
    ).fetchone()[0]


def _move_grant_to_job(db: sqlite3.Connection) -> None:
    alice = _user_id(db, "alice")
    db.execute("DELETE FROM grants WHERE job_id = 'job-1' AND user_id = ?", (alice,))
    db.execute(
        "UPDATE grants SET job_id = 'job-1' WHERE job_id = 'job-2' AND user_id = ?", (alice,)
    )


def _move_grant_to_user(db: sqlite3.Connection) -> None:
    alice, bob = _user_id(db, "alice"), _user_id(db, "bob")
    db.execute("DELETE FROM grants WHERE job_id = 'job-1' AND user_id = ?", (alice,))
    db.execute("UPDATE grants SET user_id = ? WHERE job_id = 'job-1' AND user_id = ?", (alice, bob))


def _copy_sealed_dek_from_job_2(db: sqlite3.Connection) -> None:
    alice = _user_id(db, "alice")
    (sealed,) = db.execute(
        "SELECT sealed_dek FROM grants WHERE job_id = 'job-2' AND user_id = ?", (alice,)
    ).fetchone()
    db.execute(
        "UPDATE grants SET sealed_dek = ? WHERE job_id = 'job-1' AND user_id = ?", (sealed, alice)
    )


def _replace_job_1_by_job_2(db: sqlite3.Connection) -> None:
    """Every row of job-2 (blobs, grants, metadata, seal) copied under job-1's id."""
    db.execute("DELETE FROM blobs WHERE job_id = 'job-1'")
    db.execute("DELETE FROM grants WHERE job_id = 'job-1'")
    db.execute(
        "INSERT INTO blobs SELECT 'job-1', field, idx, key_version, data FROM blobs "
        "WHERE job_id = 'job-2'"
    )
    db.execute(
        "INSERT INTO grants SELECT 'job-1', user_id, key_version, sealed_dek, created_at "
        "FROM grants WHERE job_id = 'job-2'"
    )
    columns = [r[1] for r in db.execute("PRAGMA table_info(jobs)") if r[1] != "job_id"]
    sets = ", ".join(f"{c} = (SELECT {c} FROM jobs WHERE job_id = 'job-2')" for c in columns)
    db.execute(f"UPDATE jobs SET {sets} WHERE job_id = 'job-1'")


def _reorder_chunks(db: sqlite3.Connection) -> None:
    db.execute("UPDATE blobs SET idx = -1 WHERE job_id = 'job-1' AND field = 'file' AND idx = 0")
    db.execute("UPDATE blobs SET idx = 0 WHERE job_id = 'job-1' AND field = 'file' AND idx = 1")
    db.execute("UPDATE blobs SET idx = 1 WHERE job_id = 'job-1' AND field = 'file' AND idx = -1")


def _drop_last_chunk_and_fix_counts(db: sqlite3.Connection) -> None:
    last = _last_chunk(db)
    db.execute("DELETE FROM blobs WHERE job_id = 'job-1' AND field = 'file' AND idx = ?", (last,))
    db.execute("UPDATE jobs SET chunk_count = chunk_count - 1 WHERE job_id = 'job-1'")


CASES: dict[str, Tamper] = {
    "map swapped between two jobs": lambda db: _swap(
        db, "job_id = 'job-1' AND field = 'map'", "job_id = 'job-2' AND field = 'map'"
    ),
    "map copied from another job": lambda db: db.execute(
        "UPDATE blobs SET data = (SELECT data FROM blobs WHERE job_id = 'job-2' AND "
        "field = 'map') WHERE job_id = 'job-1' AND field = 'map'"
    ),
    "two fields of one job swapped": lambda db: _swap(
        db, "job_id = 'job-1' AND field = 'map'", "job_id = 'job-1' AND field = 'filename'"
    ),
    "two chunks swapped": lambda db: _swap(
        db,
        "job_id = 'job-1' AND field = 'file' AND idx = 0",
        "job_id = 'job-1' AND field = 'file' AND idx = 1",
    ),
    "chunks reordered by index": _reorder_chunks,
    "last chunk dropped": lambda db: db.execute(
        "DELETE FROM blobs WHERE job_id = 'job-1' AND field = 'file' AND idx = ?",
        (_last_chunk(db),),
    ),
    "middle chunk dropped": lambda db: db.execute(
        "DELETE FROM blobs WHERE job_id = 'job-1' AND field = 'file' AND idx = 1"
    ),
    "last chunk dropped and chunk count fixed": _drop_last_chunk_and_fix_counts,
    "chunk truncated": lambda db: db.execute(
        "UPDATE blobs SET data = substr(data, 1, length(data) - 1) "
        "WHERE job_id = 'job-1' AND field = 'file' AND idx = 0"
    ),
    "chunk byte flipped": lambda db: db.execute(
        "UPDATE blobs SET data = substr(data, 1, 20) || X'00' || substr(data, 22) "
        "WHERE job_id = 'job-1' AND field = 'file' AND idx = 0"
    ),
    "blob key version edited": lambda db: db.execute(
        "UPDATE blobs SET key_version = 1 WHERE job_id = 'job-1' AND field = 'map'"
    ),
    "extra blob inserted": lambda db: db.execute(
        "INSERT INTO blobs SELECT 'job-1', 'error', 0, key_version, data FROM blobs "
        "WHERE job_id = 'job-2' AND field = 'map'"
    ),
    "grant moved to another job": _move_grant_to_job,
    "grant moved to another user": _move_grant_to_user,
    "sealed key copied from another job": _copy_sealed_dek_from_job_2,
    "whole job replaced by another": _replace_job_1_by_job_2,
    "entity count edited": lambda db: db.execute(
        "UPDATE jobs SET entity_count = entity_count + 1 WHERE job_id = 'job-1'"
    ),
    "per-type count edited": lambda db: db.execute(
        'UPDATE jobs SET entity_counts = \'{"EMAIL_ADDRESS": 1, "PERSON_NAME": 9, '
        "\"PHONE_NUMBER\": 1}' WHERE job_id = 'job-1'"
    ),
    "per-type count made invalid": lambda db: db.execute(
        "UPDATE jobs SET entity_counts = 'nonsense' WHERE job_id = 'job-1'"
    ),
    "map size edited": lambda db: db.execute("UPDATE jobs SET map_size = 2 WHERE job_id = 'job-1'"),
    "file size edited": lambda db: db.execute(
        "UPDATE jobs SET file_size = file_size - 1 WHERE job_id = 'job-1'"
    ),
    "map problem count edited": lambda db: db.execute(
        "UPDATE jobs SET shared_placeholders = 1 WHERE job_id = 'job-1'"
    ),
    "created time edited": lambda db: db.execute(
        "UPDATE jobs SET created_at = created_at + 3600 WHERE job_id = 'job-1'"
    ),
    "file type edited": lambda db: db.execute(
        "UPDATE jobs SET file_type = 'pdf' WHERE job_id = 'job-1'"
    ),
    "status edited": lambda db: db.execute(
        "UPDATE jobs SET status = 'failed' WHERE job_id = 'job-1'"
    ),
    "key version raised": lambda db: db.execute(
        "UPDATE jobs SET key_version = key_version + 1 WHERE job_id = 'job-1'"
    ),
    "key version lowered": lambda db: db.execute(
        "UPDATE jobs SET key_version = key_version - 1 WHERE job_id = 'job-1'"
    ),
    "seal removed": lambda db: db.execute("UPDATE jobs SET seal = NULL WHERE job_id = 'job-1'"),
    "seal copied from another job": lambda db: db.execute(
        "UPDATE jobs SET seal = (SELECT seal FROM jobs WHERE job_id = 'job-2') "
        "WHERE job_id = 'job-1'"
    ),
}


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    """Two archived jobs shared by alice and bob; job-1 was submitted first (two key versions)
    and has a file of several chunks."""
    path = tmp_path / "vault.db"
    with new_vault(path, chunk_size=CHUNK) as kr:
        kr.add_user("bob", passphrase="bob pw", kdf=FAST, actor="alice")
        kr.record_pending(
            "job-1",
            file_type="csv",
            source="upload",
            submitted_at=1.0,
            filename="people.csv",
            options=SubmitOptions(),
            actor="alice",
        )
        kr.store_job(sample_job("job-1"), actor="alice")
        kr.store_job(
            sample_job("job-2", mapping={"Other Person": "[PERSON_NAME_1]"}, filename="x.csv"),
            actor="alice",
        )
        session = kr.unlock("alice", PASSPHRASE)
        assert session.open_job("job-1") == sample_job(
            "job-1", filename="people.csv", options=SubmitOptions()
        )
        assert kr.get_job("job-1").key_version == 2  # type: ignore[union-attr]
    return path


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_tampering_is_detected_on_every_read(vault_path: Path, case: str) -> None:
    with raw_db(vault_path) as db:
        CASES[case](db)
    with Custodian.open(vault_path) as kr:
        session = kr.unlock("alice", PASSPHRASE)
        with pytest.raises(IntegrityError) as info:
            session.open_job("job-1")
        assert info.value.exit_code == 5
        for read in (session.open_map, session.open_file, session.check_job):
            with pytest.raises(IntegrityError):
                read("job-1")
        for original in ORIGINALS:
            assert original not in str(info.value)
        # the other job is untouched unless the case took from it
        if "job" not in case and "user" not in case:
            assert session.open_map("job-2") == {"Other Person": "[PERSON_NAME_1]"}


# Every field the seal covers, derived from the one definition of a job's metadata: an edit
# of any of them is detected (a new sealed field is tested without a new case here).
_SEALED_EDITS = {
    "status": "'failed'",
    "file_type": "'pdf'",
    "source": "'text'",
    "entity_counts": "'{\"PERSON_NAME\": 99}'",
}


@pytest.mark.parametrize("column", [name for name, _ in SEALED_FIELDS])
def test_an_edit_of_any_sealed_column_is_detected(vault_path: Path, column: str) -> None:
    value = _SEALED_EDITS.get(column, f"COALESCE({column}, 0) + 1")
    with raw_db(vault_path) as db:
        db.execute(f"UPDATE jobs SET {column} = {value} WHERE job_id = 'job-1'")
    with Custodian.open(vault_path) as kr:
        session = kr.unlock("alice", PASSPHRASE)
        with pytest.raises(IntegrityError):
            session.open_map("job-1")


def test_the_seal_covers_every_job_column_but_the_declared_ones() -> None:
    sealed = {name for name, _ in SEALED_FIELDS}
    # Bound by the seal's own arguments (job id, key version), the seal itself, bookkeeping,
    # and the revisable expiry estimate: changing this set changes every existing seal.
    # api_url (where to poll) is unsealed too: sealing it would change every existing seal, and
    # polling a pending job runs without a key that could check one.
    unsealed = {"job_id", "key_version", "seal", "updated_at", "expires_at", "api_url"}
    assert set(JOB_COLUMNS) - sealed == unsealed, (
        "a job column outside the seal must be declared unsealed here, with a reason in the "
        "comment above (metadata={'seal': None}); a column in this set that the seal now "
        "covers changes every existing seal"
    )
    assert dict(SEALED_FIELDS)["status"] == "state"


@pytest.mark.parametrize(
    "case",
    [
        "map swapped between two jobs",
        "two chunks swapped",
        "last chunk dropped",
        "chunk truncated",
        "grant moved to another job",
        "grant moved to another user",
        "per-type count edited",
        "whole job replaced by another",
    ],
)
def test_tampering_gives_exit_5_through_the_cli_and_no_output(
    vault_path: Path, tmp_path: Path, case: str
) -> None:
    with raw_db(vault_path) as db:
        CASES[case](db)
    out = tmp_path / "out.csv"
    result = invoke(
        ["--vault", str(vault_path), "--user", "alice", "export", "job-1", "-o", str(out)],
        env={"QUESTA_VAULT_PASSPHRASE": PASSPHRASE},
    )
    assert result.exit_code == 5, result.output
    assert result.stderr.startswith("questa-vault: ")
    assert not out.exists()
    assert list(tmp_path.glob("out.csv*")) == []
    with Custodian.open(vault_path) as kr:
        assert kr.log_entries(action="export") == []


def test_untampered_export_through_the_cli_works(vault_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = invoke(
        ["--vault", str(vault_path), "--user", "bob", "export", "job-1", "-o", str(out)],
        env={"QUESTA_VAULT_PASSPHRASE": "bob pw"},
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == sample_job().content


def test_log_entry_edited_or_deleted_breaks_the_chain(vault_path: Path) -> None:
    with Custodian.open(vault_path) as kr:
        head = kr.verify_chain()
        assert head == kr.log_head()
    with raw_db(vault_path) as db:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("UPDATE access_log SET user = 'mallory' WHERE seq = 3")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("DELETE FROM access_log WHERE seq = 3")
    for sql, message in (
        ("UPDATE access_log SET counts = '{\"map_entries\": 1}' WHERE seq = 5", "entry 5"),
        ("DELETE FROM access_log WHERE seq = 3", "entry 3 is missing"),
    ):
        copy = vault_path.with_name(f"copy-{len(message)}.db")
        with Custodian.open(vault_path) as kr:
            store.backup(kr.db, copy)
        with raw_db(copy) as db:
            db.execute("DROP TRIGGER access_log_no_update")
            db.execute("DROP TRIGGER access_log_no_delete")
            db.execute(sql)
        with Custodian.open(copy) as kr, pytest.raises(IntegrityError, match=message):
            kr.verify_chain()


def test_stolen_files_hold_no_original(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"
    secret_options = SubmitOptions(custom_entities=((ORIGINALS[0], "PERSON"),))
    with new_vault(path) as kr:
        kr.record_pending(
            "job-0",
            file_type="csv",
            source="upload",
            submitted_at=1.0,
            filename=f"{ORIGINALS[0]}.csv",
            options=secret_options,
            actor="alice",
        )
        kr.store_job(sample_job("job-0", filename=f"{ORIGINALS[1]}.csv"), actor="alice")
        kr.store_job(
            sample_job("job-1", status="failed", error=f"bad {ORIGINALS[2]}"), actor="alice"
        )
        for i in range(2, 20):
            kr.store_job(sample_job(f"job-{i}"), actor="alice")
        # while open: the WAL holds the newest pages
        assert Path(f"{path}-wal").stat().st_size > 0
        blob = vault_bytes(path)
        store.checkpoint(kr.db)
    blob += vault_bytes(path)
    assert len(blob) > 50_000
    for needle in (*ORIGINALS, PASSPHRASE):
        for encoded in (needle.encode("utf-8"), needle.encode("utf-16-le")):
            assert encoded not in blob, needle


def test_a_release_whose_log_entry_cannot_be_written_releases_nothing(
    vault_path: Path, tmp_path: Path
) -> None:
    """Fail closed: the log entry commits before any output exists; if it cannot, no output."""
    with raw_db(vault_path) as db:
        db.execute(
            "CREATE TRIGGER refuse_log BEFORE INSERT ON access_log "
            "BEGIN SELECT RAISE(ABORT, 'no space left'); END"
        )
    with Custodian.open(vault_path) as kr:
        head = kr.log_head()
        session = kr.unlock("alice", PASSPHRASE)
        with pytest.raises(StoreError):
            session.release("export", ["job-1"], {"file_bytes": 1})
        assert kr.log_head() == head
    out = tmp_path / "out.csv"
    env = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}
    for target in (str(out), "-"):
        result = invoke(
            ["--vault", str(vault_path), "--user", "alice", "export", "job-1", "-o", target],
            env=env,
        )
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        assert not out.exists() and list(tmp_path.glob("out.csv*")) == []


# Every command that releases plaintext goes through the one release path (vault.api.Unlocked):
# when its log entry cannot be committed, it fails and shows or writes nothing.
RELEASES = {
    "restore an answer": ["restore", "{answer}", "-j", "job-1", "-o", "{out}"],
    "restore to stdout": ["restore", "{answer}", "-j", "job-1"],
    "restore the job's own file": ["restore", "-j", "job-1", "-o", "{out}"],
    "export": ["export", "job-1", "-o", "{out}"],
    "export to stdout": ["export", "job-1", "-o", "-"],
    "show --reveal": ["show", "job-1", "--reveal"],
    "show --reveal --json": ["show", "job-1", "--reveal", "--json"],
    "audit --deep": ["audit", "--deep"],
    "audit --deep --json": ["audit", "--deep", "--format", "json"],
}


@pytest.mark.parametrize("case", list(RELEASES), ids=list(RELEASES))
def test_every_release_fails_closed_when_its_log_entry_cannot_be_written(
    vault_path: Path, tmp_path: Path, case: str
) -> None:
    answer = tmp_path / "answer.txt"
    answer.write_text("Dear [PERSON_NAME_1]\n")
    out = tmp_path / "out.txt"
    with raw_db(vault_path) as db:
        db.execute(
            "CREATE TRIGGER refuse_log BEFORE INSERT ON access_log "
            "BEGIN SELECT RAISE(ABORT, 'no space left'); END"
        )
    args = [a.format(answer=answer, out=out) for a in RELEASES[case]]
    result = invoke(
        ["--vault", str(vault_path), "--user", "alice", *args],
        env={"QUESTA_VAULT_PASSPHRASE": PASSPHRASE},
    )
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    for original in (*ORIGINALS, "people.csv"):
        assert original not in result.output
    assert not out.exists() and list(tmp_path.glob("out.txt*")) == []


def test_api_and_cli_exports_log_the_same_documented_field(
    vault_path: Path, tmp_path: Path
) -> None:
    from vault.api import Unlocked

    target = str(tmp_path / "x")
    invoke(
        ["--vault", str(vault_path), "--user", "alice", "export", "job-1", "-o", target],
        env={"QUESTA_VAULT_PASSPHRASE": PASSPHRASE},
    )
    with Custodian.open(vault_path) as kr:
        data = Unlocked(kr.unlock("alice", PASSPHRASE)).export("job-1")
        entries = kr.log_entries(action="export")
    assert [dict(e.counts) for e in entries] == [{"file_bytes": len(data)}] * 2


def test_a_store_whose_log_entry_fails_leaves_no_job(vault_path: Path) -> None:
    with raw_db(vault_path) as db:
        db.execute(
            "CREATE TRIGGER refuse_log BEFORE INSERT ON access_log "
            "BEGIN SELECT RAISE(ABORT, 'no space left'); END"
        )
    with Custodian.open(vault_path) as kr:
        with pytest.raises(StoreError):
            kr.store_job(sample_job("job-3"), actor="cron")
        assert kr.get_job("job-3") is None
    with raw_db(vault_path) as db:
        for table in ("blobs", "grants"):
            assert (
                db.execute(f"SELECT count(*) FROM {table} WHERE job_id = 'job-3'").fetchone()[0]
                == 0
            )


# ------------------------------------------- an entry edited in the middle of the log, rows back


def _edit_log_keeping_triggers(path: Path, sql: str, params: tuple[str, ...] = ()) -> None:
    """What a file writer does to hide an edit from a check of the triggers: drop them,
    change a row, re-create them with their exact SQL."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        triggers = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'access_log'"
        ).fetchall()
        db.execute("BEGIN")
        for name, _ in triggers:
            db.execute(f"DROP TRIGGER {name}")
        db.execute(sql, params)
        for _, trigger_sql in triggers:
            db.execute(trigger_sql)
        db.execute("COMMIT")
    finally:
        db.close()


def test_an_erase_hidden_in_the_middle_of_the_log_is_refused_on_release(tmp_path: Path) -> None:
    """The erase entry is not the head (later entries follow), its action is edited and the
    job's rows are copied back from a backup: releases re-hash the job's own entries and their
    links, so the job is refused (exit 5), not released again."""
    path, old = tmp_path / "vault.db", tmp_path / "old.db"
    with new_vault(path) as kr:
        kr.store_job(sample_job("job-0"), actor="alice")
    assert invoke(["--vault", str(path), "backup", str(old)]).exit_code == 0
    assert invoke(["--vault", str(path), "erase", "job-0", "--yes"]).exit_code == 0
    with Custodian.open(path) as kr:
        for i in (1, 2):  # later activity: the erase entry is no longer the head
            kr.store_job(sample_job(f"job-{i}"), actor="cron")
    _edit_log_keeping_triggers(
        path, "UPDATE access_log SET action = 'export' WHERE action = 'erase'"
    )
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("ATTACH ? AS old", (str(old),))
    db.execute("BEGIN")
    db.execute("DELETE FROM jobs WHERE job_id = 'job-0'")
    for table in ("jobs", "grants", "blobs"):
        db.execute(f"INSERT INTO {table} SELECT * FROM old.{table} WHERE job_id = 'job-0'")
    db.execute("COMMIT")
    db.close()
    env = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}
    for args in (["export", "job-0", "-o", "-"], ["show", "job-0", "--reveal"]):
        result = invoke(["--vault", str(path), "--user", "alice", *args], env=env)
        assert result.exit_code == 5, (args, result.output)
        assert "was altered" in result.stderr and result.stdout == ""
    assert invoke(["--vault", str(path), "verify"]).exit_code == 5


def test_a_disable_hidden_in_the_middle_of_the_log_is_refused_on_unlock(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"
    with new_vault(path) as kr:
        kr.add_user("bob", passphrase="bob pw", kdf=FAST, actor="alice")
        kr.store_job(sample_job("job-0"), actor="alice")
        kr.disable_user("bob", actor="alice", force=True)
        kr.store_job(sample_job("job-1"), actor="cron")  # the disable is no longer the head
    _edit_log_keeping_triggers(
        path, "UPDATE access_log SET action = 'passwd' WHERE action = 'user-disable'"
    )
    _edit_log_keeping_triggers(path, "UPDATE users SET enabled = 1 WHERE name = 'bob'")
    result = invoke(
        ["--vault", str(path), "--user", "bob", "export", "job-0", "-o", "-"],
        env={"QUESTA_VAULT_PASSPHRASE": "bob pw"},
    )
    assert result.exit_code == 5, result.output
    assert "was altered" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("action", ["erase", "user-disable"])
def test_a_deleted_middle_entry_stops_releases_not_only_verify(tmp_path: Path, action: str) -> None:
    """The review's attack on a SQLite file: the erase (or the user-disable) entry deleted
    from the middle of the log with the triggers dropped and re-made, the job's rows copied
    back from an older backup, the user enabled again. The job's own entries still hash and
    link, so only a gap in the numbers shows it: every release is refused, exit 5."""
    from vault.lifecycle import erase

    vault, old = tmp_path / "vault.db", tmp_path / "old.db"
    with new_vault(vault) as kr:
        kr.add_user("bob", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
        kr.store_job(sample_job("job-0"), actor="alice")
        kr.store_job(sample_job("job-2"), actor="alice")
        store.backup(kr.db, old)
        erase(kr, ["job-0"], actor="alice")
        kr.disable_user("bob", actor="alice", force=True)
        kr.store_job(sample_job("job-1"), actor="alice")
    with raw_db(vault) as db:
        triggers = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'access_log'"
        ).fetchall()
        for name, _ in triggers:
            db.execute(f"DROP TRIGGER {name}")
        db.execute("DELETE FROM access_log WHERE action = ?", (action,))
        for _, sql in triggers:
            db.execute(sql)
        if action == "erase":
            db.execute("ATTACH ? AS o", (str(old),))
            for table in ("blobs", "grants"):
                db.execute(f"DELETE FROM {table} WHERE job_id = 'job-0'")
            db.execute("INSERT OR REPLACE INTO jobs SELECT * FROM o.jobs WHERE job_id = 'job-0'")
            db.execute("INSERT INTO grants SELECT * FROM o.grants WHERE job_id = 'job-0'")
            db.execute("INSERT INTO blobs SELECT * FROM o.blobs WHERE job_id = 'job-0'")
        else:
            db.execute("UPDATE users SET enabled = 1 WHERE name = 'bob'")
    user, job = ("alice", "job-0") if action == "erase" else ("bob", "job-2")
    result = invoke(
        ["--vault", str(vault), "--user", user, "export", job, "-o", str(tmp_path / "o")],
        env={"QUESTA_VAULT_PASSPHRASE": PASSPHRASE},
    )
    assert result.exit_code == 5, result.output
    assert "an entry is missing" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "plaintext",
    [
        b'{"John": "[P_1]"}',
        b'[["John", "[P_1]", "x"]]',
        b'[["John"]]',
        b'[["John", 1]]',
        b'[["John", null]]',
        b'["ab"]',
        b'[["John", "[P_1]"], {"a": "b"}]',
        b'[[["John"], "[P_1]"]]',
    ],
    ids=["object", "three", "one", "number", "null", "string", "mixed", "nested"],
)
def test_a_decrypted_map_of_the_wrong_shape_is_an_integrity_error(plaintext: bytes) -> None:
    from vault.custody._envelope import decode_map, encode_map

    with pytest.raises(IntegrityError, match="wrong shape"):
        decode_map(plaintext)
    mapping = {"John": "[P_1]", "Zoë": "[P_2]", "": "[P_3]", "\ud800": "[P_4]"}
    assert decode_map(encode_map(mapping)) == mapping
    assert list(decode_map(b'[["a", "[X_1]"], ["a", "[X_2]"]]').items()) == [("a", "[X_2]")]


@pytest.mark.parametrize("enabled", [True, False], ids=["gc-on", "gc-off"])
def test_decoding_a_map_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    """decode_map pauses the collector while it parses (a large map's pairs set off a full
    collection); whether it succeeds or refuses the map, the collector is left as it was."""
    import gc

    from vault.custody._envelope import decode_map, encode_map

    mapping = {f"Person {i}": f"[P_{i}]" for i in range(2_000)}
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        assert decode_map(encode_map(mapping)) == mapping
        assert gc.isenabled() is enabled
        with pytest.raises(IntegrityError, match="not valid JSON"):
            decode_map(b'[["John", "[P_1]"')
        assert gc.isenabled() is enabled
        with pytest.raises(IntegrityError, match="wrong shape"):
            decode_map(b'[["John", 1]]')
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
