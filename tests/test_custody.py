"""The custodian on real SQLite files: users, unlocking, storing and reading jobs, metadata,
grants and revocation, the access log, and the committed version-1 vault."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest
from custody_kit import (
    FAST,
    ORIGINALS,
    PASSPHRASE,
    DeterministicRandom,
    StepClock,
    new_vault,
    raw_db,
    sample_job,
)

from vault import crypto, lifecycle
from vault.custody import Custodian, KdfParams, analyse_map
from vault.errors import (
    AccessDenied,
    InputError,
    IntegrityError,
    NoGrant,
    UnknownJob,
    UnknownUser,
    UserDisabled,
    VaultExists,
    VaultNotFound,
    WrongPassphrase,
)
from vault.models import SubmitOptions

VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture
def kr(vault_location) -> Custodian:
    custodian = new_vault(vault_location, chunk_size=16)
    yield custodian
    custodian.close()


# --------------------------------------------------------------------------- create / open


def test_create_refuses_an_existing_file_and_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    path.write_bytes(b"precious")
    with pytest.raises(VaultExists, match="refusing to overwrite"):
        Custodian.create(path, user="alice", passphrase="pw", kdf=FAST)
    assert path.read_bytes() == b"precious"


def test_bad_kdf_parameters_leave_no_file(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    with pytest.raises(InputError):
        Custodian.create(path, user="alice", passphrase="pw", kdf=KdfParams(memory_kib=2**30))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_open_a_missing_vault_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(VaultNotFound) as info:
        Custodian.open(tmp_path / "none.db")
    assert str(info.value) == f"no vault at {tmp_path / 'none.db'}: run questa-vault init"


def test_reopen_keeps_vault_id_users_and_jobs(tmp_path: Path) -> None:
    with new_vault(tmp_path / "v.db") as kr:
        vault_id = kr.vault_id
        kr.store_job(sample_job(), actor="alice")
    with Custodian.open(tmp_path / "v.db") as kr:
        assert kr.vault_id == vault_id
        assert [u.name for u in kr.list_users()] == ["alice"]
        assert kr.unlock("alice", PASSPHRASE).open_map("job-1")[ORIGINALS[0]] == "[PERSON_NAME_1]"


# --------------------------------------------------------------------------- users


def test_users_add_list_disable_and_default(kr: Custodian) -> None:
    assert kr.default_user() == "alice"
    kr.add_user("bob", passphrase="bob pw", kdf=FAST, actor="alice")
    private, public = crypto.generate_keypair()
    info = kr.add_public_user("recovery", crypto.public_key_pem(public), actor="alice")
    assert info.fingerprint == crypto.fingerprint(public) and not info.has_private_key
    assert kr.default_user() is None
    kr.disable_user("bob", actor="alice")
    kr.disable_user("recovery", actor="alice")
    assert [(u.name, u.enabled) for u in kr.list_users()] == [
        ("alice", True),
        ("bob", False),
        ("recovery", False),
    ]
    assert kr.default_user() == "alice"
    with pytest.raises(InputError, match="last enabled user"):
        kr.disable_user("alice", actor="alice")


@pytest.mark.parametrize("name", ["", " bob", "bob smith", "-x", "a" * 65, "b\u00f6b", "x\n"])
def test_user_names_are_plain(kr: Custodian, name: str) -> None:
    with pytest.raises(InputError):
        kr.add_user(name, passphrase="pw", kdf=FAST, actor="alice")


def test_duplicate_user_is_refused(kr: Custodian) -> None:
    with pytest.raises(InputError, match="already exists"):
        kr.add_user("alice", passphrase="pw", kdf=FAST, actor="alice")


@pytest.mark.parametrize(
    ("setup", "user", "passphrase", "error"),
    [
        (None, "alice", "Tr0ub4dor&3", WrongPassphrase),
        (None, "nobody", PASSPHRASE, UnknownUser),
        ("disable", "bob", "bob pw", UserDisabled),
        ("public", "carol", "anything", AccessDenied),
    ],
)
def test_unlock_failures_are_access_denied(
    kr: Custodian, setup: str | None, user: str, passphrase: str, error: type
) -> None:
    kr.add_user("bob", passphrase="bob pw", kdf=FAST, actor="alice")
    kr.add_public_user("carol", crypto.generate_keypair()[1], actor="alice")
    if setup == "disable":
        kr.disable_user("bob", actor="alice")
    with pytest.raises(error) as info:
        kr.unlock(user, passphrase)
    assert info.value.exit_code == 4
    assert passphrase not in str(info.value)


def test_unlock_with_key_file(kr: Custodian) -> None:
    private, public = crypto.generate_keypair()
    kr.add_public_user("recovery", public, actor="alice")
    kr.store_job(sample_job(), actor="alice")
    session = kr.unlock_with_key("recovery", crypto.private_key_pem(private))
    assert session.open_file("job-1") == sample_job().content
    other, _ = crypto.generate_keypair()
    with pytest.raises(AccessDenied):
        kr.unlock_with_key("recovery", crypto.private_key_pem(other))


def test_one_key_derivation_per_unlock_not_per_job(tmp_path: Path) -> None:
    slow = KdfParams(memory_kib=65536, passes=3, lanes=4)
    with Custodian.create(tmp_path / "v.db", user="alice", passphrase="pw", kdf=slow) as kr:
        for i in range(20):
            kr.store_job(sample_job(f"job-{i}"), actor="alice")
        start = time.process_time()
        session = kr.unlock("alice", "pw")
        derivation = time.process_time() - start
        start = time.process_time()
        for i in range(20):
            session.open_job(f"job-{i}")
        reading = time.process_time() - start
    # 20 reads cost less than one derivation: the session re-uses the unlocked key.
    assert reading < derivation


def test_change_passphrase(kr: Custodian) -> None:
    kr.store_job(sample_job(), actor="alice")
    kr.unlock("alice", PASSPHRASE).change_passphrase("new pw", FAST)
    with pytest.raises(WrongPassphrase):
        kr.unlock("alice", PASSPHRASE)
    assert kr.unlock("alice", "new pw").open_map("job-1")
    assert kr.log_entries(action="passwd")[0].user == "alice"


def test_stored_kdf_parameters_above_the_caps_are_refused(kr: Custodian) -> None:
    with raw_db(kr.path) as db:
        db.execute("UPDATE users SET kdf_memory_kib = ? WHERE name = 'alice'", (2**40,))
    start = time.perf_counter()
    with pytest.raises(IntegrityError, match="access log recorded"):
        kr.unlock("alice", PASSPHRASE)
    assert time.perf_counter() - start < 0.5


# --------------------------------------------------------------------------- storing, reading


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 100])
def test_store_and_read_round_trip_across_chunk_sizes(kr: Custodian, size: int) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    job = sample_job(content=data[:size], filename="r\u00e9sum\u00e9.csv")
    assert kr.store_job(job, actor="alice") is True
    info = kr.get_job("job-1")
    assert info is not None
    assert info.file_size == size and info.status == "archived"
    assert info.recipients == ("alice",) and info.key_version == 1
    session = kr.unlock("alice", PASSPHRASE)
    assert session.open_file("job-1") == job.content
    assert session.open_job("job-1") == job
    assert dict(session.open_map("job-1")) == dict(job.mapping)


def test_map_with_any_text_round_trips(kr: Custodian) -> None:
    mapping = {
        "a\ud800b": "[X_1]",  # a lone surrogate, as JSON from a server may carry
        "\u00e9\u4e2d\U0001f600": "[my label_2]",
        "": "[EMPTY_3]",
        '"quoted",\n': "[Q_4]",
    }
    kr.store_job(sample_job(mapping=mapping), actor="alice")
    assert dict(kr.unlock("alice", PASSPHRASE).open_map("job-1")) == mapping


def test_store_twice_stores_once(kr: Custodian) -> None:
    assert kr.store_job(sample_job(), actor="alice") is True
    assert kr.store_job(sample_job(content=b"other"), actor="alice") is False
    assert kr.unlock("alice", PASSPHRASE).open_file("job-1") == sample_job().content
    assert len(kr.log_entries(action="fetch")) == 1


def test_failed_job_keeps_its_error_encrypted(kr: Custodian) -> None:
    kr.store_job(sample_job(status="failed", mapping={}, error="boom for X"), actor="alice")
    session = kr.unlock("alice", PASSPHRASE)
    content = session.open_job("job-1")
    assert content.status == "failed" and content.error == "boom for X" and content.content is None
    with pytest.raises(InputError, match="no archived file"):
        session.open_file("job-1")


def test_pending_then_archived_keeps_filename_and_options(kr: Custodian) -> None:
    options = SubmitOptions("PERSON_NAME", 3, (("Phoenix project", "PROJECT"),))
    assert kr.record_pending(
        "job-1",
        file_type="csv",
        source="upload",
        submitted_at=5.0,
        filename="customers.csv",
        options=options,
        actor="alice",
    )
    assert not kr.record_pending(
        "job-1",
        file_type="csv",
        source="upload",
        submitted_at=6.0,
        filename=None,
        options=None,
        actor="alice",
    )
    assert [j.job_id for j in kr.pending_jobs()] == ["job-1"]
    session = kr.unlock("alice", PASSPHRASE)
    with pytest.raises(InputError, match="pending"):
        session.open_map("job-1")
    assert kr.store_job(sample_job(), actor="alice")
    content = session.open_job("job-1")
    assert content.filename == "customers.csv" and content.options == options
    info = kr.get_job("job-1")
    assert info is not None and info.submitted_at == 5.0 and info.key_version == 2
    assert kr.pending_jobs() == []


def test_a_user_added_after_submission_reads_the_job_but_not_its_options(kr: Custodian) -> None:
    kr.record_pending(
        "job-1",
        file_type="csv",
        source="upload",
        submitted_at=5.0,
        filename="customers.csv",
        options=SubmitOptions(),
        actor="alice",
    )
    kr.add_user("bob", passphrase="bob pw", kdf=FAST, actor="alice")
    kr.store_job(sample_job(), actor="alice")
    content = kr.unlock("bob", "bob pw").open_job("job-1")
    assert content.mapping == sample_job().mapping
    assert content.filename is None and content.options is None
    kr.unlock("alice", PASSPHRASE).grant("bob", ["job-1"])
    assert kr.unlock("bob", "bob pw").open_job("job-1").filename == "customers.csv"


def test_mark_expired_only_touches_pending_jobs(kr: Custodian) -> None:
    kr.record_pending(
        "job-1",
        file_type="pdf",
        source="upload",
        submitted_at=1.0,
        filename=None,
        options=None,
        actor="alice",
    )
    kr.store_job(sample_job("job-2"), actor="alice")
    kr.mark_expired("job-1", actor="alice")
    kr.mark_expired("job-2", actor="alice")
    kr.mark_expired("unknown", actor="alice")
    assert [(j.job_id, j.status) for j in kr.list_jobs()] == [
        ("job-1", "expired"),
        ("job-2", "archived"),
    ]
    # an expired job can still be archived if the server answers after all
    assert kr.store_job(sample_job("job-1"), actor="alice")
    assert kr.unlock("alice", PASSPHRASE).open_map("job-1")


def test_new_jobs_are_sealed_to_every_enabled_user_only(kr: Custodian) -> None:
    kr.add_user("bob", passphrase="bob pw", kdf=FAST, actor="alice")
    kr.add_user("carol", passphrase="carol pw", kdf=FAST, actor="alice")
    kr.disable_user("carol", actor="alice")
    kr.store_job(sample_job(), actor="alice")
    info = kr.get_job("job-1")
    assert info is not None and info.recipients == ("alice", "bob")
    assert kr.unlock("bob", "bob pw").open_map("job-1")


def test_unknown_and_ungranted_jobs(kr: Custodian) -> None:
    kr.store_job(sample_job(), actor="alice")
    kr.add_user("bob", passphrase="bob pw", kdf=FAST, actor="alice")
    with pytest.raises(UnknownJob):
        kr.unlock("alice", PASSPHRASE).open_map("nope")
    with pytest.raises(NoGrant) as info:
        kr.unlock("bob", "bob pw").open_map("job-1")
    assert info.value.exit_code == 4


def test_store_needs_no_secret_and_reads_need_a_grant(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    new_vault(path).close()
    with Custodian.open(path) as kr:  # a fetch host: no passphrase anywhere
        assert kr.store_job(sample_job(), actor="cron")
        assert kr.log_entries(action="fetch")[0].user == "cron"


# --------------------------------------------------------------------------- metadata


@pytest.mark.parametrize(
    ("mapping", "counts", "shared", "lookalikes"),
    [
        (
            {"a": "[PERSON_NAME_1]", "b": "[PERSON_NAME_2]", "c": "[EMAIL_ADDRESS_3]"},
            {"PERSON_NAME": 2, "EMAIL_ADDRESS": 1},
            0,
            0,
        ),
        ({"a": "[my label_3]", "b": "[A_B_12]"}, {"my label": 1, "A_B": 1}, 0, 0),
        ({"John": "[PERSON_NAME_1]", "john": "[PERSON_NAME_1]"}, {"PERSON_NAME": 1}, 1, 0),
        ({"see [X_2]": "[NOTE_1]", "[Y_1]": "[NOTE_2]"}, {"NOTE": 2}, 0, 2),
        ({"a": "not a placeholder"}, {}, 0, 0),
        ({}, {}, 0, 0),
    ],
)
def test_map_analysis(mapping: dict, counts: dict, shared: int, lookalikes: int) -> None:
    stats = analyse_map(mapping)
    assert dict(stats.entity_counts) == counts
    assert (stats.shared_placeholders, stats.placeholder_like_originals) == (shared, lookalikes)


def test_plaintext_metadata_is_readable_without_a_key(kr: Custodian) -> None:
    mapping = {"John": "[PERSON_NAME_1]", "john": "[PERSON_NAME_1]", "[Z_9]": "[ODD_2]"}
    kr.store_job(sample_job(mapping=mapping), actor="alice")
    info = kr.get_job("job-1")
    assert info is not None
    assert dict(info.entity_counts) == {"ODD": 1, "PERSON_NAME": 1}
    assert (info.map_size, info.shared_placeholders, info.placeholder_like_originals) == (3, 1, 1)
    assert info.entity_count == 5 and info.created_at == 1_700_000_000.5
    assert info.ciphertext_size > info.file_size > 0


# --------------------------------------------------------------------------- grant / revoke


def test_grant_shares_existing_jobs(kr: Custodian) -> None:
    kr.store_job(sample_job(), actor="alice")
    kr.add_user("bob", passphrase="bob pw", kdf=FAST, actor="alice")
    alice = kr.unlock("alice", PASSPHRASE)
    assert alice.grant("bob", ["job-1"]) == ["job-1"]
    assert alice.grant("bob", ["job-1"]) == []
    assert kr.unlock("bob", "bob pw").open_map("job-1") == sample_job().mapping
    entry = kr.log_entries(action="grant")[0]
    assert (entry.user, entry.subject, entry.job_id) == ("alice", "bob", "job-1")
    with pytest.raises(UnknownUser):
        alice.grant("nobody", ["job-1"])


def test_revoke_rekeys_so_a_kept_dek_no_longer_opens_anything(kr: Custodian) -> None:
    bob_private, bob_public = crypto.generate_keypair()
    kr.add_public_user("bob", bob_public, actor="alice")
    kr.store_job(sample_job(), actor="alice")
    bob = kr.unlock_with_key("bob", crypto.private_key_pem(bob_private))
    assert bob.open_map("job-1")
    # bob keeps the DEK before he is revoked
    with raw_db(kr.path) as db:
        (sealed,) = db.execute(
            "SELECT sealed_dek FROM grants g JOIN users u ON u.id = g.user_id WHERE u.name='bob'"
        ).fetchone()
        old_blobs = {r[0] for r in db.execute("SELECT data FROM blobs")}
    kept = crypto.open_dek(sealed, bob_private, crypto.dek_info(kr.vault_id, "job-1", "bob", 1))
    assert kr.unlock("alice", PASSPHRASE).revoke("bob", ["job-1"]) == ["job-1"]
    info = kr.get_job("job-1")
    assert info is not None and info.key_version == 2 and info.recipients == ("alice",)
    with pytest.raises(NoGrant):
        bob.open_map("job-1")
    with raw_db(kr.path) as db:
        rows = db.execute("SELECT field, idx, key_version, data FROM blobs").fetchall()
    assert rows and not old_blobs & {r[3] for r in rows}
    keys = crypto.job_keys(kept)
    for field, idx, version, data in rows:
        final = field != "file" or idx == max(r[1] for r in rows if r[0] == "file")
        with pytest.raises(IntegrityError):
            crypto.decrypt_blob(
                keys.blob_key,
                data,
                crypto.blob_aad(kr.vault_id, "job-1", version, field, idx, final),
            )
    assert kr.unlock("alice", PASSPHRASE).open_job("job-1") == sample_job()
    assert kr.log_entries(action="revoke")[0].subject == "bob"


def test_revoke_refuses_to_leave_a_job_unreadable_unless_forced(kr: Custodian) -> None:
    kr.store_job(sample_job(), actor="alice")
    alice = kr.unlock("alice", PASSPHRASE)
    with pytest.raises(InputError, match="no reader"):
        alice.revoke("alice", ["job-1"])
    assert alice.open_map("job-1")
    assert alice.revoke("alice", ["job-1"], force=True) == ["job-1"]
    with pytest.raises(NoGrant):
        alice.open_map("job-1")


def test_revoke_of_several_jobs_is_one_transaction(kr: Custodian) -> None:
    kr.add_user("bob", passphrase="bob pw", kdf=FAST, actor="alice")
    kr.store_job(sample_job("job-1"), actor="alice")
    kr.store_job(sample_job("job-2"), actor="alice")
    alice = kr.unlock("alice", PASSPHRASE)
    alice.revoke("alice", ["job-2"], force=True)  # bob alone holds job-2 now
    with pytest.raises(InputError, match="job-2"):
        alice.revoke("bob", ["job-1", "job-2"])
    # job-1 was not re-keyed either: the failed call changed nothing
    info = kr.get_job("job-1")
    assert info is not None and info.key_version == 1 and info.recipients == ("alice", "bob")


def _submitted_before_carol(kr: Custodian) -> SubmitOptions:
    """job-1 submitted while alice and bob were the users (file name and options under key
    version 1), carol added, then the job archived (map and file under version 2)."""
    options = SubmitOptions("PERSON_NAME", 3, (("Phoenix project", "PROJECT"),))
    kr.add_user("bob", passphrase="bob pw", kdf=FAST, actor="alice")
    kr.record_pending(
        "job-1",
        file_type="csv",
        source="upload",
        submitted_at=5.0,
        filename="customers.csv",
        options=options,
        actor="alice",
    )
    kr.add_user("carol", passphrase="carol pw", kdf=FAST, actor="alice")
    kr.store_job(sample_job(), actor="alice")
    return options


def _layout(kr: Custodian) -> tuple[dict[str, int], dict[int, list[str]]]:
    blobs = {b.field: b.key_version for b in kr.db.blobs.of_job("job-1")}
    grants: dict[int, list[str]] = {}
    for g in kr.db.grants.of_job("job-1"):
        grants.setdefault(g.key_version, []).append(g.user)
    return blobs, grants


def test_revoke_gives_no_remaining_holder_a_field_they_were_never_granted(kr: Custodian) -> None:
    options = _submitted_before_carol(kr)
    carol = kr.unlock("carol", "carol pw")
    assert carol.open_job("job-1").filename is None
    alice = kr.unlock("alice", PASSPHRASE)
    assert alice.revoke("bob", ["job-1"]) == ["job-1"]
    # each key version re-keyed on its own: version 1 -> 3 (alice), version 2 -> 4 (alice, carol)
    assert _layout(kr) == (
        {"filename": 3, "options": 3, "map": 4, "file": 4},
        {3: ["alice"], 4: ["alice", "carol"]},
    )
    content = carol.open_job("job-1")
    assert (content.filename, content.options) == (None, None)
    assert content.mapping == sample_job().mapping and content.content == sample_job().content
    full = alice.open_job("job-1")
    assert (full.filename, full.options) == ("customers.csv", options)
    with pytest.raises(NoGrant):
        kr.unlock("bob", "bob pw").open_job("job-1")
    assert lifecycle.verify(kr, session=alice).ok and lifecycle.verify(kr, session=carol).ok
    assert alice.grant("carol", ["job-1"]) == ["job-1"]  # sharing on purpose still works
    assert carol.open_job("job-1").filename == "customers.csv"


def test_revoke_keeps_the_dek_of_a_key_version_the_user_never_held(kr: Custodian) -> None:
    _submitted_before_carol(kr)
    before = {b.field: b.data for b in kr.db.blobs.of_job("job-1")}
    alice = kr.unlock("alice", PASSPHRASE)
    assert alice.revoke("carol", ["job-1"]) == ["job-1"]
    assert _layout(kr) == (
        {"filename": 1, "options": 1, "map": 3, "file": 3},
        {1: ["alice", "bob"], 3: ["alice", "bob"]},
    )
    after = {b.field: b.data for b in kr.db.blobs.of_job("job-1")}
    assert after["filename"] == before["filename"] and after["map"] != before["map"]
    assert kr.unlock("bob", "bob pw").open_job("job-1").filename == "customers.csv"
    with pytest.raises(NoGrant):
        kr.unlock("carol", "carol pw").open_job("job-1")
    assert lifecycle.verify(kr, session=alice).ok


def test_revoke_refuses_to_orphan_an_older_key_version_unless_forced(kr: Custodian) -> None:
    _submitted_before_carol(kr)
    kr.unlock("alice", PASSPHRASE).revoke("alice", ["job-1"])  # bob alone holds the file name
    plan = lifecycle.plan_revoke(kr, "bob", "bob", ["job-1"])
    assert plan.orphaned == ("job-1",)  # carol still reads the map: only the file name is lost
    bob = kr.unlock("bob", "bob pw")
    with pytest.raises(InputError, match="bob is the last user with access to 1 job"):
        lifecycle.revoke(bob, plan)
    with pytest.raises(InputError, match="no reader"):
        bob.revoke("bob", ["job-1"])
    assert kr.unlock("bob", "bob pw").open_job("job-1").filename == "customers.csv"


# --------------------------------------------------------------------------- access log


def test_every_key_and_user_change_and_store_is_logged(kr: Custodian) -> None:
    kr.add_user("bob", passphrase="pw", kdf=FAST, actor="alice")
    kr.record_pending(
        "job-1",
        file_type="csv",
        source="upload",
        submitted_at=1.0,
        filename=None,
        options=None,
        actor="alice",
    )
    kr.store_job(sample_job(), actor="cron")
    kr.disable_user("bob", actor="alice")
    session = kr.unlock("alice", PASSPHRASE)
    session.release("restore", ["job-1"], {"PERSON_NAME": 1})
    actions = [(e.seq, e.user, e.action, e.job_id, e.subject) for e in kr.log_entries()]
    assert actions == [
        (1, "alice", "init", None, "alice"),
        (2, "alice", "user-add", None, "alice"),
        (3, "alice", "user-add", None, "bob"),
        (4, "alice", "submit", "job-1", None),
        (5, "cron", "fetch", "job-1", None),
        (6, "alice", "user-disable", None, "bob"),
        (7, "alice", "restore", "job-1", None),
    ]
    fetch = kr.log_entries(action="fetch")[0]
    assert dict(fetch.counts) == {
        "entities": 5,
        "file_bytes": len(sample_job().content),
        "map_entries": 3,
    }
    assert kr.verify_chain() == kr.log_head()
    assert kr.log_head()[0] == 7


def test_release_writes_one_entry_per_job_with_per_job_counts(kr: Custodian) -> None:
    for job in ("job-1", "job-2"):
        kr.store_job(sample_job(job), actor="alice")
    session = kr.unlock("alice", PASSPHRASE)
    entries = session.release(
        "restore", ["job-1", "job-2"], {"PERSON_NAME": 9}, per_job={"job-2": {"EMAIL": 1}}
    )
    assert [(e.job_id, dict(e.counts)) for e in entries] == [
        ("job-1", {"PERSON_NAME": 9}),
        ("job-2", {"EMAIL": 1}),
    ]
    assert kr.log_entries(job_id="job-2", action="restore") == [entries[1]]


def test_a_release_that_cannot_be_logged_raises_and_logs_nothing(kr: Custodian) -> None:
    kr.store_job(sample_job(), actor="alice")
    session = kr.unlock("alice", PASSPHRASE)
    head = kr.log_head()
    with pytest.raises(InputError):
        session.release("x" * 41, ["job-1"])
    with pytest.raises(InputError):
        session.release("restore", [])
    assert kr.log_head() == head


def test_log_filters(tmp_path: Path) -> None:
    clock = StepClock(start=1000.0, step=10.0)
    with Custodian.create(
        tmp_path / "v.db", user="alice", passphrase="pw", kdf=FAST, clock=clock
    ) as kr:
        kr.store_job(sample_job("job-1"), actor="cron")
        kr.store_job(sample_job("job-2"), actor="cron")
        times = [e.time for e in kr.log_entries()]
        assert [e.job_id for e in kr.log_entries(user="cron")] == ["job-1", "job-2"]
        assert [e.seq for e in kr.log_entries(since=times[2])] == [3, 4]
        assert [e.seq for e in kr.log_entries(until=times[2])] == [1, 2]
        assert [e.seq for e in kr.log_entries(job_id="job-2")] == [4]


def test_empty_log_head_is_genesis(tmp_path: Path) -> None:
    with new_vault(tmp_path / "v.db") as kr, raw_db(kr.path) as db:
        assert db.execute("SELECT count(*) FROM access_log").fetchone()[0] == 2


# --------------------------------------------------------------------------- version 1 data


def test_version_1_vault_still_opens(tmp_path: Path) -> None:
    expected = json.loads((VECTORS / "v1.json").read_text())["vault"]
    path = tmp_path / "v1.db"
    shutil.copyfile(VECTORS / expected["file"], path)
    with Custodian.open(path) as kr:
        assert kr.verify_chain() == tuple(expected["log_head"])
        for user, passphrase in expected["users"].items():
            session = kr.unlock(user, passphrase)
            content = session.open_job(expected["job_id"])
            assert content.content == bytes.fromhex(expected["content"])
            assert dict(content.mapping) == expected["mapping"]
            failed = session.open_job(expected["failed_job"]["job_id"])
            assert failed.error == expected["failed_job"]["error"]
        alice = kr.unlock("alice", expected["users"]["alice"]).open_job(expected["job_id"])
        assert alice.filename == expected["filename"]
        assert alice.options == SubmitOptions(
            expected["options"]["entities"],
            expected["options"]["start_index"],
            tuple(tuple(p) for p in expected["options"]["custom_entities"]),
        )
        info = kr.get_job(expected["job_id"])
        assert info is not None and info.key_version == 2


def test_deterministic_random_gives_identical_vaults(tmp_path: Path) -> None:
    heads = []
    for name in ("a.db", "b.db"):
        with Custodian.create(
            tmp_path / name,
            user="alice",
            passphrase="pw",
            kdf=FAST,
            clock=StepClock(),
            random=DeterministicRandom(b"seed"),
        ) as kr:
            kr.store_job(sample_job(), actor="alice")
            heads.append((kr.vault_id, kr.log_head()))
            with raw_db(kr.path) as db:
                heads.append(db.execute("SELECT data FROM blobs ORDER BY field, idx").fetchall())
    assert heads[0] == heads[2] and heads[1] == heads[3]


def test_sample_job_is_what_it_claims() -> None:
    job = sample_job()
    assert replace(job, filename=None) == job
