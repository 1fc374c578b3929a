"""audit, grant, revoke, erase, verify, backup through the real CLI on a real vault; the
audit numbers against the simulator's own maps for a mixed set of archived jobs."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import sqlite3
import stat
from collections import Counter
from pathlib import Path

import httpx
import pytest
from conftest import FAST_KDF, invoke
from custody_kit import FAST, ORIGINALS, PASSPHRASE, StepClock, raw_db, sample_job

from vault.custody import Custodian
from vault.simulator import SimulatorConfig, run_simulator

ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}
DAY = 86400.0
T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z


@pytest.fixture
def vault(cli_vault: Path | str) -> Path | str:
    """A vault with users alice and bob (same passphrase) and no job, once per backend."""
    result = invoke(["init", "--user", "alice", *FAST_KDF], env=ENV)
    assert result.exit_code == 0, result.output
    with Custodian.open(cli_vault) as kr:
        kr.add_user("bob", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
    return cli_vault


def store(path: Path, *jobs, clock=None) -> None:
    kwargs = {"clock": clock} if clock is not None else {}
    with Custodian.open(path, **kwargs) as kr:
        for job in jobs:
            assert kr.store_job(job, actor="alice")


def alice(args: list[str], **kw):
    return invoke(["--user", "alice", *args], env=ENV, **kw)


def actions(path: Path, action: str) -> list:
    with Custodian.open(path) as kr:
        return kr.log_entries(action=action)


# --------------------------------------------------------------------------- audit


def test_audit_needs_a_vault() -> None:
    result = invoke(["audit"])
    assert result.exit_code == 1
    assert "no vault at" in result.stderr and "run questa-vault init" in result.stderr


@pytest.mark.parametrize(("command", "code"), [(["audit"], 1), (["verify"], 5)])
def test_a_foreign_sqlite_file_is_refused_and_left_unchanged(
    isolated_env: Path, command: list[str], code: int
) -> None:
    with sqlite3.connect(isolated_env) as db:
        db.execute("CREATE TABLE schema_migrations (id INTEGER PRIMARY KEY, name, applied_at)")
    before = isolated_env.read_bytes()
    result = invoke(command)
    assert result.exit_code == code, result.output
    assert result.stderr.endswith(f"{isolated_env} is not a questa-vault database\n")
    assert result.stderr.count("\n") == 1
    assert isolated_env.read_bytes() == before


def mixed_vault(path: Path) -> None:
    clock = StepClock(start=T0, step=0.0)
    store(path, sample_job("a-may"), clock=clock)  # 2024-01-01
    clock.now = T0 + 20 * DAY  # 2024-01-21
    store(
        path,
        sample_job(
            "b-text", mapping={"x@y.org": "[EMAIL_ADDRESS_1]"}, content=b"[EMAIL_ADDRESS_1]"
        ),
        sample_job("c-failed", status="failed", error="server said no", mapping={}),
        clock=clock,
    )
    with Custodian.open(path, clock=clock) as kr:
        kr.record_pending(
            "d-pending", file_type="pdf", source="upload", submitted_at=T0 + 21 * DAY,
            filename="Johanna.pdf", options=None, actor="alice",
        )  # fmt: skip


def test_audit_table_fits_80_columns_and_adds_up(vault: Path) -> None:
    mixed_vault(vault)
    result = invoke(["audit"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0] == "JOB      TYPE  STATUS   ARCHIVED (UTC)     ENT   MAP COUNTS"
    assert lines[1] == "a-may    csv   archived 2024-01-01 00:00     5     3 EMAIL_ADDRESS:1"
    assert lines[2] == " " * 53 + "PERSON_NAME:1"  # the counts wrap to stay in 80 columns
    assert lines[3] == " " * 53 + "PHONE_NUMBER:1"
    assert "4 job(s), 10 entities reported by the server, 4 map entries" in result.stdout
    assert "by status: pending 1, archived 2, failed 1" in result.stdout
    assert re.search(r"^EMAIL_ADDRESS\s+2$", result.stdout, re.M)
    assert re.search(r"^PERSON_NAME\s+1$", result.stdout, re.M)
    for original in ORIGINALS:
        assert original not in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["a-may", "b-text", "c-failed", "d-pending"]),
        (["--status", "archived"], ["a-may", "b-text"]),
        (["--status", "failed", "--status", "pending"], ["c-failed", "d-pending"]),
        (["--type", "pdf"], ["d-pending"]),
        (["--since", "2024-01-15"], ["b-text", "c-failed", "d-pending"]),
        (["--until", "2024-01-21"], ["a-may", "b-text", "c-failed"]),
        (["--until", "2024-01-20"], ["a-may"]),
        (["--since", "2024-01-01T00:00:00", "--until", "2024-01-01T00:00:01"], ["a-may"]),
        (["--since", "2024-01-21T01:00+01:00", "--type", "csv"], ["b-text", "c-failed"]),
        (["--since", str(int(T0 + 21 * DAY))], ["d-pending"]),
    ],
)
def test_audit_filters(vault: Path, args: list[str], expected: list[str]) -> None:
    mixed_vault(vault)
    result = invoke(["audit", "--json", *args])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [j["job_id"] for j in data["jobs"]] == expected
    assert data["totals"]["jobs"] == len(expected)


def test_audit_relative_since_counts_back_from_now(vault: Path) -> None:
    mixed_vault(vault)
    store(vault, sample_job("e-now"))
    result = invoke(["audit", "--json", "--since", "1d"])
    assert [j["job_id"] for j in json.loads(result.stdout)["jobs"]] == ["e-now"]


def test_audit_json_totals(vault: Path) -> None:
    mixed_vault(vault)
    data = json.loads(invoke(["audit", "--format", "json", "--summary"]).stdout)
    assert "jobs" not in data
    assert data["totals"] == {
        "jobs": 4,
        "entity_count": 10,
        "map_size": 4,
        "file_size": len(sample_job().content) + len(b"[EMAIL_ADDRESS_1]"),
        "by_entity_type": {"EMAIL_ADDRESS": 2, "PERSON_NAME": 1, "PHONE_NUMBER": 1},
        "by_status": {"pending": 1, "archived": 2, "failed": 1},
        "by_file_type": {"csv": 3, "pdf": 1},
    }


def test_audit_csv(vault: Path) -> None:
    mixed_vault(vault)
    result = invoke(["audit", "--format", "csv", "--status", "archived"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["job_id"] for r in rows] == ["a-may", "b-text"]
    assert rows[0]["archived_at"] == "2024-01-01T00:00:00Z"
    assert (rows[0]["PERSON_NAME"], rows[1]["PERSON_NAME"], rows[1]["EMAIL_ADDRESS"]) == (
        "1",
        "0",
        "1",
    )
    summary = invoke(["audit", "--format", "csv", "--summary"]).stdout.splitlines()
    assert summary[0] == "group,key,value"
    assert "total,jobs,4" in summary and "entity_type,EMAIL_ADDRESS,2" in summary


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--since", "last tuesday"], 1, "cannot read the time 'last tuesday'"),
        (["--since", "2024-02-01", "--until", "2024-01-01"], 1, "--since must be earlier"),
        (["--status", "done"], 2, "Invalid value for '--status'"),
        (["--format", "xml"], 2, "Invalid value for '--format'"),
    ],
)
def test_audit_bad_options(vault: Path, args: list[str], code: int, message: str) -> None:
    result = invoke(["audit", *args])
    assert result.exit_code == code
    assert message in result.stderr


def test_audit_works_without_a_passphrase_but_deep_needs_one(vault: Path) -> None:
    mixed_vault(vault)
    assert invoke(["audit"]).exit_code == 0
    result = invoke(["--user", "alice", "audit", "--deep"])
    assert result.exit_code == 1
    assert "a passphrase is needed" in result.stderr
    wrong = invoke(["--user", "alice", "audit", "--deep"], env={"QUESTA_VAULT_PASSPHRASE": "nope"})
    assert wrong.exit_code == 4
    assert actions(vault, "audit-deep") == []


# Text of an archived file that looks like a placeholder but may hold personal data.
FILE_PII = "[Ref: Johanna Quisling-Marx, AHV 756.1234.5678_97]"


def test_audit_deep_flags_per_job_and_logs_counts(vault: Path) -> None:
    store(
        vault,
        sample_job("good"),
        sample_job(
            "odd",
            content=f"name\n[PERSON_NAME_1]\n[PERSON_NAME_7]\n{FILE_PII}\n".encode(),
            mapping={ORIGINALS[0]: "[PERSON_NAME_1]", ORIGINALS[1]: "[EMAIL_ADDRESS_2]"},
        ),
    )
    with Custodian.open(vault) as kr:  # a job alice cannot open
        kr.unlock("alice", PASSPHRASE).revoke("alice", ["good"])
    result = alice(["audit", "--deep"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(r"^good\s+5\s+-\s+not checked: user alice holds no grant", out, re.M)
    assert re.search(
        r"^odd\s+4\s+1\s+missing-from-map, unused-map-entries, count-mismatch$", out, re.M
    )
    assert "odd: not in the map: [PERSON_NAME_7]" in out
    assert "odd: never used in the file: [EMAIL_ADDRESS_2]" in out
    assert "odd: not in the map: 1 other placeholder-shaped token(s), not shown" in out
    for original in ORIGINALS:
        assert original not in result.output
    entries = actions(vault, "audit-deep")
    assert [(e.user, e.job_id) for e in entries] == [("alice", "odd")]
    assert dict(entries[0].counts) == {
        "placeholders": 1,
        "missing_from_map": 1,
        "other_tokens": 1,
        "unused_map_entries": 1,
    }
    as_json = alice(["audit", "--deep", "--json"])
    data = json.loads(as_json.stdout)
    checks = {c["job_id"]: c for c in data["cross_check"]}
    assert checks["odd"]["flags"] == ["missing-from-map", "unused-map-entries", "count-mismatch"]
    assert checks["odd"]["missing_from_map"] == ["[PERSON_NAME_7]"]
    assert checks["odd"]["other_tokens"] == 1
    assert checks["good"]["checked"] is False
    as_csv = alice(["audit", "--deep", "--format", "csv"])
    for shown in (result, as_json, as_csv):
        assert "Johanna" not in shown.output and "756.1234" not in shown.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {r["job_id"]: r["deep_flags"] for r in rows}["odd"].startswith("missing-from-map")


def test_audit_deep_on_a_tampered_job_releases_nothing(vault: Path) -> None:
    store(vault, sample_job("j1"))
    with raw_db(vault) as db:
        db.execute("UPDATE jobs SET entity_count = 2 WHERE job_id = 'j1'")
    result = alice(["audit", "--deep"])
    assert result.exit_code == 5
    assert result.stdout == ""
    assert actions(vault, "audit-deep") == []


# --------------------------------------------------------------------------- grant / revoke


@pytest.mark.parametrize("command", ["grant", "revoke"])
@pytest.mark.parametrize("selection", [[], ["-j", "j1", "--all"]])
def test_grant_and_revoke_need_exactly_one_selection(
    vault: Path, command: str, selection: list[str]
) -> None:
    result = alice([command, "bob", *selection])
    assert result.exit_code == 2
    assert "-j JOB (repeatable) or --all" in result.stderr


def test_grant_revoke_round_trip(vault: Path) -> None:
    store(vault, sample_job("j1"), sample_job("j2"))
    with Custodian.open(vault) as kr:
        kr.add_user("carol", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
    result = alice(["grant", "carol", "--all"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["j1", "j2"]
    assert "granted carol access to 2 job(s)" in result.stderr
    carol = invoke(["--user", "carol", "export", "j1", "-o", "-"], env=ENV)
    assert carol.exit_code == 0 and carol.stdout.encode() == sample_job().content

    result = alice(["revoke", "carol", "-j", "j1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "user": "carol",
        "rekeyed": ["j1"],
        "unreadable": [],
        "enabled": True,
    }
    denied = invoke(["--user", "carol", "export", "j1", "-o", "-"], env=ENV)
    assert denied.exit_code == 4
    with Custodian.open(vault) as kr:
        assert kr.get_job("j1").key_version == 2 and kr.get_job("j2").key_version == 1
        assert [e.subject for e in kr.log_entries(action="revoke")] == ["carol"]


def test_revoke_last_reader_is_refused_unless_forced(vault: Path) -> None:
    store(vault, sample_job("j1"))
    assert alice(["revoke", "bob", "--all"]).exit_code == 0
    result = alice(["revoke", "alice", "-j", "j1"])
    assert result.exit_code == 1
    assert (
        "refusing: alice is the last user with access to 1 job(s) (j1); revoking would make "
        "them unreadable for good. Use --force to do it anyway, or erase them"
    ) in result.stderr
    forced = alice(["revoke", "alice", "-j", "j1", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "warning: job j1 now has no reader and is unreadable for good" in forced.stderr
    assert alice(["export", "j1", "-o", "-"]).exit_code == 4


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["grant", "nobody", "-j", "j1"], 4, "no user nobody"),
        (["grant", "bob", "-j", "nope"], 1, "no job nope"),
        (["revoke", "nobody", "-j", "j1"], 4, "no user nobody"),
    ],
)
def test_grant_revoke_errors(vault: Path, args: list[str], code: int, message: str) -> None:
    store(vault, sample_job("j1"))
    result = alice(args)
    assert result.exit_code == code
    assert message in result.stderr


def test_grant_with_the_wrong_passphrase_changes_nothing(vault: Path) -> None:
    store(vault, sample_job("j1"))
    result = invoke(
        ["--user", "alice", "grant", "bob", "-j", "j1"], env={"QUESTA_VAULT_PASSPHRASE": "x"}
    )
    assert result.exit_code == 4
    assert actions(vault, "grant") == []


# --------------------------------------------------------------------------- erase


def test_erase_asks_first(vault: Path) -> None:
    store(vault, sample_job("j1"))
    declined = alice(["erase", "j1"], input="n\n")
    assert declined.exit_code == 1
    assert "about to erase 1 job(s) for good:" in declined.stderr
    assert "Erase 1 job(s)? This cannot be undone" in declined.stderr
    assert actions(vault, "erase") == []
    assert declined.stderr.endswith("questa-vault: aborted\n")
    # No terminal and no answer (cron, `< /dev/null`): say how to erase without asking.
    no_answer = alice(["erase", "j1"], input="")
    assert no_answer.exit_code == 1
    assert no_answer.stderr.endswith(
        "questa-vault: no answer to the confirmation (standard input is not a terminal): add "
        "--yes to erase without asking; nothing was erased\n"
    )
    assert actions(vault, "erase") == []
    confirmed = alice(["erase", "j1"], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert confirmed.stdout.split() == ["j1"]
    with Custodian.open(vault) as kr:
        assert kr.get_job("j1").status == "erased"
        assert [(e.user, e.job_id) for e in kr.log_entries(action="erase")] == [("alice", "j1")]
    again = invoke(["erase", "j1", "--yes"])
    assert again.exit_code == 0
    assert "job j1 is already erased" in again.stderr and "nothing to erase" in again.stderr


@pytest.mark.sqlite_only("SQLite's -wal file and a second sqlite3 reader (PG: test_postgres.py)")
def test_erase_again_empties_the_wal_a_reader_blocked(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(vault, sample_job("j1"))
    monkeypatch.setattr("vault.store._sqlite.BUSY_TIMEOUT_MS", 50)
    reader = sqlite3.connect(str(vault), isolation_level=None)  # another process, reading
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM blobs").fetchone()
    blocked = invoke(["erase", "j1", "--yes"])
    assert blocked.exit_code == 1
    assert "erase any one of these jobs again by its id" in blocked.stderr
    reader.execute("COMMIT")  # idle now, but still open: closing it would empty the WAL
    again = invoke(["erase", "j1", "--yes"])
    assert again.exit_code == 0, again.output
    assert "job j1 is already erased" in again.stderr
    assert Path(f"{vault}-wal").stat().st_size == 0
    data = b"".join(Path(f"{vault}{s}").read_bytes() for s in ("", "-wal", "-shm"))
    reader.close()
    for original in ORIGINALS:
        assert original.encode() not in data


def test_erase_older_than(vault: Path) -> None:
    clock = StepClock(start=1_000_000_000.0, step=0.0)  # long ago
    store(vault, sample_job("old1"), sample_job("old2"), clock=clock)
    store(vault, sample_job("new"))
    result = invoke(["erase", "--older-than", "30", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"erased": ["old1", "old2"], "already_erased": []}
    audit = json.loads(invoke(["audit", "--json", "--summary"]).stdout)
    assert audit["totals"]["by_status"] == {"archived": 1, "erased": 2}
    assert audit["totals"]["by_entity_type"]["PERSON_NAME"] == 3  # tombstones keep counts
    assert invoke(["verify"]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["erase"], 2, "JOB_ID... or --older-than DAYS"),
        (["erase", "j1", "--older-than", "3"], 2, "JOB_ID... or --older-than DAYS"),
        (["erase", "--older-than", "-1"], 2, "Invalid value for '--older-than'"),
        (["erase", "nope", "--yes"], 1, "no job nope in this vault"),
    ],
)
def test_erase_usage(vault: Path, args: list[str], code: int, message: str) -> None:
    store(vault, sample_job("j1"))
    result = invoke(args)
    assert result.exit_code == code
    assert message in result.stderr


# --------------------------------------------------------------------------- verify


def test_verify_ok_and_expect_head(vault: Path) -> None:
    store(vault, sample_job("j1"))
    head = invoke(["log", "--head"]).stdout.strip()
    result = invoke(["verify", "--expect-head", head])
    assert result.exit_code == 0, result.output
    assert "result:        ok" in result.stdout
    deep = alice(["verify", "--deep", "--json"])
    assert deep.exit_code == 0, deep.output
    data = json.loads(deep.stdout)
    assert data["ok"] is True and data["findings"] == []
    assert data["deep"] == {"checked": 1, "skipped": 0}
    assert data["head"] == head


@pytest.mark.sqlite_only("SQLite trigger DDL (PostgreSQL's: test_postgres.py, test_pg_roles.py)")
def test_verify_exit_5_on_a_log_entry_edited_with_triggers_dropped(vault: Path) -> None:
    store(vault, sample_job("j1"))
    with raw_db(vault) as db:
        db.execute("DROP TRIGGER access_log_no_update")
        db.execute("UPDATE access_log SET counts = '{}' WHERE action = 'fetch'")
    result = invoke(["verify"])
    assert result.exit_code == 5
    assert "result:        2 finding(s)" in result.stdout
    assert "[schema] trigger access_log_no_update is missing" in result.stdout
    assert re.search(r"\[log\] access log: entry \d+ was altered", result.stdout)
    assert "verify found 2 problem(s)" in result.stderr
    data = json.loads(invoke(["verify", "--json"]).stdout)
    assert data["ok"] is False
    assert sorted(f["check"] for f in data["findings"]) == ["log", "schema"]


@pytest.mark.sqlite_only("re-creates the trigger from sqlite_master; PostgreSQL: test_postgres.py")
def test_verify_expect_head_detects_a_truncated_log(vault: Path) -> None:
    store(vault, sample_job("j1"), sample_job("j2"))
    head = invoke(["log", "--head"]).stdout.strip()
    seq = int(head.split(":")[0])
    with raw_db(vault) as db:
        sql = db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'access_log_no_delete'"
        ).fetchone()[0]
        db.execute("DROP TRIGGER access_log_no_delete")
        db.execute("DELETE FROM access_log WHERE seq = ?", (seq,))
        db.execute(sql)
    # the shorter chain is still a chain, but the vault holds a job the log never archived
    plain = invoke(["verify"])
    assert plain.exit_code == 5
    assert "[state] job j2: job j2 is not in the access log" in plain.stdout
    assert "[log]" not in plain.stdout
    result = invoke(["verify", "--expect-head", head])
    assert result.exit_code == 5
    assert (
        f"[head] the log ends at entry {seq - 1} but entry {seq} was expected: "
        "the log was truncated or the vault rolled back"
    ) in result.stdout


@pytest.mark.sqlite_only("damages the SQLite file's header bytes")
def test_verify_exit_5_when_the_file_is_not_a_database_any_more(vault: Path) -> None:
    data = bytearray(vault.read_bytes())
    data[:16] = b"X" * 16
    vault.write_bytes(bytes(data))
    result = invoke(["verify"])
    assert result.exit_code == 5
    assert f"the vault does not verify: {vault} is damaged or not a questa-vault" in result.stderr


def test_verify_without_a_vault_is_exit_1(tmp_path: Path) -> None:
    result = invoke(["--vault", str(tmp_path / "none.db"), "verify"])
    assert result.exit_code == 1
    assert "no vault at" in result.stderr


def test_verify_rejects_a_malformed_head(vault: Path) -> None:
    result = invoke(["verify", "--expect-head", "12:abc"])
    assert result.exit_code == 1
    assert "SEQ:HASH" in result.stderr


# --------------------------------------------------------------------------- backup


def test_backup(vault: Path, tmp_path: Path) -> None:
    store(vault, sample_job("j1"))
    dest = tmp_path / "copy.db"
    result = invoke(["backup", str(dest)])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d+:[0-9a-f]{64}\n", result.stdout)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    again = invoke(["backup", str(dest)])
    assert again.exit_code == 1
    assert "already exists; refusing to overwrite it" in again.stderr
    check = invoke(["--vault", str(dest), "--user", "alice", "verify", "--deep"], env=ENV)
    assert check.exit_code == 0, check.output
    copy = invoke(["--vault", str(dest), "--user", "alice", "export", "j1", "-o", "-"], env=ENV)
    assert copy.stdout.encode() == sample_job().content
    assert [e.action for e in actions(vault, "backup")] == ["backup"]


@pytest.mark.sqlite_only("a SQLite trigger refuses the log entry after the copy is made")
def test_a_backup_whose_log_entry_is_refused_leaves_no_copy(vault: Path, tmp_path: Path) -> None:
    """The copy is staged and linked into place only once its log entry is committed: a
    refusal at that last step (here a trigger; on PostgreSQL the role guard, a lost
    connection) removes it, and nothing is left beside the destination either."""
    store(vault, sample_job("j1"))
    with raw_db(vault) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_backup BEFORE INSERT ON access_log "
            "WHEN NEW.action = 'backup' BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    backups = tmp_path / "backups"
    backups.mkdir()
    result = invoke(["backup", str(backups / "copy.db")])
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert list(backups.iterdir()) == []
    assert actions(vault, "backup") == []


# --------------------------------------------------------------------------- vs the simulator

CSV_DOCS = [
    b"name,email\nJohn Doe,john@example.com\nJane Smith,jane@example.org\n",
    b"who,phone,card\nMary Jones,+1 415 555 0100,4111 1111 1111 1111\n",
    b"note\nMeeting with Acme on 2024-05-01\nPaul Taylor paid\n",
]


def expected_counts(mapping: dict[str, str]) -> Counter:
    return Counter(re.fullmatch(r"\[(.+)_\d+\]", p).group(1) for p in set(mapping.values()))


def test_audit_numbers_equal_the_simulators_counts(vault: Path, tmp_path: Path) -> None:
    with run_simulator(SimulatorConfig(processing_time=60.0, progress_steps=0)) as sim:
        expected_types: Counter = Counter()
        expected_entities = {}
        ids = [sim.submit("csv", doc) for doc in CSV_DOCS]
        ids.append(sim.submit("pdf", b"%PDF-1.4 Phoenix", custom_entities=[("Phoenix", "PROJECT")]))
        failed = sim.submit("csv", b"a\nb\n")
        sim.state.fail(failed)
        for job_id in ids:
            sim.state.complete(job_id)
        for job_id in ids:
            view = sim.state.view(job_id)
            expected_types += expected_counts(dict(view.mapping))
            expected_entities[job_id] = view.entity_count
        text = "Call Alice Brown at alice@example.com or Bob at bob@example.com."
        (tmp_path / "note.txt").write_text(text)
        answer = httpx.post(f"{sim.url}/anonymize/text", json={"text": text}).json()
        expected_types += expected_counts(answer["map"])
        env = {**ENV, "QUESTA_API_URL": sim.url}
        fetched = invoke(["fetch", *ids, failed], env=env)
        assert fetched.exit_code == 3, fetched.output  # one failed job
        submitted = invoke(["submit", str(tmp_path / "note.txt")], env=env)
        assert submitted.exit_code == 0, submitted.output
    data = json.loads(invoke(["audit", "--json"]).stdout)
    assert data["totals"]["by_entity_type"] == dict(expected_types)
    assert sum(expected_types.values()) >= 10  # a mix worth comparing
    assert data["totals"]["by_status"] == {"archived": 5, "failed": 1}
    assert data["totals"]["by_file_type"] == {"csv": 4, "text": 1, "pdf": 1}
    per_job = {j["job_id"]: j["entity_count"] for j in data["jobs"]}
    for job_id, count in expected_entities.items():
        assert per_job[job_id] == count
    assert set(data["totals"]["by_entity_type"]) >= {"PERSON_NAME", "EMAIL_ADDRESS", "PROJECT"}
    deep = alice(["audit", "--deep", "--json", "--type", "csv", "--type", "text"])
    flags = {c["job_id"]: c["flags"] for c in json.loads(deep.stdout)["cross_check"]}
    assert all(
        "missing-from-map" not in f and "unused-map-entries" not in f for f in flags.values()
    )


# --------------------------------------------------------------------------- the playbook

PLAYBOOK = Path(__file__).resolve().parent.parent / "docs" / "audit.md"
PLAYBOOK_JOB = "550e8400-e29b-41d4-a716-446655440000"


def playbook_commands() -> list[list[str]]:
    """The `$ questa-vault ...` lines of docs/audit.md that run as written (no pipe,
    redirection, continuation or elided value)."""
    commands = []
    for line in PLAYBOOK.read_text(encoding="utf-8").splitlines():
        if (
            not line.startswith("$ questa-vault ")
            or any(c in line for c in "|>\\")
            or "..." in line
        ):
            continue
        commands.append(shlex.split(line[2:].split("  #")[0])[1:])
    return commands


def test_the_playbook_commands_run(vault: Path) -> None:
    commands = playbook_commands()
    assert len(commands) >= 10
    store(vault, sample_job(PLAYBOOK_JOB))
    for args in commands:
        result = invoke(args, env=ENV, input="y\n")
        assert result.exit_code == 0, (args, result.output)
    with Custodian.open(vault) as kr:
        assert kr.get_job(PLAYBOOK_JOB).status == "erased"
