"""The role layout of docs/team.md, run as written: the SQL blocks of the page are executed on
a real server, and each role can do exactly the commands the page gives it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import FAST_KDF, invoke
from custody_kit import FAST, PASSPHRASE, sample_job
from pg_server import SUPERUSER, PostgresServer

import vault.store as store
from vault.custody import Custodian, _log
from vault.errors import StoreError
from vault.lifecycle import erase, verify
from vault.models import LOG_ACTIONS
from vault.simulator import SimulatorConfig, run_simulator

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
    name = admin.split("?")[0].rsplit("/", 1)[1]
    for statement in sql_block("database").split(";"):
        if statement.strip() and "CREATE DATABASE" not in statement:
            pg_server.admin(statement.replace(" questa ", f' "{name}" '))
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


# ----------------------------------------------------------------- functions and search paths
# A role that can fire a trigger must not be able to make its function use a relation of the
# role's own: a TEMP table of the same name (pg_temp is searched first for relations unless
# named last), in front of a vault table.

SHADOW = """
CREATE FUNCTION pg_temp.pwn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'shadow table used as %', current_user;
END $$;
"""


def test_every_function_of_the_vault_fixes_its_search_path(team: dict[str, str]) -> None:
    """The class: every function in the vault's schema (the migrations', PostgreSQL's extras,
    the docs' own) runs with ``pg_catalog, pg_temp``, so a relation it names without a
    schema cannot be a temporary one."""
    with psycopg.connect(team["questa_admin"]) as conn:
        rows = conn.execute(
            "SELECT p.proname, p.proconfig FROM pg_proc p "
            "WHERE p.pronamespace = 'public'::regnamespace"
        ).fetchall()
    assert len(rows) >= 5
    fixed = ["search_path=pg_catalog, pg_temp"]
    assert {name: config for name, config in rows if config != fixed} == {}


def test_the_docs_refuse_temporary_tables_to_the_roles(team: dict[str, str]) -> None:
    for role in ("questa_archiver", "questa_analyst"):
        with psycopg.connect(team[role]) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TEMP TABLE jobs (job_id text)")


# What each role may do that fires a trigger: (statement, None if it must succeed, else the
# error it must fail with; never the shadow's).
FIRING: dict[str, list[tuple[str, str | None]]] = {
    "questa_archiver": [
        ("UPDATE public.jobs SET updated_at = updated_at WHERE status = 'pending'", None),
        ("DELETE FROM public.blobs WHERE job_id = 'job-0'", "only writes what it is archiving"),
        ("DELETE FROM public.grants WHERE job_id = 'job-0'", "only writes what it is archiving"),
        ("UPDATE public.jobs SET status = 'expired' WHERE job_id = 'job-0'", "only archives"),
        ("INSERT INTO public.access_log (seq, time, \"user\", action, counts, prev_hash, "
         "entry_hash) VALUES (1, 0, 'x', 'submit', '{}', 'x', 'x')", "does not follow its head"),
    ],
    "questa_analyst": [
        ("INSERT INTO public.access_log (seq, time, \"user\", action, counts, prev_hash, "
         "entry_hash) VALUES (1, 0, 'x', 'export', '{}', 'x', 'x')", "does not follow its head"),
    ],
}  # fmt: skip


@pytest.mark.parametrize("role", FIRING)
def test_a_temporary_table_cannot_stand_in_for_a_vault_table(
    team: dict[str, str], pg_server: PostgresServer, role: str
) -> None:
    """The attack of the review, for every table at once: with TEMPORARY granted back (the
    docs revoke it; this tests the functions themselves), the role shadows every vault table
    with a temporary one that holds rows to fool a guard and a trigger that fails loudly if
    anything writes to it, then does everything it may that fires a trigger. No shadow is
    used, the guards hold, and the role gained nothing."""
    name = team[role].split("?")[0].rsplit("/", 1)[1]
    pg_server.admin(f'GRANT TEMPORARY ON DATABASE "{name}" TO {role}')
    with Custodian.open(team["questa_admin"]) as kr:
        kr.record_pending(
            "job-p", file_type="csv", source="upload", submitted_at=1.0, filename="a.csv",
            options=None, actor="cron",
        )  # fmt: skip
        tables = kr.db.tables()
        head_before = kr.verify_chain()
    with psycopg.connect(team[role], autocommit=True) as conn:
        conn.execute(SHADOW)
        for table in tables:
            conn.execute(f"CREATE TEMP TABLE {table} (LIKE public.{table})")
            conn.execute(f"GRANT ALL ON pg_temp.{table} TO PUBLIC")
            conn.execute(
                f"CREATE TRIGGER pwn BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON "
                f"pg_temp.{table} FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.pwn()"
            )
        for statement, refusal in FIRING[role]:
            if refusal is None:
                assert conn.execute(statement).rowcount == 1, statement
                continue
            with pytest.raises(psycopg.Error) as caught, conn.transaction():
                # rows that would let the archiver's guard pass if it read them: every job,
                # pending, written by this very transaction (the guard's xmin test)
                conn.execute("ALTER TABLE pg_temp.jobs DISABLE TRIGGER pwn")
                conn.execute("INSERT INTO pg_temp.jobs SELECT * FROM public.jobs")
                conn.execute("UPDATE pg_temp.jobs SET status = 'pending'")
                conn.execute("ALTER TABLE pg_temp.jobs ENABLE TRIGGER pwn")
                conn.execute(statement)
            assert refusal in str(caught.value), (statement, str(caught.value))
        for table in ("users", "access_log", "blobs", "grants"):
            for privilege in ("INSERT", "DELETE"):
                held = conn.execute(
                    "SELECT has_table_privilege(%s, %s)", (f"public.{table}", privilege)
                ).fetchone()
                if (table, privilege) not in {("blobs", "INSERT"), ("grants", "INSERT"),
                                              ("blobs", "DELETE"), ("grants", "DELETE"),
                                              ("access_log", "INSERT")}:  # fmt: skip
                    assert held == (False,), (table, privilege)
    with Custodian.open(team["questa_admin"]) as kr:
        assert kr.db.log_guarded()
        assert kr.verify_chain() == head_before
        assert (
            kr.db.count("blobs")
            and kr.db.query("SELECT count(*) FROM blobs WHERE job_id = 'job-0'")[0][0]
        )
        assert verify(kr).ok


# ----------------------------------------------------------------- what each role may log
ARCHIVING = {"submit", "fetch", "expire"}
RELEASES = {"restore", "export", "show", "audit-deep", "verify-deep", "backup", "passwd"}
# The archiver's actions only beside the job row they record (see the test below): an entry
# alone is refused like any other.
MAY_LOG = {"questa_archiver": set(), "questa_analyst": RELEASES}


class _RolledBack(Exception):
    pass


def _try_log(
    url: str, action: str, *, user: str = "alice", subject: str | None = None,
    job_id: str | None = None, when: float | None = None,
) -> str:  # fmt: skip
    """Append one correctly chained entry over the role's own connection (as a hostile host
    could, with the tool's own code), then roll it back; 'ok' or the error."""
    with Custodian.open(url) as kr:
        try:
            with kr.db.write():
                _log.append(
                    kr.db, vault_id=kr.vault_id, time=time.time() if when is None else when,
                    user=user, action=action, job_id=job_id, counts={}, subject=subject,
                    facts={},
                )  # fmt: skip
                raise _RolledBack
        except _RolledBack:
            return "ok"
        except StoreError as exc:
            return str(exc)


@pytest.mark.parametrize("role", MAY_LOG)
def test_each_role_logs_only_the_actions_of_its_job(team: dict[str, str], role: str) -> None:
    """The class of forged entries: every action the role's commands never write (a
    user-disable of the admin, an erase, a grant...) is refused by the server, whatever the
    entry says; the role's own actions are accepted."""
    outcome = {action: _try_log(team[role], action, subject="alice") for action in LOG_ACTIONS}
    assert {a for a, result in outcome.items() if result == "ok"} == MAY_LOG[role], outcome
    for action, result in outcome.items():
        if action not in MAY_LOG[role]:
            assert "role may not" in result, (action, result)
    with Custodian.open(team["questa_admin"]) as kr:
        assert verify(kr).ok


def test_the_archiver_logs_only_beside_the_job_row_it_writes(team: dict[str, str]) -> None:
    """The review's brick: correctly chained ``fetch``/``submit``/``expire`` entries naming an
    archived job (every release then says "archived twice") or a job that does not exist
    (verify fails for good). The guard takes an archiving entry only with the row change it
    records in the same transaction; archiving itself still works."""
    archiver = team["questa_archiver"]
    for action in sorted(ARCHIVING):
        for job_id in ("job-0", "job-ghost"):
            result = _try_log(archiver, action, user="cron", job_id=job_id)
            assert "role may not" in result or "only with the job row" in result, (
                action, job_id, result,
            )  # fmt: skip
    with Custodian.open(archiver) as kr:
        assert kr.record_pending(
            "job-p", file_type="csv", source="upload", submitted_at=1.0, filename="a.csv",
            options=None, actor="cron",
        )  # fmt: skip
        assert kr.store_job(sample_job("job-p"), actor="cron")
        assert kr.store_job(sample_job("job-2"), actor="cron")
        assert kr.record_pending(
            "job-e", file_type="csv", source="upload", submitted_at=1.0, filename=None,
            options=None, actor="cron",
        )  # fmt: skip
        kr.mark_expired("job-e", actor="cron")
    with Custodian.open(team["questa_admin"]) as kr:
        session = kr.unlock("alice", PASSPHRASE)
        assert session.open_job("job-0").content == sample_job("job-0").content
        assert verify(kr, session=session).ok


ARCHIVER_ROW_ATTACKS = {
    # a copy of bob's sealed key as a grant for a user who never had one: a plain INSERT
    "grant inserted": (
        "INSERT INTO grants (job_id, user_id, key_version, sealed_dek, created_at) "
        "SELECT job_id, (SELECT id FROM users WHERE name = 'carol'), key_version, sealed_dek, "
        "created_at FROM grants WHERE job_id = 'job-0' "
        "AND user_id = (SELECT id FROM users WHERE name = 'bob')"
    ),
    # one more chunk of copied ciphertext (keyless verify saw nothing of this one)
    "blob inserted": (
        "INSERT INTO blobs (job_id, field, idx, key_version, data) SELECT job_id, field, "
        "idx + 1, key_version, data FROM blobs WHERE job_id = 'job-0' AND field = 'map'"
    ),
    # a pending job's grant (its row written in this transaction) moved onto the archived job
    "grant moved": (
        "UPDATE jobs SET status = status WHERE job_id = 'job-p'; "
        "UPDATE grants SET job_id = 'job-0', user_id = (SELECT id FROM users "
        "WHERE name = 'carol') WHERE job_id = 'job-p'"
    ),
    "blob moved": (
        "UPDATE jobs SET status = status WHERE job_id = 'job-p'; "
        "UPDATE blobs SET job_id = 'job-0', idx = idx + 100 WHERE job_id = 'job-p'"
    ),
    # a pending job renamed (its grants and blobs would follow it nowhere)
    "job renamed": "UPDATE jobs SET job_id = 'job-q' WHERE job_id = 'job-p'",
}


@pytest.mark.parametrize("attack", ARCHIVER_ROW_ATTACKS)
def test_the_archiver_cannot_touch_an_archived_job_through_any_statement(
    team: dict[str, str], attack: str
) -> None:
    """The class of a guard that covers some of the statements a role holds: every INSERT,
    UPDATE (old and new job id) and DELETE the archiver may run on grants and blobs is
    checked, so an archived job's rows stay as archived (each of these made job-0
    unreadable, for every holder, until the admin deleted the rows)."""
    with Custodian.open(team["questa_admin"]) as kr:
        kr.add_user("carol", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
        kr.store_job(sample_job("job-p"), actor="alice")  # blobs and grants to move...
    with psycopg.connect(team["questa_admin"], autocommit=True) as conn:
        conn.execute("UPDATE jobs SET status = 'pending' WHERE job_id = 'job-p'")  # ...pending
    with psycopg.connect(team["questa_archiver"]) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute(ARCHIVER_ROW_ATTACKS[attack])
    with Custodian.open(team["questa_admin"]) as kr:
        session = kr.unlock("alice", PASSPHRASE)
        assert session.open_job("job-0").content == sample_job("job-0").content
        bob = kr.unlock("bob", PASSPHRASE)
        assert bob.open_job("job-0").content == sample_job("job-0").content


def test_an_entry_timed_far_from_the_servers_clock_is_refused(
    team: dict[str, str], pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's backdated release: a personal analyst role logs its export of job-0 in
    its own name, correctly chained, dated 2020 (``log --since`` of the incident missed it),
    or 1e300 (``log`` failed for everyone). The chain trigger holds every role but the
    table's owner to the server's clock, within 5 minutes; the time is in the hashed entry,
    so it is refused, never rewritten."""
    pg_server.ensure_role("bob")
    pg_server.admin("GRANT questa_analyst TO bob")
    bob = team["questa_analyst"].replace("user=questa_analyst", "user=bob")
    monkeypatch.setattr(_log, "LAST_LOG_TIME", float("inf"))  # a client without the check
    for role_url, user in ((bob, "bob"), (team["questa_archiver"], "cron")):
        action = "export" if user == "bob" else "submit"
        for when in (1577836800.0, time.time() - 400, time.time() + 400, 1e300):
            with Custodian.open(role_url) as kr:
                with pytest.raises(StoreError, match="more than 5 minutes from the server"):
                    with kr.db.write():
                        _log.append(
                            kr.db, vault_id=kr.vault_id, time=when, user=user, action=action,
                            job_id="job-0", counts={}, facts={},
                        )  # fmt: skip
    assert _try_log(bob, "export", user="bob", job_id="job-0", when=time.time() - 60) == "ok"
    # the owner (the admin; migrate copies old entries as the owner) is not held to it
    assert _try_log(team["questa_admin"], "export", job_id="job-0", when=1577836800.0) == "ok"


def test_an_entry_off_the_chain_is_refused_for_every_role(team: dict[str, str]) -> None:
    for role in ROLES:
        with psycopg.connect(team[role]) as conn:
            seq, digest = conn.execute(
                "SELECT seq, entry_hash FROM access_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            for bad_seq, prev in ((seq + 1, "x"), (seq + 2, digest), (seq, digest)):
                with pytest.raises(psycopg.Error) as caught:
                    conn.execute(
                        'INSERT INTO access_log (seq, time, "user", action, counts, prev_hash, '
                        "entry_hash) VALUES (%s, 0, 'bob', 'export', '{}', %s, 'x')",
                        (bad_seq, prev),
                    )
                conn.rollback()
                assert "does not follow its head" in str(caught.value), (role, bad_seq)


def test_an_analyst_with_a_role_of_their_own_acts_only_as_themselves(
    team: dict[str, str], pg_server: PostgresServer
) -> None:
    pg_server.ensure_role("bob")
    pg_server.admin("GRANT questa_analyst TO bob")
    bob = team["questa_admin"].replace("user=questa_admin", "user=bob")
    assert _try_log(bob, "export", user="bob") == "ok"
    assert "role may not" in _try_log(bob, "export", user="alice")
    assert "role may not" in _try_log(bob, "passwd", user="bob", subject="alice")
    with psycopg.connect(bob) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE users SET kdf_passes = kdf_passes + 1 WHERE name = 'alice'")
    env = {**ENV, "QUESTA_VAULT": bob, "QUESTA_VAULT_NEW_PASSPHRASE": "bob's new passphrase"}
    result = invoke(["--user", "bob", "passwd"], env=env)
    assert result.exit_code == 0, result.output
    result = invoke(["--user", "bob", "export", "job-0", "-o", "-"], env={**env, **{
        "QUESTA_VAULT_PASSPHRASE": "bob's new passphrase"}})  # fmt: skip
    assert result.exit_code == 0, result.output
    with Custodian.open(team["questa_admin"]) as kr:
        assert verify(kr).ok


def test_a_personal_role_stays_itself_after_set_role(
    team: dict[str, str], pg_server: PostgresServer
) -> None:
    """A personal analyst role may SET ROLE to the shared questa_analyst (its membership allows
    it): current_user changes, the login role does not, and the guards decide by the login
    role. Neither entries in another name, a passwd for another user nor their users row."""
    pg_server.ensure_role("bob")
    pg_server.admin("GRANT questa_analyst TO bob")
    bob = team["questa_admin"].replace("user=questa_admin", "user=bob")
    as_shared = bob + "&options=-c%20role%3Dquesta_analyst"
    with psycopg.connect(as_shared) as conn:
        assert conn.execute("SELECT current_user, session_user").fetchone() == (
            "questa_analyst", "bob",
        )  # fmt: skip
    assert _try_log(as_shared, "export", user="bob") == "ok"
    assert "role may not" in _try_log(as_shared, "export", user="alice")
    assert "role may not" in _try_log(as_shared, "passwd", user="alice", subject="alice")
    assert "role may not" in _try_log(as_shared, "passwd", user="bob", subject="alice")
    with psycopg.connect(bob) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SET ROLE questa_analyst")
        conn.execute("UPDATE users SET kdf_passes = kdf_passes + 1 WHERE name = 'alice'")
    with Custodian.open(team["questa_admin"]) as kr:
        assert verify(kr).ok


# ----------------------------------------------------------------- refused before anything is sent


@pytest.fixture
def sim() -> Iterator[Any]:
    with run_simulator(SimulatorConfig(processing_time=0.05, progress_steps=2)) as s:
        yield s


def test_a_role_that_may_not_archive_sends_and_polls_nothing(
    team: dict[str, str], sim: Any, tmp_path: Path
) -> None:
    """submit, fetch and sync under the analyst role stop before the first request, one line,
    exit 1 (the file would otherwise reach the service and its result be lost)."""
    with Custodian.open(team["questa_admin"]) as kr:
        kr.record_pending(
            "job-p", file_type="csv", source="upload", submitted_at=1.0, filename="a.csv",
            options=None, actor="cron", api_url=sim.url,
        )  # fmt: skip
    notes = tmp_path / "notes.txt"
    notes.write_text("John Doe wrote this\n")
    env = {**ENV, "QUESTA_VAULT": team["questa_analyst"], "QUESTA_API_URL": sim.url}
    for args in (["submit", str(notes)], ["fetch", "job-p"], ["sync"]):
        result = invoke(["--user", "bob", *args], env=env)
        assert result.exit_code == 1, (args, result.output)
        assert "may not archive (no INSERT on jobs, UPDATE on jobs" in result.stderr, args
        assert result.stderr.count("\n") == 1, result.stderr
    assert sim.state.request_counts() == {}
    with Custodian.open(team["questa_admin"]) as kr:
        kr.mark_expired("job-p", actor="alice")
    result = invoke(["--user", "bob", "sync"], env=env)  # nothing pending: refused all the same
    assert result.exit_code == 1, result.output
    assert "may not archive (no INSERT on jobs, UPDATE on jobs" in result.stderr
    env["QUESTA_VAULT"] = team["questa_archiver"]
    result = invoke(["--user", "cron", "submit", str(notes)], env=env)
    assert result.exit_code == 0, result.output


def test_an_archiver_that_could_not_record_the_job_sends_nothing(
    team: dict[str, str], sim: Any, tmp_path: Path
) -> None:
    """A SELECT on users limited to some columns (an old tip of team.md) let submit upload the
    file and then fail to record it ("accepted but not recorded": the job was lost). The
    check before the first request asks for what recording reads: whole-table SELECT."""
    with psycopg.connect(team["questa_admin"], autocommit=True) as conn:
        conn.execute("REVOKE SELECT ON users FROM questa_archiver")
        conn.execute("GRANT SELECT (name, enabled, public_key) ON users TO questa_archiver")
    notes = tmp_path / "notes.txt"
    notes.write_text("John Doe wrote this\n")
    env = {**ENV, "QUESTA_VAULT": team["questa_archiver"], "QUESTA_API_URL": sim.url}
    result = invoke(["--user", "cron", "submit", str(notes)], env=env)
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "questa-vault: the database role may not archive (no SELECT on users): submit, fetch "
        "and sync need the archiver or admin role (docs/team.md); nothing was sent\n"
    )
    assert sim.state.request_counts() == {}


def test_before_the_grants_the_roles_are_told_to_run_them(pg_server: PostgresServer) -> None:
    """After init (or a migrate into a new database) and before the grants block, every
    command of the other roles says which step is missing."""
    for role in ROLES:
        pg_server.ensure_role(role)
    admin = pg_server.fresh_database(owner="questa_admin")
    assert invoke(["--vault", admin, "init", "--user", "alice", *FAST_KDF], env=ENV).exit_code == 0
    for role in ("questa_archiver", "questa_analyst"):
        url = admin.replace("user=questa_admin", f"user={role}")
        for args in (["jobs"], ["sync"], ["log"]):
            result = invoke(
                ["--vault", url, *args], env={**ENV, "QUESTA_API_URL": "http://127.0.0.1:9"}
            )
            assert result.exit_code == 1, result.output
            assert "run the grants of docs/team.md" in result.stderr, result.stderr


def test_a_read_only_role_is_refused_backup_and_deep_verify_before_doing_anything(
    team: dict[str, str], pg_server: PostgresServer, tmp_path: Path
) -> None:
    """An auditor with SELECT only: backup leaves no unlogged copy, verify --deep is exit 1
    (a permission problem), not an integrity finding."""
    pg_server.ensure_role("questa_auditor")
    with psycopg.connect(team["questa_admin"], autocommit=True) as conn:
        conn.execute(sql_block("auditor"))  # as docs/team.md gives it
    env = {**ENV, "QUESTA_VAULT": team["questa_admin"].replace("=questa_admin", "=questa_auditor")}
    result = invoke(["--user", "bob", "backup", str(tmp_path / "b.db")], env=env)
    assert result.exit_code == 1, result.output
    assert "may not write the access log: backup needs" in result.stderr
    assert not (tmp_path / "b.db").exists()
    result = invoke(["--user", "bob", "verify", "--deep"], env=env)
    assert result.exit_code == 1, result.output
    assert "may not write the access log: verify --deep needs" in result.stderr
    assert invoke(["verify"], env=env).exit_code == 0


def test_a_backup_or_deep_verify_the_role_guard_refuses_does_nothing(
    team: dict[str, str], pg_server: PostgresServer, tmp_path: Path
) -> None:
    """The role guard's rules (a personal role acting under another name, the archiver
    logging a backup) refuse backup and verify --deep before anything is copied or
    decrypted: one line naming the reason, exit 1, no file, no integrity finding."""
    pg_server.ensure_role("bob")
    pg_server.admin("GRANT questa_analyst TO bob")
    bob = team["questa_admin"].replace("user=questa_admin", "user=bob")
    backups = tmp_path / "backups"
    backups.mkdir()
    for url, user, reason in (
        (bob, "alice", "role bob may act only as vault user bob"),
        (team["questa_archiver"], "cron", "role questa_archiver may not log backup"),
    ):
        result = invoke(["--vault", url, "--user", user, "backup", str(backups / "b.db")])
        assert result.exit_code == 1, result.output
        assert reason in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert list(backups.iterdir()) == []
    result = invoke(["--vault", bob, "--user", "alice", "verify", "--deep"], env=ENV)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr == (
        "questa-vault: the database role may not do this (permission denied: role bob may act "
        "only as vault user bob)\n"
    )
    with Custodian.open(team["questa_admin"]) as kr:
        assert [e.action for e in kr.log_entries(action="backup")] == []
        assert [e.action for e in kr.log_entries(action="verify-deep")] == []
    result = invoke(["--vault", bob, "--user", "bob", "backup", str(backups / "b.db")])
    assert result.exit_code == 0, result.output
    assert [p.name for p in backups.iterdir()] == ["b.db"]
    result = invoke(["--vault", bob, "--user", "bob", "verify", "--deep"], env=ENV)
    assert result.exit_code == 0, result.output


def test_init_and_migrate_into_a_database_the_admin_does_not_own_say_so(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    """A database created without OWNER questa_admin: init and migrate were refused with
    "permission denied for schema public" and no hint; they now say the missing step."""
    pg_server.ensure_role("questa_admin")
    superuser = pg_server.fresh_database()
    admin = superuser.replace(f"user={SUPERUSER}", "user=questa_admin")
    source = tmp_path / "v.db"
    assert invoke(["--vault", str(source), "init", "--user", "alice", *FAST_KDF], env=ENV)
    for args in (
        ["--vault", admin, "init", "--user", "alice", *FAST_KDF],
        ["migrate", str(source), admin],
    ):
        result = invoke(args, env=ENV)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.count("\n") == 1, result.stderr
        assert "permission denied for schema public" in result.stderr
        assert "CREATE DATABASE name OWNER questa_admin" in result.stderr, result.stderr


def test_a_role_that_may_not_is_told_before_any_prompt(team: dict[str, str]) -> None:
    """grant, revoke, erase and user add under a role that may not: the refusal comes first,
    not after a passphrase was asked (and derived) or a confirmation shown."""
    analyst, archiver = team["questa_analyst"], team["questa_archiver"]
    with Custodian.open(team["questa_admin"]) as kr:
        before = kr.log_head()
    for url, args, reason in (
        (analyst, ["grant", "alice", "--all"], "(no INSERT on grants, UPDATE on jobs)"),
        (analyst, ["revoke", "alice", "--all"], "(no DELETE on grants, INSERT on grants"),
        (analyst, ["erase", "job-0"], "(no DELETE on grants, DELETE on blobs"),
        (analyst, ["user", "add", "zed"], "(no INSERT on users): user-add needs the admin"),
        (archiver, ["grant", "alice", "--all"], "role questa_archiver may not log grant"),
    ):
        result = invoke(["--vault", url, "--user", "bob", *args], input="y\n")
        assert result.exit_code == 1, (args, result.output)
        assert reason in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1, (args, result.stderr)
        assert "assphrase" not in result.output and "Erase" not in result.output, args
    with Custodian.open(team["questa_admin"]) as kr:
        assert kr.log_head() == before
