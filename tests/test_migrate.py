"""``migrate``: SQLite -> PostgreSQL -> SQLite keeps every row, seal and log entry; running it
again changes nothing; a run killed half-way is finished by the next one; a destination
holding another vault is refused untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from conftest import FAST_KDF, invoke
from custody_kit import PASSPHRASE, new_vault, sample_job

from vault.custody import Custodian
from vault.lifecycle import erase
from vault.store import open_database, rows_digest

ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}


def filled(path: Path, jobs: int = 6) -> str:
    """A SQLite vault with archived, failed, pending and erased jobs; its rows digest."""
    with new_vault(path) as kr:
        for i in range(jobs):
            kr.store_job(sample_job(f"job-{i}"), actor="alice")
        kr.store_job(sample_job("job-f", status="failed", error="boom"), actor="alice")
        kr.record_pending(
            "job-p", file_type="csv", source="upload", submitted_at=1.0, filename="p.csv",
            options=None, actor="alice",
        )  # fmt: skip
        erase(kr, ["job-0"], actor="alice")
        return rows_digest(kr.db)


def digest(location) -> str:
    with open_database(location) as db:
        return rows_digest(db)


def test_round_trip_both_ways_keeps_every_row(tmp_path: Path, pg_url: str) -> None:
    src = tmp_path / "v.db"
    expected = filled(src)
    result = invoke(["migrate", str(src), pg_url])
    assert result.exit_code == 0, result.output
    assert "the copy verifies" in result.stderr
    assert "next: run the grants block of docs/team.md in that database" in result.stderr
    assert digest(pg_url) == expected
    back = tmp_path / "back.db"
    result = invoke(["migrate", pg_url, str(back), "--json"])
    assert result.exit_code == 0, result.output
    assert digest(back) == expected
    # --deep opens every job of the copy (and logs nothing there: see test_migrate_prefix)
    result = invoke(["--user", "alice", "migrate", pg_url, str(tmp_path / "d.db"), "--deep"],
                    env=ENV)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "7 seal(s) checked" in result.stderr
    with Custodian.open(tmp_path / "d.db") as kr:
        assert kr.log_entries()[-1].action == "erase"
    with Custodian.open(back) as kr:
        session = kr.unlock("alice", PASSPHRASE)
        assert session.open_job("job-3").content == sample_job("job-3").content
        assert kr.get_job("job-0").status == "erased"
    # The copy is a working vault: it takes new jobs after the copied ones.
    with Custodian.open(pg_url) as kr:
        assert kr.store_job(sample_job("job-new"), actor="alice")
        kr.verify_chain()


def test_migrate_again_is_idempotent(tmp_path: Path, pg_url: str) -> None:
    src = tmp_path / "v.db"
    expected = filled(src)
    for _ in range(2):
        assert invoke(["migrate", str(src), pg_url]).exit_code == 0
        assert digest(pg_url) == expected


def test_a_different_vault_at_the_destination_is_refused(tmp_path: Path, pg_url: str) -> None:
    filled(tmp_path / "a.db", jobs=1)
    new_vault(pg_url).close()
    before = digest(pg_url)
    result = invoke(["migrate", str(tmp_path / "a.db"), pg_url])
    assert result.exit_code == 1
    assert "holds a different vault" in result.stderr
    assert digest(pg_url) == before


def test_a_password_in_either_url_is_refused(tmp_path: Path) -> None:
    result = invoke(["migrate", str(tmp_path / "a.db"), "postgresql://u:pw@host/db"])
    assert result.exit_code == 1 and "carries a password" in result.stderr


def test_a_killed_migrate_resumes(tmp_path: Path, pg_url: str) -> None:
    src = tmp_path / "big.db"
    expected = filled(src, jobs=120)
    script = (
        "import sys, time\n"
        "from vault.custody import Custodian\n"
        "from vault.lifecycle import migrate\n"
        "with Custodian.open(sys.argv[1]) as kr:\n"
        "    migrate(kr, sys.argv[2], batch=5, on_jobs=lambda n: (print(n, flush=True),"
        " time.sleep(0.05)))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(src), pg_url], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if int(line) >= 30:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with psycopg.connect(pg_url) as conn:
        copied = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
    assert 30 <= copied < 127  # stopped half-way, whole batches only
    started = time.monotonic()
    result = invoke(["migrate", str(src), pg_url])
    assert result.exit_code == 0, result.output
    assert digest(pg_url) == expected
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("bad", ["nowhere.db"])
def test_a_missing_source_is_no_vault(tmp_path: Path, bad: str) -> None:
    result = invoke(["migrate", str(tmp_path / bad), str(tmp_path / "out.db")])
    assert result.exit_code == 1
    assert "no vault at" in result.stderr
    assert not (tmp_path / "out.db").exists()


def test_init_on_postgres_then_migrate_to_a_file(pg_url: str, tmp_path: Path) -> None:
    assert invoke(["--vault", pg_url, "init", "--user", "alice", *FAST_KDF], env=ENV).exit_code == 0
    result = invoke(["migrate", pg_url, str(tmp_path / "f.db")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "f.db").stat().st_mode & 0o777 == 0o600


def test_every_registered_command_is_in_the_lazy_table() -> None:
    """A command a module registers but the lazy table (``_app.COMMANDS``) does not name is
    unreachable from a fresh process ("No such command"): ``migrate`` was, once."""
    import importlib

    from vault.cli._app import COMMANDS, cli

    for module in set(COMMANDS.values()):
        importlib.import_module(module)
    assert set(cli.commands) <= set(COMMANDS)


def test_the_same_vault_spelled_differently_is_refused(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy onto the source itself rewrites the live vault with the snapshot it read (an
    erase committed meanwhile would be undone): refused by identity, whatever the spelling,
    nothing written."""
    src = tmp_path / "v.db"
    expected = filled(src, jobs=1)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.db").symlink_to(src)
    os.link(src, tmp_path / "hard.db")
    monkeypatch.chdir(tmp_path)
    for dest in ("v.db", f"{tmp_path}/sub/../v.db", "link.db", str(tmp_path / "hard.db")):
        result = invoke(["migrate", str(src), dest])
        assert result.exit_code == 1, (dest, result.output)
        assert "are the same vault" in result.stderr and result.stderr.count("\n") == 1
    assert digest(src) == expected
    assert invoke(["migrate", str(src), pg_url]).exit_code == 0
    before = digest(pg_url)
    base, query = pg_url.split("?", 1)
    spellings = [
        base + "?" + "&".join(reversed(query.split("&"))),
        pg_url + "&application_name=another-name",
    ]
    for dest in spellings:
        result = invoke(["migrate", pg_url, dest])
        assert result.exit_code == 1, (dest, result.output)
        assert "are the same vault" in result.stderr and result.stderr.count("\n") == 1
    assert digest(pg_url) == before
    # another database of the same server is not the same vault
    result = invoke(["migrate", pg_url, str(tmp_path / "copy.db")])
    assert result.exit_code == 0, result.output


def test_a_vault_migrated_by_a_newer_version_says_which_migration_and_what_to_do(
    cli_vault: Path | str,
) -> None:
    """A branch's (or a newer release's) migration makes the vault unreadable here: the
    refusal names the migration, this version and the ways out, and changes nothing."""
    from custody_kit import raw_db

    env = {"QUESTA_VAULT_PASSPHRASE": "pass phrase"}
    assert invoke(["init", "--user", "alice", *FAST_KDF], env=env).exit_code == 0
    with raw_db(cli_vault) as db:
        db.execute(
            "INSERT INTO schema_migrations (id, name, applied_at) VALUES (99, 'm099_job_label', 0)"
        )
    from vault._version import __version__

    for args in (["jobs"], ["audit"]):
        result = invoke(args, env=env)
        assert result.exit_code == 1, result.output
        assert result.stderr == (
            "questa-vault: this vault was written by a newer or different version of "
            f"questa-vault: it has migration(s) that version {__version__} does not know "
            "(m099_job_label); use the version that migrated it, or a backup taken before "
            "(nothing was changed)\n"
        )
