"""The role layout of docs/team.md, run as written: the SQL blocks of the page are executed on
a real server, and each role can do exactly the commands the page gives it."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from conftest import FAST_KDF, invoke
from custody_kit import FAST, PASSPHRASE, sample_job
from pg_server import SUPERUSER, PostgresServer

import vault.store as store
from vault.custody import Custodian
from vault.errors import StoreError
from vault.lifecycle import erase, verify

TEAM_MD = (Path(__file__).resolve().parent.parent / "docs" / "team.md").read_text("utf-8")
ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}
ROLES = ("questa_admin", "questa_archiver", "questa_analyst")


def sql_block(title: str) -> str:
    """The fenced SQL block of docs/team.md whose first line is ``-- title``."""
    for block in re.findall(r"```sql\n(.*?)```", TEAM_MD, re.S):
        if block.startswith(f"-- {title}"):
            return block
    raise AssertionError(f"docs/team.md has no SQL block '-- {title}'")


@pytest.fixture
def team(pg_server: PostgresServer) -> dict[str, str]:
    """A vault made as the docs say: roles, a database the admin owns, init as the admin
    (alice and bob), then the grants block; the URL of each role."""
    for role in re.findall(r"CREATE ROLE (\w+) LOGIN", sql_block("roles")):
        pg_server.ensure_role(role)
    admin = pg_server.fresh_database(owner="questa_admin")
    assert invoke(["--vault", admin, "init", "--user", "alice", *FAST_KDF], env=ENV).exit_code == 0
    with Custodian.open(admin) as kr:
        kr.add_user("bob", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
        kr.store_job(sample_job("job-0"), actor="alice")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql_block("grants"))
    return {role: admin.replace("user=questa_admin", f"user={role}") for role in ROLES}


def test_the_docs_create_the_database_as_the_admin() -> None:
    assert "OWNER questa_admin" in sql_block("database")


def test_the_archiver_archives_and_can_do_nothing_else(team: dict[str, str]) -> None:
    with Custodian.open(team["questa_archiver"]) as kr:
        assert kr.record_pending(
            "job-p", file_type="csv", source="upload", submitted_at=1.0, filename="a.csv",
            options=None, actor="cron",
        )  # fmt: skip
        assert kr.store_job(sample_job("job-p"), actor="cron")  # pending -> archived
        assert kr.store_job(sample_job("job-1"), actor="cron")
        kr.mark_expired("job-1", actor="cron")
        assert verify(kr).ok
        with pytest.raises(StoreError, match="role may not"):
            kr.add_user("mallory", passphrase=PASSPHRASE, kdf=FAST, actor="cron")
        with pytest.raises(StoreError, match="role may not"):
            erase(kr, ["job-1"], actor="cron")
        with pytest.raises(StoreError, match="role may not"):
            kr.disable_user("bob", actor="cron")
        with pytest.raises(StoreError, match="role may not"), kr.db.write():
            kr.db.execute("UPDATE access_log SET action = 'x'")
        with pytest.raises(StoreError, match="role may not"), kr.db.write():
            kr.db.execute("DELETE FROM blobs WHERE job_id = 'job-0'")
    with Custodian.open(team["questa_admin"]) as kr:
        session = kr.unlock("alice", PASSPHRASE)
        assert session.open_job("job-p").content == sample_job("job-p").content
        assert verify(kr, session=session).ok


def test_the_analyst_reads_and_logs_and_can_do_nothing_else(team: dict[str, str]) -> None:
    env = {**ENV, "QUESTA_VAULT": team["questa_analyst"]}
    for args in (
        ["--user", "bob", "audit", "--deep"],
        ["--user", "bob", "verify", "--deep"],
        ["--user", "bob", "log"],
        ["--user", "bob", "show", "job-0", "--reveal"],
    ):
        result = invoke(args, env=env)
        assert result.exit_code == 0, (args, result.output)
    for args, message in (
        (["--user", "bob", "user", "add", "mallory", *FAST_KDF], "role may not"),
        (["--user", "bob", "revoke", "alice", "--all", "--force"], "role may not"),
        (["--user", "bob", "erase", "job-0", "--yes"], "role may not"),
    ):
        result = invoke(args, env={**env, "QUESTA_VAULT_NEW_PASSPHRASE": "pw " * 5}, input="y\n")
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1
    with Custodian.open(team["questa_analyst"]) as kr:
        with pytest.raises(StoreError, match="role may not"):
            kr.store_job(sample_job("job-9"), actor="bob")
        session = kr.unlock("bob", PASSPHRASE)
        session.change_passphrase("a new passphrase", FAST)
        assert kr.unlock("bob", "a new passphrase").user == "bob"
        assert [e.action for e in kr.log_entries(user="bob")][-1] == "passwd"


def test_the_admin_erases_and_vacuums(team: dict[str, str]) -> None:
    with Custodian.open(team["questa_admin"]) as kr:
        [done] = erase(kr, ["job-0"], actor="alice")
        assert done.blobs_deleted > 0
        store.vacuum(kr.db)
        assert verify(kr).ok


def test_nobody_rewrites_the_log(team: dict[str, str], pg_server: PostgresServer) -> None:
    for role in (*ROLES, SUPERUSER):
        url = team["questa_admin"].replace("user=questa_admin", f"user={role}")
        with psycopg.connect(url) as conn:
            with pytest.raises(psycopg.Error):
                conn.execute("DELETE FROM access_log")
            conn.rollback()
