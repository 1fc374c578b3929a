"""vault.lifecycle over a real vault: grant, revoke (re-keying), erase (crypto-shredding),
verify (every finding), backup (under concurrent writes)."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from custody_kit import FAST, ORIGINALS, PASSPHRASE, StepClock, new_vault, raw_db, sample_job
from custody_kit import vault_bytes as all_vault_bytes

import vault.crypto as crypto
import vault.store as store
from vault import lifecycle
from vault.custody import Custodian
from vault.errors import (
    InputError,
    IntegrityError,
    NoGrant,
    StoreError,
    UnknownJob,
    UnknownUser,
    VaultExists,
)

DAY = 86400.0


@pytest.fixture
def vault_path(vault_location):
    """The vault of ``kr``: a SQLite file, then a PostgreSQL database."""
    return vault_location


def file_only(vault_path) -> None:
    """Tests of the SQLite file's own layout (WAL, pages, sqlite_master) have no PostgreSQL
    variant; test_postgres.py and test_pg_roles.py cover PostgreSQL's counterparts."""
    if not isinstance(vault_path, Path):
        pytest.skip("SQLite file layout only; PostgreSQL's counterpart is in test_postgres.py")


@pytest.fixture
def kr(vault_path: Path):
    custodian = new_vault(vault_path)
    custodian.add_user("bob", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
    yield custodian
    custodian.close()


def add_key_user(kr: Custodian, name: str) -> bytes:
    """A --public-key user whose raw private key the test keeps (as a user could)."""
    private, public = crypto.generate_keypair()
    kr.add_public_user(name, public, actor="alice")
    return private


def secret_bytes(kr: Custodian, job_id: str) -> list[bytes]:
    """16-byte windows of every sealed DEK and every ciphertext the vault holds for a job
    (windows, because SQLite splits a large value across overflow pages)."""
    db = kr.db
    whole = [g.sealed_dek for g in db.grants.of_job(job_id)]
    whole += [b.data for b in db.blobs.of_job(job_id)]
    return [data[i : i + 16] for data in whole for i in range(1, max(len(data) - 16, 2), 997)]


# --------------------------------------------------------------------------- grant / revoke


def test_grant_then_the_new_user_can_open(kr: Custodian) -> None:
    kr.store_job(sample_job("j1"), actor="alice")
    kr.add_user("carol", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
    alice = kr.unlock("alice", PASSPHRASE)
    carol = kr.unlock("carol", PASSPHRASE)
    with pytest.raises(NoGrant):
        carol.open_map("j1")
    assert lifecycle.grant(kr, alice, "carol", ["j1"]) == ["j1"]
    assert carol.open_map("j1") == sample_job().mapping
    assert lifecycle.grant(kr, alice, "carol", ["j1"]) == []  # already held
    entry = kr.log_entries(action="grant")[-1]
    assert (entry.user, entry.job_id, entry.subject) == ("alice", "j1", "carol")


def test_grant_all_takes_every_live_job_the_granter_reads(kr: Custodian) -> None:
    for job_id in ("j1", "j2", "j3"):
        kr.store_job(sample_job(job_id), actor="alice")
    lifecycle.erase(kr, ["j3"], actor="alice")
    kr.add_user("carol", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
    alice = kr.unlock("alice", PASSPHRASE)
    assert sorted(lifecycle.grant(kr, alice, "carol", None)) == ["j1", "j2"]
    with pytest.raises(UnknownJob, match="no job nope"):
        lifecycle.grant(kr, alice, "carol", ["nope"])


def test_revoked_users_old_dek_opens_nothing_current(kr: Custodian) -> None:
    private = add_key_user(kr, "mallory")
    kr.store_job(sample_job("j1"), actor="alice")  # sealed to alice, bob and mallory
    old_grant = kr.db.grants.of_job("j1", "mallory")[0]
    info = crypto.dek_info(kr.vault_id, "j1", "mallory", old_grant.key_version)
    old_dek = crypto.open_dek(old_grant.sealed_dek, private, info)
    old_keys = crypto.job_keys(old_dek)
    old_map = kr.db.blobs.of_job("j1", "map")[0]
    aad = crypto.blob_aad(kr.vault_id, "j1", old_map.key_version, "map", 0, True)
    crypto.decrypt_blob(old_keys.blob_key, old_map.data, aad)  # the kept key works today

    alice = kr.unlock("alice", PASSPHRASE)
    plan = lifecycle.plan_revoke(kr, "alice", "mallory", ["j1"])
    assert plan.job_ids == ("j1",) and not plan.orphaned
    assert lifecycle.revoke(alice, plan) == ["j1"]

    job = kr.get_job("j1")
    assert job is not None and job.key_version == old_grant.key_version + 1
    assert "mallory" not in job.recipients
    assert kr.db.grants.of_job("j1", "mallory") == []
    for blob in kr.db.blobs.of_job("j1"):
        assert blob.key_version == job.key_version
        final = blob.idx == len(kr.db.blobs.of_job("j1", blob.field)) - 1
        for version in (blob.key_version, old_grant.key_version):
            aad = crypto.blob_aad(kr.vault_id, "j1", version, blob.field, blob.idx, final)
            with pytest.raises(IntegrityError):
                crypto.decrypt_blob(old_keys.blob_key, blob.data, aad)
    with pytest.raises(NoGrant):
        kr.unlock_with_key("mallory", crypto.private_key_pem(private)).open_map("j1")
    assert alice.open_job("j1").mapping == sample_job().mapping
    assert kr.unlock("bob", PASSPHRASE).open_map("j1") == sample_job().mapping
    assert lifecycle.verify(kr, session=alice).ok


def test_revoke_refuses_the_last_reader_unless_forced(kr: Custodian) -> None:
    kr.store_job(sample_job("j1"), actor="alice")
    alice = kr.unlock("alice", PASSPHRASE)
    lifecycle.revoke(alice, lifecycle.plan_revoke(kr, "alice", "bob", ["j1"]))
    plan = lifecycle.plan_revoke(kr, "alice", "alice", None)
    assert plan.orphaned == ("j1",)
    with pytest.raises(InputError, match="alice is the last user with access to 1 job"):
        lifecycle.revoke(alice, plan)
    assert kr.get_job("j1").recipients == ("alice",)
    assert lifecycle.revoke(alice, plan, force=True) == ["j1"]
    assert kr.get_job("j1").recipients == ()
    report = lifecycle.verify(kr)
    assert [(f.check, f.job_id) for f in report.findings] == [("structure", "j1")]
    assert "unreadable" in report.findings[0].message


def test_revoke_needs_a_grant_for_every_job_it_rekeys(kr: Custodian) -> None:
    kr.store_job(sample_job("j1"), actor="alice")
    kr.store_job(sample_job("j2"), actor="alice")
    alice = kr.unlock("alice", PASSPHRASE)
    lifecycle.revoke(alice, lifecycle.plan_revoke(kr, "alice", "alice", ["j2"]))
    before = kr.get_job("j1")
    bob_plan = lifecycle.plan_revoke(kr, "alice", "bob", None)
    assert bob_plan.job_ids == ("j1", "j2") and bob_plan.not_rekeyable == ("j2",)
    with pytest.raises(NoGrant, match=r"cannot re-key 1 job\(s\) that bob holds \(j2\)"):
        lifecycle.revoke(alice, bob_plan)
    assert kr.get_job("j1") == before  # nothing changed


@pytest.mark.parametrize(
    ("user", "jobs", "error"),
    [("nobody", ["j1"], UnknownUser), ("bob", ["nope"], UnknownJob)],
)
def test_plan_revoke_rejects_unknown_names(kr: Custodian, user, jobs, error) -> None:
    kr.store_job(sample_job("j1"), actor="alice")
    with pytest.raises(error):
        lifecycle.plan_revoke(kr, "alice", user, jobs)


# --------------------------------------------------------------------------- erase


@pytest.mark.parametrize("big", [False, True], ids=["small", "overflow-pages"])
@pytest.mark.parametrize("checkpointed", [False, True], ids=["in-wal", "in-main-file"])
def test_erase_leaves_no_original_and_no_wrapped_key_in_any_vault_file(
    kr: Custodian, vault_path: Path, big: bool, checkpointed: bool
) -> None:
    file_only(vault_path)
    content = (b"name\n" + b"[PERSON_NAME_1]\n" * 4000) if big else None
    kr.store_job(sample_job("j1", content=content), actor="alice")
    kr.store_job(sample_job("j2", mapping={"Keep Me Person": "[PERSON_NAME_1]"}), actor="alice")
    secrets = secret_bytes(kr, "j1")
    assert len(secrets) >= 4
    if checkpointed:
        store.checkpoint(kr.db)
        assert os.path.getsize(f"{vault_path}-wal") == 0
    data = all_vault_bytes(vault_path)
    found = sum(1 for s in secrets if s in data)
    assert found >= 0.9 * len(secrets)  # the check below can fail (a window may span pages)

    done = lifecycle.erase(kr, ["j1"], actor="alice")
    assert [(e.job_id, e.grants_deleted > 0, e.blobs_deleted > 0) for e in done] == [
        ("j1", True, True)
    ]
    assert os.path.getsize(f"{vault_path}-wal") == 0
    data = all_vault_bytes(vault_path)
    assert [s for s in secrets if s in data] == []
    for original in ORIGINALS:
        assert original.encode() not in data
    # the tombstone keeps the counts; the other job is untouched
    job = kr.get_job("j1")
    assert job is not None and job.status == "erased"
    assert job.map_size == 3 and job.entity_count == 5 and dict(job.entity_counts)
    assert job.file_size == len(content or sample_job().content)
    assert job.recipients == ()
    assert kr.unlock("alice", PASSPHRASE).open_map("j2") == {"Keep Me Person": "[PERSON_NAME_1]"}
    entry = kr.log_entries(action="erase")[0]
    assert (entry.job_id, entry.counts["map_entries"], entry.counts["entities"]) == ("j1", 3, 5)
    assert lifecycle.verify(kr, session=kr.unlock("alice", PASSPHRASE)).ok
    with pytest.raises(UnknownJob, match="erased"):
        kr.unlock("alice", PASSPHRASE).open_map("j1")


def test_erase_is_idempotent_and_checks_ids_first(kr: Custodian) -> None:
    kr.store_job(sample_job("j1"), actor="alice")
    with pytest.raises(UnknownJob):
        lifecycle.erase(kr, ["j1", "nope"], actor="alice")
    assert kr.get_job("j1").status == "archived"
    assert len(lifecycle.erase(kr, ["j1", "j1"], actor="alice")) == 1
    assert lifecycle.erase(kr, ["j1"], actor="alice") == []
    assert len(kr.log_entries(action="erase")) == 1


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding a read transaction (the WAL cannot be emptied)
    until the block ends; the connection stays open afterwards until ``close``."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM blobs").fetchone()
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


def test_erase_again_empties_a_wal_a_reader_kept_full(
    kr: Custodian, vault_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_only(vault_path)
    kr.store_job(sample_job("j1"), actor="alice")
    secrets = secret_bytes(kr, "j1")
    monkeypatch.setattr("vault.store._sqlite.BUSY_TIMEOUT_MS", 50)
    with Custodian.open(vault_path) as eraser:
        with reading(vault_path) as reader:
            with pytest.raises(StoreError, match="erase any one of these jobs again by its id"):
                lifecycle.erase(eraser, ["j1"], actor="alice")
        assert kr.get_job("j1").status == "erased"  # committed all the same
        assert [s for s in secrets if s in all_vault_bytes(vault_path)]  # still in a file
        assert lifecycle.erase(eraser, ["j1"], actor="alice") == []  # nothing new to erase...
        assert os.path.getsize(f"{vault_path}-wal") == 0  # ...but the WAL is emptied
        data = all_vault_bytes(vault_path)
        reader.close()
    assert [s for s in secrets if s in data] == []
    for original in ORIGINALS:
        assert original.encode() not in data


def test_erase_pending_job_drops_its_encrypted_file_name(kr: Custodian) -> None:
    kr.record_pending(
        "p1",
        file_type="csv",
        source="upload",
        submitted_at=1.0,
        filename="Johanna-Quisling-Marx.csv",
        options=None,
        actor="alice",
    )
    assert kr.db.blobs.of_job("p1")
    lifecycle.erase(kr, ["p1"], actor="alice")
    assert kr.db.blobs.of_job("p1") == [] and kr.db.grants.of_job("p1") == []


def test_older_than_counts_from_the_audit_time(tmp_path: Path) -> None:
    clock = StepClock(start=1_800_000_000.0, step=0.0)
    kr = Custodian.create(
        tmp_path / "c.db", user="alice", passphrase=PASSPHRASE, kdf=FAST, clock=clock
    )
    kr.store_job(sample_job("old"), actor="alice")
    clock.now += 40 * DAY
    kr.store_job(sample_job("new"), actor="alice")
    kr.record_pending(
        "pend", file_type="csv", source="upload", submitted_at=clock.now - 50 * DAY,
        filename=None, options=None, actor="alice",
    )  # fmt: skip
    now = clock.now + DAY
    picked = lifecycle.older_than(kr.list_jobs(), 30, now=now)
    assert sorted(j.job_id for j in picked) == ["old", "pend"]
    lifecycle.erase(kr, ["old"], actor="alice")
    assert [j.job_id for j in lifecycle.older_than(kr.list_jobs(), 30, now=now)] == ["pend"]
    assert lifecycle.older_than(kr.list_jobs(), 0, now=now)
    with pytest.raises(InputError):
        lifecycle.older_than([], -1, now=now)
    kr.close()


# --------------------------------------------------------------------------- verify


def test_verify_clean_vault(kr: Custodian) -> None:
    kr.store_job(sample_job("j1"), actor="alice")
    seq, digest = kr.log_head()
    report = lifecycle.verify(kr, expect_head=f"{seq}:{digest}")
    assert report.ok and report.jobs == 1 and report.head == (seq, digest)
    deep = lifecycle.verify(kr, session=kr.unlock("alice", PASSPHRASE))
    assert deep.ok and deep.deep_checked == 1
    assert kr.log_entries()[-1].action == "verify-deep"


def drop_triggers(db) -> None:
    db.execute("DROP TRIGGER access_log_no_update")
    db.execute("DROP TRIGGER access_log_no_delete")


def test_verify_reports_an_edited_log_entry_and_the_dropped_triggers(
    kr: Custodian, vault_path: Path
) -> None:
    file_only(vault_path)
    kr.store_job(sample_job("j1"), actor="alice")
    with raw_db(vault_path) as db:
        drop_triggers(db)
        db.execute("UPDATE access_log SET user = 'eve' WHERE action = 'fetch'")
    report = lifecycle.verify(kr)
    checks = sorted((f.check, f.message) for f in report.findings)
    assert checks == [
        ("log", "access log: entry 4 was altered"),
        ("schema", "trigger access_log_no_delete is missing"),
        ("schema", "trigger access_log_no_update is missing"),
    ]


def test_expect_head_detects_a_truncated_log_the_chain_cannot(
    kr: Custodian, vault_path: Path
) -> None:
    file_only(vault_path)
    kr.store_job(sample_job("j1"), actor="alice")
    kr.store_job(sample_job("j2"), actor="alice")
    seq, digest = kr.log_head()
    with raw_db(vault_path) as db:
        drop_triggers(db)
        db.execute("DELETE FROM access_log WHERE seq >= ?", (seq - 1,))
    with raw_db(vault_path) as db:  # put the triggers back as the migration made them
        db.execute(
            "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log\n"
            "    BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END"
        )
        db.execute(
            "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log\n"
            "    BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END"
        )
    # a truncated chain is still a valid chain; only the state checks see jobs it lacks
    plain = lifecycle.verify(kr).findings
    assert [(f.check, f.job_id) for f in plain] == [("state", "j1"), ("state", "j2")]
    assert "not in the access log" in plain[0].message
    report = lifecycle.verify(kr, expect_head=f"{seq}:{digest}")
    assert [(f.check, f.message) for f in report.findings if f.check != "state"] == [
        (
            "head",
            f"the log ends at entry {seq - 2} but entry {seq} was expected: "
            "the log was truncated or the vault rolled back",
        )
    ]
    other = lifecycle.verify(kr, expect_head=f"{seq - 2}:{'0' * 64}")
    assert "does not have the expected hash" in other.findings[0].message
    with pytest.raises(InputError, match="SEQ:HASH"):
        lifecycle.verify(kr, expect_head="12")


def test_verify_reports_structure_problems(kr: Custodian, vault_path: Path) -> None:
    chunky = sample_job("j1", content=b"x" * 5000)
    small = Custodian.open(vault_path, chunk_size=1024)
    small.store_job(chunky, actor="alice")
    small.close()
    kr.store_job(sample_job("j2"), actor="alice")
    kr.store_job(sample_job("j3"), actor="alice")
    j3_blob = kr.db.blobs.of_job("j3", "map")[0]
    lifecycle.erase(kr, ["j3"], actor="alice")
    with raw_db(vault_path) as db:
        db.execute("DELETE FROM blobs WHERE job_id = 'j1' AND field = 'file' AND idx = 2")
        db.execute("DELETE FROM grants WHERE job_id = 'j2'")
        db.execute(
            "INSERT INTO blobs (job_id, field, idx, key_version, data) VALUES (?, ?, ?, ?, ?)",
            ("j3", "map", 0, j3_blob.key_version, j3_blob.data),
        )
    report = lifecycle.verify(kr, session=kr.unlock("alice", PASSPHRASE))
    found = sorted((f.check, f.job_id, f.message) for f in report.findings if f.check != "state")
    state = [(f.job_id, f.message) for f in report.findings if f.check == "state"]
    assert state == [
        (
            "j2",
            "the grants of job j2 differ from the holders the access log recorded "
            "(a grant row was added, removed or moved outside questa-vault)",
        )
    ]
    assert found[:4] == [
        ("deep", "j1", found[0][2]),
        ("structure", "j1", "the file chunks are not contiguous"),
        ("structure", "j1", "the stored ciphertexts do not add up to the size the job records"),
        (
            "structure",
            "j2",
            "no user holds a grant for the current key version: the job is unreadable",
        ),
    ]
    assert found[4:] == [("structure", "j3", "an erased job still holds ciphertext")]
    assert report.deep_skipped == 1  # j2: nobody holds it now


def test_verify_deep_catches_an_edited_count(kr: Custodian, vault_path: Path) -> None:
    kr.store_job(sample_job("j1"), actor="alice")
    with raw_db(vault_path) as db:
        db.execute("UPDATE jobs SET entity_count = 1 WHERE job_id = 'j1'")
    assert lifecycle.verify(kr).ok  # plaintext metadata: only the seal can tell
    report = lifecycle.verify(kr, session=kr.unlock("alice", PASSPHRASE))
    assert [(f.check, f.job_id) for f in report.findings] == [("deep", "j1")]
    assert "seal" in report.findings[0].message


# --------------------------------------------------------------------------- backup


def test_backup_refuses_to_overwrite_and_is_private(kr: Custodian, tmp_path: Path) -> None:
    kr.store_job(sample_job("j1"), actor="alice")
    dest = tmp_path / "b.db"
    done = lifecycle.backup(kr, dest, actor="alice")
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert done.size == dest.stat().st_size and done.head[0] == kr.log_head()[0] - 1
    assert kr.log_entries()[-1].action == "backup"
    with pytest.raises(VaultExists):
        lifecycle.backup(kr, dest, actor="alice")
    with Custodian.open(dest) as copy:
        assert copy.unlock("alice", PASSPHRASE).open_job("j1") == sample_job("j1")


def test_backup_under_concurrent_writes_opens_and_verifies(
    kr: Custodian, vault_path: Path, tmp_path: Path
) -> None:
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with Custodian.open(vault_path) as other:
                n = 0
                while not stop.is_set() and n < 3000:
                    other.store_job(sample_job(f"w{n}"), actor="alice")
                    n += 1
                    written.append(n)
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    copies = []
    during: list[tuple[int, int]] = []
    try:
        while len(written) < 5:
            stop.wait(0.005)
        for i in range(3):
            dest = tmp_path / f"b{i}.db"
            before = len(written)
            lifecycle.backup(kr, dest, actor="alice")
            during.append((before, len(written)))
            copies.append(dest)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert any(after > before for before, after in during), during  # writes went on meanwhile
    for dest, (before, _after) in zip(copies, during):
        with Custodian.open(dest) as copy:
            jobs = copy.list_jobs()
            assert before <= len(jobs) <= len(written)
            session = copy.unlock("alice", PASSPHRASE)
            report = lifecycle.verify(copy, session=session)
            assert report.ok, report.findings
            assert report.deep_checked == len(jobs)


def test_backup_of_a_damaged_copy_is_an_integrity_error(kr: Custodian, tmp_path: Path) -> None:
    file_only(kr.path)
    # A source whose log chain is broken gives a copy that does not verify.
    kr.store_job(sample_job("j1"), actor="alice")
    with raw_db(kr.path) as db:
        drop_triggers(db)
        db.execute("UPDATE access_log SET action = 'x' WHERE seq = 1")
    with pytest.raises(IntegrityError, match="does not verify"):
        lifecycle.backup(kr, tmp_path / "b.db", actor="alice")


def test_erase_replaced_job_row_keeps_times(kr: Custodian) -> None:
    kr.store_job(sample_job("j1"), actor="alice")
    before = kr.get_job("j1")
    lifecycle.erase(kr, ["j1"], actor="alice")
    after = kr.get_job("j1")
    assert replace(after, status="archived", recipients=before.recipients) == before
