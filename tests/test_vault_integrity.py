"""Write access must never become read access: an attacker who can write the vault file
(here: plain ``sqlite3``, bypassing the store) and run a hostile server on loopback tries to
plant grants, replace or re-create archived jobs, roll rows back, doctor the log's head, the
KDF record or a user's status. Every attempt ends in exit 5 (or ``IntegrityError``) with
nothing released or written, and ``verify`` names it. (Issue 11, points 1-4, 8-10.)"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import FAST_KDF, invoke
from custody_kit import FAST, ORIGINALS, PASSPHRASE, new_vault, raw_db, sample_job, vault_bytes

import vault.store as store
from vault.crypto import KdfParams
from vault.custody import Custodian
from vault.errors import InputError, IntegrityError, WrongPassphrase
from vault.lifecycle import erase, verify
from vault.models import SubmitOptions

ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}
Attack = Callable[[sqlite3.Connection], object]


def _uid(db: sqlite3.Connection, name: str) -> int:
    return db.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()[0]


@pytest.fixture
def vault(isolated_env: Path) -> Path:
    """alice and bob hold job j1 (and j2); mallory, added later, holds nothing of j1."""
    with new_vault(isolated_env) as kr:
        kr.add_user("bob", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
        kr.store_job(sample_job("j1"), actor="alice")
        kr.store_job(sample_job("j2", mapping={"Other Person": "[PERSON_NAME_1]"}), actor="alice")
        kr.add_user("mallory", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
    return isolated_env


def state_findings(path: Path) -> list[str]:
    with Custodian.open(path) as kr:
        return [f.message for f in verify(kr).findings]


def head(path: Path) -> str:
    result = invoke(["log", "--head"], env=ENV)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


# --------------------------------------------------------------------------- 1. holders


def _plant_random(db: sqlite3.Connection) -> None:
    kv = db.execute("SELECT key_version FROM jobs WHERE job_id = 'j1'").fetchone()[0]
    db.execute(
        "INSERT INTO grants VALUES ('j1', ?, ?, ?, 0)", (_uid(db, "mallory"), kv, os.urandom(81))
    )


def _plant_copy_of_bobs(db: sqlite3.Connection) -> None:
    kv, sealed = db.execute(
        "SELECT key_version, sealed_dek FROM grants WHERE job_id = 'j1' AND user_id = ?",
        (_uid(db, "bob"),),
    ).fetchone()
    db.execute("INSERT INTO grants VALUES ('j1', ?, ?, ?, 0)", (_uid(db, "mallory"), kv, sealed))


def _move_bobs_to_mallory(db: sqlite3.Connection) -> None:
    db.execute(
        "UPDATE grants SET user_id = ? WHERE job_id = 'j1' AND user_id = ?",
        (_uid(db, "mallory"), _uid(db, "bob")),
    )


def _swap_mallorys_key_for_bobs(db: sqlite3.Connection) -> None:
    # mallory takes bob's place by putting her public key into bob's row
    key = db.execute("SELECT public_key FROM users WHERE name = 'mallory'").fetchone()[0]
    db.execute("UPDATE users SET public_key = ? WHERE name = 'bob'", (key,))


PLANTS: dict[str, Attack] = {
    "random bytes": _plant_random,
    "copy of another holder's grant": _plant_copy_of_bobs,
    "holder's grant moved to her": _move_bobs_to_mallory,
    "her public key in a holder's row": _swap_mallorys_key_for_bobs,
}


@pytest.mark.parametrize("plant", PLANTS.values(), ids=PLANTS.keys())
def test_a_planted_grant_is_reported_and_never_sealed_to(vault: Path, plant: Attack) -> None:
    with raw_db(vault) as db:
        plant(db)
    # verify without a key already sees grants outside the holders the log recorded
    assert any("grant" in m or "public key" in m for m in state_findings(vault))
    before = vault_bytes(vault)
    # the next legitimate revoke must not seal the fresh key to the planted holder: it is
    # refused (exit 5), or, where bob holds no grant row any more, changes nothing
    with Custodian.open(vault) as kr:
        alice = kr.unlock("alice", PASSPHRASE)
        with pytest.raises(IntegrityError):
            alice.open_map("j1")  # every read of the job fails closed too
        try:
            alice.revoke("bob", ["j1"])
        except IntegrityError:
            pass
    assert vault_bytes(vault) == before
    result = invoke(["--user", "alice", "revoke", "bob", "-j", "j1"], env=ENV)
    assert result.exit_code in (0, 5) and result.stderr.count("\n") == 1
    assert vault_bytes(vault) == before or result.exit_code == 0
    # and mallory still reads nothing
    assert invoke(["--user", "mallory", "export", "j1", "-o", "-"], env=ENV).exit_code in (4, 5)


def test_verify_reports_a_planted_grant_with_exit_5(vault: Path) -> None:
    with raw_db(vault) as db:
        _plant_random(db)
    result = invoke(["verify"], env=ENV)
    assert result.exit_code == 5
    assert "[state] job j1: the grants of job j1 differ from the holders" in result.stdout
    deep = invoke(["--user", "alice", "verify", "--deep"], env=ENV)
    assert deep.exit_code == 5
    assert "[deep] job j1:" in deep.stdout


def test_the_seal_authenticates_the_holders_even_when_the_log_is_forged_too(vault: Path) -> None:
    # A writer who also appends a well-formed log entry recording her as a holder (the chain
    # proves order, not authorship) still fails the seal, which only a holder can compute.
    with raw_db(vault) as db:
        _plant_random(db)
    with Custodian.open(vault) as kr:
        # the attacker can run our code too: a chained entry recording her as a holder
        from vault.custody import _log, _state

        facts = _state.job_facts(kr.db.jobs.get("j1"), _state.holders(kr.db, "j1"))
        with kr.db.write():
            _log.append(
                kr.db,
                vault_id=kr.vault_id,
                time=0.0,
                user="mallory",
                action="grant",
                job_id="j1",
                counts={},
                subject="mallory",
                facts=facts,
            )
    # verify without a key: the holders changed but the seal did not
    assert any("without a new seal" in m for m in state_findings(vault))
    with Custodian.open(vault) as kr:
        session = kr.unlock("alice", PASSPHRASE)
        with pytest.raises(IntegrityError, match="holders"):
            session.open_map("j1")
        with pytest.raises(IntegrityError):
            session.revoke("bob", ["j1"])
        with pytest.raises(IntegrityError):
            session.grant("mallory", ["j1"])


def test_grant_and_revoke_re_seal_the_holders(vault: Path) -> None:
    with Custodian.open(vault) as kr:
        alice = kr.unlock("alice", PASSPHRASE)
        seal = kr.db.jobs.get("j1").seal
        assert alice.grant("mallory", ["j1"]) == ["j1"]
        assert kr.db.jobs.get("j1").seal != seal  # re-sealed over the new holder set
        assert kr.unlock("mallory", PASSPHRASE).open_map("j1")
        alice.revoke("mallory", ["j1"])
        assert kr.db.jobs.get("j1").seal[0] == 2
    assert state_findings(vault) == []


def test_a_grant_planted_between_submit_and_fetch_is_not_archived_over(isolated_env: Path) -> None:
    with new_vault(isolated_env) as kr:
        kr.add_user("mallory", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
        kr.disable_user("mallory", actor="alice")
        kr.record_pending(
            "p1",
            file_type="csv",
            source="upload",
            submitted_at=1.0,
            filename="secret-name.csv",
            options=SubmitOptions(),
            actor="alice",
        )
    with raw_db(isolated_env) as db:
        db.execute(
            "INSERT INTO grants VALUES ('p1', ?, 1, ?, 0)", (_uid(db, "mallory"), os.urandom(81))
        )
    with Custodian.open(isolated_env) as kr, pytest.raises(IntegrityError, match="grants"):
        kr.store_job(sample_job("p1"), actor="alice")


# --------------------------------------------------------------------------- 2. replacing


class _HostileServer(BaseHTTPRequestHandler):
    """Answers every status request with a completed job carrying the attacker's map."""

    def do_GET(self) -> None:  # noqa: N802
        job_id = self.path.rsplit("/", 1)[-1]
        body = {
            "job_id": job_id,
            "status": "completed",
            "progress": 100,
            "created_at": 1_700_000_000,
            "file_type": "csv",
            "result": base64.b64encode(b"[PERSON_NAME_1]\n").decode(),
            "de_anonymization_map": {"Attacker Chosen": "[PERSON_NAME_1]"},
            "entity_count": 1,
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def hostile_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _back_to_pending(db: sqlite3.Connection) -> None:
    db.execute("UPDATE jobs SET status = 'pending' WHERE job_id = 'j1'")


def _back_to_expired(db: sqlite3.Connection) -> None:
    db.execute("UPDATE jobs SET status = 'expired' WHERE job_id = 'j1'")


def _rows_deleted(db: sqlite3.Connection) -> None:
    for table in ("grants", "blobs", "jobs"):
        db.execute(f"DELETE FROM {table} WHERE job_id = 'j1'")


REPLACE: dict[str, Attack] = {
    "status set back to pending": _back_to_pending,
    "status set to expired": _back_to_expired,
    "rows deleted": _rows_deleted,
}


@pytest.mark.parametrize(
    ("command", "attack"),
    [*(("fetch", a) for a in REPLACE.values()), ("sync", _back_to_pending)],
    ids=[*(f"fetch-{k}" for k in REPLACE), "sync-status set back to pending"],
)
def test_an_archived_job_is_never_replaced_from_a_hostile_server(
    vault: Path, attack: Attack, command: str
) -> None:
    with raw_db(vault) as db:
        attack(db)
    assert state_findings(vault)  # verify already says so
    with hostile_server() as url:
        args = ["--user", "alice", command, "--api-url", url]
        result = invoke([*args, "j1"] if command == "fetch" else args, env=ENV)
    assert result.exit_code == 5, result.output
    with Custodian.open(vault) as kr:
        assert not kr.log_entries(action="fetch", job_id="j1")[1:]  # archived once, only
    # nothing of the attacker's map is in the vault (it never got stored)
    assert invoke(["--user", "alice", "export", "j1", "-o", "-"], env=ENV).exit_code in (1, 5)


def test_an_erased_job_is_never_re_created(vault: Path) -> None:
    with Custodian.open(vault) as kr:
        erase(kr, ["j1"], actor="alice")
    with raw_db(vault) as db:
        db.execute("DELETE FROM jobs WHERE job_id = 'j1'")
    with Custodian.open(vault) as kr:
        with pytest.raises(IntegrityError, match="missing from the vault"):
            kr.store_job(
                sample_job("j1", mapping={"Attacker Chosen": "[PERSON_NAME_1]"}), actor="x"
            )
        with pytest.raises(IntegrityError):
            kr.record_pending(
                "j1",
                file_type="csv",
                source="upload",
                submitted_at=1.0,
                filename=None,
                options=None,
                actor="x",
            )
    with hostile_server() as url:
        result = invoke(["--user", "alice", "fetch", "--api-url", url, "j1"], env=ENV)
    assert result.exit_code == 5, result.output
    assert any("erased" in m or "missing" in m for m in state_findings(vault))


def test_a_fresh_vault_and_an_old_one_verify_clean(vault: Path, tmp_path: Path) -> None:
    with Custodian.open(vault) as kr:
        alice = kr.unlock("alice", PASSPHRASE)
        alice.grant("mallory", ["j2"])
        alice.revoke("bob", ["j1"])
        erase(kr, ["j2"], actor="alice")
        kr.record_pending(
            "p1", file_type="csv", source="upload", submitted_at=1.0, filename="f",
            options=None, actor="alice",
        )  # fmt: skip
        kr.mark_expired("p1", actor="alice")
        kr.store_job(sample_job("p1"), actor="alice")
    assert state_findings(vault) == []
    old = tmp_path / "old.db"
    shutil.copy(Path(__file__).parent / "vectors" / "vault-v1.db", old)
    with Custodian.open(old) as kr:
        assert verify(kr).findings == ()


# --------------------------------------------------------------------------- 3. rollback


def _copy_rows_from(old: Path, job_id: str) -> Attack:
    def attack(db: sqlite3.Connection) -> None:
        db.execute("ATTACH DATABASE ? AS old", (str(old),))
        for table in ("grants", "blobs", "jobs"):
            db.execute(f"DELETE FROM main.{table} WHERE job_id = ?", (job_id,))
        for table in ("jobs", "blobs", "grants"):
            db.execute(
                f"INSERT INTO main.{table} SELECT * FROM old.{table} WHERE job_id = ?", (job_id,)
            )

    return attack


@pytest.mark.parametrize("change", ["erase", "revoke"])
def test_rows_rolled_back_from_an_older_copy_are_caught(
    vault: Path, tmp_path: Path, change: str
) -> None:
    old = tmp_path / "older-copy.db"
    with Custodian.open(vault) as kr:
        store.checkpoint(kr.db)
    shutil.copy(vault, old)
    with Custodian.open(vault) as kr:
        if change == "erase":
            erase(kr, ["j1"], actor="alice")
        else:
            kr.unlock("alice", PASSPHRASE).revoke("bob", ["j1"])
    anchored = head(vault)
    with raw_db(vault) as db:
        _copy_rows_from(old, "j1")(db)
    result = invoke(["--user", "alice", "verify", "--deep", "--expect-head", anchored], env=ENV)
    assert result.exit_code == 5
    assert "[state] job j1:" in result.stdout
    # and nothing is released from the rolled-back rows, to anyone
    for user in ("alice", "bob"):
        out = tmp_path / f"{user}.csv"
        denied = invoke(["--user", user, "export", "j1", "-o", str(out)], env=ENV)
        assert denied.exit_code == 5, denied.output
        assert not out.exists()


# --------------------------------------------------------------------------- 4. the head


def _edit_newest_entry(db: sqlite3.Connection) -> None:
    db.execute("DROP TRIGGER access_log_no_update")
    db.execute(
        "UPDATE access_log SET counts = '{\"x\": 1}' WHERE seq = (SELECT max(seq) FROM access_log)"
    )
    db.execute(
        "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log\n"
        "    BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END"
    )


def _drop_a_guard(db: sqlite3.Connection) -> None:
    db.execute("DROP TRIGGER access_log_no_delete")


def _append_unchained(db: sqlite3.Connection) -> None:
    seq = db.execute("SELECT max(seq) FROM access_log").fetchone()[0] + 1
    db.execute(
        "INSERT INTO access_log (seq, time, user, action, job_id, subject, counts, prev_hash, "
        "entry_hash) VALUES (?, 0, 'mallory', 'noise', NULL, NULL, '{}', ?, ?)",
        (seq, "0" * 64, "f" * 64),
    )


def _weaken_a_guard(db: sqlite3.Connection) -> None:
    db.execute("DROP TRIGGER access_log_no_update")
    db.execute(
        "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log BEGIN SELECT 1; END"
    )


HEADS: dict[str, Attack] = {
    "newest entry edited": _edit_newest_entry,
    "append-only trigger dropped": _drop_a_guard,
    "append-only trigger made harmless": _weaken_a_guard,
    "entry appended off the chain": _append_unchained,
}


@pytest.mark.parametrize("attack", HEADS.values(), ids=HEADS.keys())
@pytest.mark.parametrize(
    "release",
    [
        ["export", "j1", "-o", "{out}"],
        ["show", "j1", "--reveal"],
        ["audit", "--deep"],
        ["restore", "-j", "j1", "{input}", "-o", "{out}"],
    ],
    ids=["export", "show --reveal", "audit --deep", "restore"],
)
def test_nothing_is_released_unless_the_log_head_holds(
    vault: Path, tmp_path: Path, attack: Attack, release: list[str]
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("[PERSON_NAME_1]\n")
    out = tmp_path / "out.txt"
    with raw_db(vault) as db:
        attack(db)
    args = [a.format(out=out, input=source) for a in release]
    with Custodian.open(vault) as kr:
        entries = len(kr.db.log.rows())
    result = invoke(["--user", "alice", *args], env=ENV)
    assert result.exit_code == 5, result.output
    assert result.stderr.count("\n") == 1
    assert not out.exists()
    assert not any(o in result.stdout for o in ORIGINALS)
    with Custodian.open(vault) as kr:
        assert len(kr.db.log.rows()) == entries  # no release was logged


@pytest.mark.parametrize("attack", HEADS.values(), ids=HEADS.keys())
def test_the_python_api_releases_nothing_unless_the_head_holds(vault: Path, attack: Attack) -> None:
    with raw_db(vault) as db:
        attack(db)
    with Custodian.open(vault) as kr:
        session = kr.unlock("alice", PASSPHRASE)
        for read in (session.open_map, session.open_file, session.open_job, session.open_details):
            with pytest.raises(IntegrityError):
                read("j1")
        with pytest.raises(IntegrityError):
            session.release("export", ["j1"])


# --------------------------------------------------------------------------- 8. KDF


@pytest.mark.parametrize(
    "params",
    [
        KdfParams("argon2id", 8, 1, 1),
        KdfParams("argon2id", 8192, 1, 1),
        KdfParams("argon2id", 47103, 1, 1),
        KdfParams("argon2id", 19455, 2, 1),
        KdfParams("argon2id", 12287, 3, 4),
        KdfParams("argon2id", 9215, 4, 1),
        KdfParams("argon2id", 7167, 16, 1),
        KdfParams("scrypt", 2**16, 1, 1),
    ],
)
def test_kdf_settings_below_the_floor_need_the_unsafe_switch(params: KdfParams) -> None:
    assert params.below_floor()
    with pytest.raises(InputError, match="below the floor"):
        params.check()
    from dataclasses import replace

    replace(params, unsafe=True).check()


@pytest.mark.parametrize(
    "params",
    [
        KdfParams(),
        KdfParams("argon2id", 47104, 1, 1),
        KdfParams("argon2id", 19456, 2, 1),
        KdfParams("argon2id", 12288, 3, 1),
        KdfParams("argon2id", 7168, 5, 1),
        KdfParams("scrypt", 2**17, 1, 1),
    ],
)
def test_kdf_settings_at_the_floor_are_accepted(params: KdfParams) -> None:
    assert not params.below_floor()
    params.check()


def test_init_refuses_a_weak_kdf_without_the_switch_and_shows_it_with(isolated_env: Path) -> None:
    weak = [f for f in FAST_KDF if f != "--unsafe-kdf"]
    refused = invoke(["init", "--user", "alice", *weak], env=ENV)
    assert refused.exit_code == 1
    assert "below the floor" in refused.stderr and refused.stderr.count("\n") == 1
    assert not isolated_env.exists()
    assert invoke(["init", "--user", "alice", *FAST_KDF], env=ENV).exit_code == 0
    listing = invoke(["user", "list"], env=ENV)
    assert "UNSAFE KDF" in listing.stdout
    assert json.loads(invoke(["user", "list", "--json"], env=ENV).stdout)[0]["unsafe_kdf"] is True
    checked = invoke(["verify"], env=ENV)
    assert checked.exit_code == 0
    assert "note:" in checked.stdout and "below the floor" in checked.stdout
    with Custodian.open(isolated_env) as kr:
        assert kr.log_entries(action="user-add")[0].facts["kdf_unsafe"] == 1


KDF_EDITS: dict[str, str] = {
    "memory raised": "UPDATE users SET kdf_memory_kib = 65536",
    "memory lowered": "UPDATE users SET kdf_memory_kib = 4096",
    "passes changed": "UPDATE users SET kdf_passes = 2",
    "lanes changed": "UPDATE users SET kdf_lanes = 2, kdf_memory_kib = 8192",
    "algorithm changed": "UPDATE users SET kdf_algorithm = 'scrypt', kdf_memory_kib = 8192",
    "salt changed": "UPDATE users SET kdf_salt = randomblob(16)",
    "memory at the old cap": "UPDATE users SET kdf_memory_kib = 4194304",
}


@pytest.mark.parametrize("edit", KDF_EDITS.values(), ids=KDF_EDITS.keys())
def test_an_edited_kdf_record_is_tampering_not_a_wrong_passphrase(vault: Path, edit: str) -> None:
    with raw_db(vault) as db:
        db.execute(edit + " WHERE name = 'alice'")
    start = time.perf_counter()
    with Custodian.open(vault) as kr, pytest.raises(IntegrityError, match="key-derivation"):
        kr.unlock("alice", PASSPHRASE)
    assert time.perf_counter() - start < 0.5  # refused before any derivation
    result = invoke(["--user", "alice", "export", "j1", "-o", "-"], env=ENV)
    assert result.exit_code == 5 and result.stdout == ""
    assert any("key-derivation" in m for m in state_findings(vault))


def test_a_wrong_passphrase_is_still_exit_4(vault: Path) -> None:
    with Custodian.open(vault) as kr, pytest.raises(WrongPassphrase):
        kr.unlock("alice", "not it")
    result = invoke(
        ["--user", "alice", "export", "j1", "-o", "-"], env={"QUESTA_VAULT_PASSPHRASE": "x"}
    )
    assert result.exit_code == 4


# --------------------------------------------------------------------------- 9. hardening

_PROBE = """
import ctypes, resource, sys
from vault.cli import run
code = run(sys.argv[1:])
print(code, resource.getrlimit(resource.RLIMIT_CORE), ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux-only")
@pytest.mark.parametrize(
    "args",
    [
        ["--user", "alice", "export", "j1", "-o", "-"],
        ["--user", "alice", "verify", "--deep"],
        ["--user", "alice", "grant", "mallory", "-j", "j2"],
    ],
    ids=["export", "verify --deep", "grant"],
)
def test_commands_that_unlock_a_key_drop_core_dumps(vault: Path, args: list[str]) -> None:
    env = {**os.environ, **ENV}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env, check=False
    )
    code, rest = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert code == "0", result.stderr
    assert rest == "(0, 0) 0"  # no core file, not dumpable
    # a command without a secret leaves the process as it was
    plain = subprocess.run(
        [sys.executable, "-c", _PROBE, "user", "list"], capture_output=True, text=True, env=env,
        check=False,
    )  # fmt: skip
    assert plain.stdout.strip().splitlines()[-1].endswith(" 1")


# --------------------------------------------------------------------------- 10. revoke --all


def test_revoke_all_also_disables_and_keep_enabled_warns(vault: Path) -> None:
    result = invoke(["--user", "alice", "revoke", "bob", "--all"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "disabled bob: no new job is sealed to bob" in result.stderr
    again = invoke(["--user", "alice", "revoke", "bob", "--all"], env=ENV)
    assert again.exit_code == 0, again.output
    assert again.stderr == (
        "bob holds no grant for these jobs: nothing to revoke\nbob was already disabled\n"
    )
    with Custodian.open(vault) as kr:
        assert not next(u for u in kr.list_users() if u.name == "bob").enabled
        kr.store_job(sample_job("j3"), actor="alice")
        assert "bob" not in kr.get_job("j3").recipients
    kept = invoke(["--user", "alice", "revoke", "mallory", "--all", "--keep-enabled"], env=ENV)
    assert kept.exit_code == 0, kept.output
    assert "warning: mallory is still enabled" in kept.stderr
    assert "questa-vault user disable mallory" in kept.stderr
    assert (
        invoke(
            ["--user", "alice", "revoke", "mallory", "-j", "j1", "--keep-enabled"], env=ENV
        ).exit_code
        == 1
    )


def test_a_user_re_enabled_by_a_raw_edit_is_caught(vault: Path) -> None:
    assert invoke(["--user", "alice", "revoke", "bob", "--all"], env=ENV).exit_code == 0
    with raw_db(vault) as db:
        db.execute("UPDATE users SET enabled = 1 WHERE name = 'bob'")
    result = invoke(["verify"], env=ENV)
    assert result.exit_code == 5
    assert "the access log says user bob was disabled, but the user is enabled" in result.stdout
    denied = invoke(["--user", "bob", "export", "j2", "-o", "-"], env=ENV)
    assert denied.exit_code == 5 and denied.stdout == ""
    # and a job archived now is not sealed to the re-enabled user
    with Custodian.open(vault) as kr:
        assert any(
            p.message.startswith("the access log says user bob") for p in kr.state_problems()
        )


def test_a_user_added_by_a_raw_insert_is_caught(vault: Path) -> None:
    with raw_db(vault) as db:
        db.execute(
            "INSERT INTO users (name, enabled, created_at, public_key) VALUES ('eve', 1, 0, ?)",
            (os.urandom(32),),
        )
    assert "user eve is not in the access log: added outside questa-vault" in state_findings(vault)
