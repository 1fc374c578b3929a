"""The PostgreSQL backend against a real throwaway server: the schema follows every migration,
append-only holds, concurrent writers never fork the log, credentials never come from the
command line, and every kind of bad input is one line with its exit code, nothing written."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import FAST_KDF, invoke
from custody_kit import FAST, PASSPHRASE, new_vault, sample_job
from pg_server import PASSWORD_ROLE, SUPERUSER, PostgresServer

from vault.custody import Custodian
from vault.errors import IntegrityError, StoreError, VaultAccessDenied, VaultNotFound
from vault.lifecycle import backup, verify
from vault.store import MIGRATIONS, DatabaseUrl, open_database
from vault.store._pg_schema import postgres_migration, postgres_statements
from vault.store._postgres import PostgresDatabase

ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}


def test_every_migration_translates() -> None:
    for _, statements in MIGRATIONS:
        for sql in statements:
            assert postgres_migration([sql])


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE jobs",
        "CREATE VIEW v AS SELECT 1",
        "CREATE TRIGGER t AFTER INSERT ON jobs BEGIN UPDATE jobs SET status = 'x'; END",
    ],
)
def test_an_untranslatable_statement_fails_loudly(sql: str) -> None:
    with pytest.raises(NotImplementedError, match="no PostgreSQL translation"):
        postgres_statements(sql)


def test_the_schema_matches_the_migrations(pg_url: str) -> None:
    with new_vault(pg_url) as kr:
        assert kr.db.schema_problems() == []
        assert kr.db.migrations() == [name for name, _ in MIGRATIONS]
        assert verify(kr).ok


NOOP = (
    "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
    "SET search_path = pg_catalog, pg_temp AS $b$ BEGIN RETURN NEW; END $b$"
)
# Ways the owner could neutralise a guard of the log without dropping it; each must make the
# check before every release fail and be a schema finding of verify.
NEUTRALISED: dict[str, tuple[list[str], str]] = {
    "dropped": (["DROP TRIGGER access_log_no_update ON access_log"],
                "trigger access_log_no_update is missing"),
    "disabled": (["ALTER TABLE access_log DISABLE TRIGGER access_log_no_delete"],
                 "trigger access_log_no_delete is disabled or fires only on replicas"),
    "replica only": (["ALTER TABLE access_log ENABLE REPLICA TRIGGER access_log_no_update"],
                     "trigger access_log_no_update is disabled or fires only on replicas"),
    "truncate guard disabled": (
        ["ALTER TABLE access_log DISABLE TRIGGER access_log_no_delete_truncate"],
        "trigger access_log_no_delete_truncate is disabled or fires only on replicas"),
    "function body replaced": ([NOOP.format(name="access_log_no_update_fn")],
                               "trigger access_log_no_update calls an altered function"),
    "function runs as its owner": (["ALTER FUNCTION access_log_no_delete_fn() SECURITY DEFINER"],
                                   "trigger access_log_no_delete calls an altered function"),
    "function search path": (["ALTER FUNCTION access_log_chain_fn() SET search_path = public"],
                             "trigger access_log_chain calls an altered function"),
    "another function": (
        [NOOP.format(name="public.noop"),
         "CREATE OR REPLACE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
         "FOR EACH ROW EXECUTE FUNCTION noop()"],
        "trigger access_log_no_update calls an altered function"),
    "never fires (WHEN)": (
        ["CREATE OR REPLACE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
         "FOR EACH ROW WHEN (false) EXECUTE FUNCTION access_log_no_update_fn()"],
        "trigger access_log_no_update does not fire as defined"),
    "one column only": (
        ["CREATE OR REPLACE TRIGGER access_log_no_update BEFORE UPDATE OF seq ON access_log "
         "FOR EACH ROW EXECUTE FUNCTION access_log_no_update_fn()"],
        "trigger access_log_no_update does not fire as defined"),
    "chain check dropped": (["DROP TRIGGER access_log_chain ON access_log"],
                            "trigger access_log_chain is missing"),
    "a rule": (["CREATE RULE quiet AS ON INSERT TO access_log WHERE NEW.action = 'export' "
                "DO INSTEAD NOTHING"],
               "table access_log has rules (they could rewrite or drop entries)"),
}  # fmt: skip


@pytest.mark.parametrize("sql, problem", NEUTRALISED.values(), ids=NEUTRALISED.keys())
def test_a_neutralised_log_guard_stops_releases_and_fails_verify(
    pg_url: str, sql: list[str], problem: str
) -> None:
    with new_vault(pg_url) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
        assert kr.db.log_guarded()
        with psycopg.connect(pg_url) as conn:
            for statement in sql:
                conn.execute(statement)
        assert not kr.db.log_guarded()
        assert problem in kr.db.schema_problems()
        assert not verify(kr).ok
        session = kr.unlock("alice", PASSPHRASE)
        with pytest.raises(IntegrityError, match="append-only triggers"):
            session.open_job("job-1")


def test_the_audit_trigger_is_checked_too(pg_url: str) -> None:
    with new_vault(pg_url) as kr:
        with psycopg.connect(pg_url) as conn:
            conn.execute("ALTER TABLE jobs ENABLE REPLICA TRIGGER jobs_audit_entity_counts")
        assert kr.db.log_guarded()  # not a guard of the log
        assert kr.db.schema_problems() == [
            "trigger jobs_audit_entity_counts is disabled or fires only on replicas"
        ]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE access_log SET action = 'x'",
        "DELETE FROM access_log",
        "TRUNCATE access_log",
    ],
)
def test_the_access_log_is_append_only(pg_url: str, sql: str) -> None:
    new_vault(pg_url).close()
    with psycopg.connect(pg_url) as conn, pytest.raises(psycopg.errors.RaiseException) as info:
        conn.execute(sql)
    assert "append-only" in str(info.value)


OLD_AUDIT_FUNCTION = """
CREATE OR REPLACE FUNCTION jobs_audit_entity_counts_fn() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $body$
BEGIN
    DELETE FROM audit_entity_counts WHERE job_id = NEW.job_id;
    RETURN NULL;
END $body$
"""


def test_opening_a_vault_of_before_migration_4_fixes_its_functions(pg_url: str) -> None:
    """A vault made before migration 4 (the audit function looked its table up by search
    path, no chain check) is brought up to date when its owner opens it; until then verify and
    the check before every release report it."""
    with new_vault(pg_url) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
    with psycopg.connect(pg_url) as conn:
        conn.execute(OLD_AUDIT_FUNCTION)
        conn.execute("DROP TRIGGER access_log_chain ON access_log")
        conn.execute("DROP FUNCTION access_log_chain_fn()")
        conn.execute("ALTER FUNCTION access_log_no_update_fn() RESET search_path")
        conn.execute("DELETE FROM schema_migrations WHERE name = 'm004_postgres_guards'")
        # and what the later migrations made (a vault of before migration 4 has none of it)
        conn.execute("DELETE FROM schema_migrations WHERE name = 'm005_job_id_rule'")
        for trigger in ("jobs_id_rule", "jobs_id_rule_update"):
            conn.execute(f"DROP TRIGGER {trigger} ON jobs")
            conn.execute(f"DROP FUNCTION {trigger}_fn()")
    url = DatabaseUrl(pg_url)
    db = PostgresDatabase(url, PostgresDatabase._connection(url))  # opened without migrating
    try:
        assert not db.log_guarded()
        problems = db.schema_problems()
        assert "trigger access_log_chain is missing" in problems
        assert "trigger jobs_audit_entity_counts calls an altered function" in problems
        assert "trigger access_log_no_update calls an altered function" in problems
    finally:
        db.close()
    with Custodian.open(pg_url) as kr:
        assert kr.db.schema_problems() == []
        assert kr.db.log_guarded()
        assert verify(kr).ok


def test_reopen_round_trip_and_backup_to_a_file(pg_url: str, tmp_path: Path) -> None:
    with new_vault(pg_url) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
        kr.store_job(sample_job("job-2", status="failed", error="boom"), actor="alice")
        head = kr.log_head()
        done = backup(kr, tmp_path / "copy.db", actor="alice")
        assert done.head == head
    with Custodian.open(tmp_path / "copy.db") as copy:
        session = copy.unlock("alice", PASSPHRASE)
        assert session.open_job("job-1").content == sample_job("job-1").content
        assert verify(copy, session=session).ok
    assert (tmp_path / "copy.db").stat().st_mode & 0o777 == 0o600


def test_concurrent_writers_never_fork_the_chain(pg_url: str) -> None:
    new_vault(pg_url).close()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with Custodian.open(pg_url) as kr:
                for i in range(10):
                    kr.store_job(sample_job(f"job-{n}-{i}"), actor=f"host{n}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Custodian.open(pg_url) as kr:
        seq, _ = kr.verify_chain()
        entries = kr.log_entries()
        assert [e.seq for e in entries] == list(range(1, seq + 1))
        assert len([e for e in entries if e.action == "fetch"]) == 40
        assert len(kr.list_jobs()) == 40


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alice:secret@db.example/vault",
        "postgresql://alice:@db.example/vault",
        "postgres://alice:secret@db.example/vault",
        "postgresql:///vault?password=secret",
        "postgresql:///vault?user=alice&PASSWORD=secret",
    ],
)
@pytest.mark.parametrize("how", ["option", "env"])
def test_a_url_with_a_password_is_refused_before_connecting(url: str, how: str) -> None:
    if how == "option":
        result = invoke(["--vault", url, "audit"])
    else:
        result = invoke(["audit"], env={"QUESTA_VAULT": url})
    assert result.exit_code == 1
    assert "secret" not in result.output
    assert result.stderr.count("\n") == 1
    assert "carries a password" in result.stderr and ".pgpass" in result.stderr


# Any parameter whose name holds "password" is a secret: the client key's passphrase
# (sslpassword) as much as the login's; refused wherever a vault URL comes from.
SECRET_PARAMETERS = ["sslpassword", "SSLPASSWORD", "password", "Password", "newpassword"]


@pytest.mark.parametrize("key", SECRET_PARAMETERS)
@pytest.mark.parametrize("how", ["option", "env", "migrate"])
def test_no_url_parameter_carrying_a_password_is_accepted(
    key: str, how: str, tmp_path: Path
) -> None:
    url = f"postgresql:///vault?host={tmp_path}&{key}=s3cret-value"
    if how == "option":
        result = invoke(["--vault", url, "jobs"])
    elif how == "env":
        result = invoke(["jobs"], env={"QUESTA_VAULT": url})
    else:
        result = invoke(["migrate", str(tmp_path / "a.db"), url])
    assert result.exit_code == 1, result.output
    assert "s3cret-value" not in result.output
    assert result.stderr.count("\n") == 1
    assert f"carries a {'password' if key.lower() == 'password' else 'secret'}" in result.stderr


def test_an_unreachable_server_is_one_line_and_shows_no_parameter_values(
    tmp_path: Path,
) -> None:
    url = f"postgresql:///vault?host={tmp_path}/nowhere&options=-csearch_path%3Dhidden-value"
    result = invoke(["--vault", url, "audit"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("questa-vault: cannot connect to the vault database ")
    assert "options=***" in result.stderr and "hidden-value" not in result.stderr
    assert "transaction" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_database_with_tables_named_like_ours_is_not_a_vault(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE schema_migrations (id bigint, name text, applied_at float)")
        conn.execute("INSERT INTO schema_migrations VALUES (1, 'm001_initial', 0)")
        conn.execute("CREATE TABLE vault_meta (key text, value text)")
    for args in (["jobs"], ["audit"], ["log"]):
        result = invoke(["--vault", pg_url, *args])
        assert result.exit_code == 1, result.output
        assert "is not a questa-vault database" in result.stderr, result.stderr
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (1,)


def test_migrate_into_a_database_that_does_not_exist_says_create_it(
    pg_url: str, tmp_path: Path
) -> None:
    new_vault(tmp_path / "a.db").close()
    missing = pg_url.replace("/vault_", "/nodb_")
    result = invoke(["migrate", str(tmp_path / "a.db"), missing])
    assert result.exit_code == 1, result.output
    assert "does not exist: create it first" in result.stderr


def test_wrong_credentials_are_exit_4(pg_server: PostgresServer, pg_url: str) -> None:
    new_vault(pg_url).close()
    url = pg_url.replace("user=vault_admin", "user=mallory")
    with pytest.raises(VaultAccessDenied):
        Custodian.open(url)
    result = invoke(["--vault", url, "audit"])
    assert result.exit_code == 4, result.output
    assert result.stderr.count("\n") == 1


def test_a_database_that_is_not_a_vault_is_refused_and_left_alone(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE notes (body text)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    result = invoke(["--vault", pg_url, "audit"])
    assert result.exit_code == 1
    assert "is not a questa-vault database" in result.stderr
    result = invoke(["--vault", pg_url, "init", "--user", "alice", *FAST_KDF], env=ENV)
    assert result.exit_code == 1
    assert "not empty" in result.stderr
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        assert tables == [("notes",)]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE VIEW v AS SELECT 1 AS one",
        "CREATE SEQUENCE s",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    ],
)
def test_init_refuses_a_schema_holding_anything(pg_url: str, sql: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute(sql)
    result = invoke(["--vault", pg_url, "init", "--user", "alice", *FAST_KDF], env=ENV)
    assert result.exit_code == 1, result.output
    assert "not empty" in result.stderr


def test_an_empty_database_is_no_vault_yet(pg_url: str) -> None:
    with pytest.raises(VaultNotFound, match="run questa-vault init"):
        Custodian.open(pg_url)


def test_a_schema_from_a_newer_version_is_refused(pg_url: str) -> None:
    new_vault(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (id, name, applied_at) VALUES (999, 'm999_future', 0)"
        )
    with pytest.raises(StoreError, match="newer or different version"):
        Custodian.open(pg_url)


def test_init_twice_is_refused(pg_url: str) -> None:
    assert invoke(["--vault", pg_url, "init", "--user", "alice", *FAST_KDF], env=ENV).exit_code == 0
    result = invoke(["--vault", pg_url, "init", "--user", "bob", *FAST_KDF], env=ENV)
    assert result.exit_code == 1
    assert "already exists" in result.stderr


def test_a_connection_lost_mid_transaction_writes_nothing(pg_url: str) -> None:
    with new_vault(pg_url) as kr:
        before = kr.log_head()
        db = kr.db
        with pytest.raises(StoreError, match="connection"), db.write():
            db.meta.set("half", "written")
            pid = db.query("SELECT pg_backend_pid()")[0][0]
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            db.meta.set("second", "statement")
    with Custodian.open(pg_url) as kr:
        assert kr.db.meta.get("half") is None
        assert kr.log_head() == before


def _drop_connection(db: Any, pg_url: str) -> None:
    pid = db.query("SELECT pg_backend_pid()")[0][0]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_lost_just_before_commit_is_an_error_not_a_retried_commit(
    pg_url: str,
) -> None:
    """The last statement succeeded, then the server dropped the session: COMMIT must not be
    sent again on a new connection (it 'succeeds' there, with nothing to commit)."""
    with new_vault(pg_url) as kr:
        before = kr.log_head()
        db = kr.db
        with pytest.raises(StoreError, match="lost while committing"), db.write():
            db.meta.set("half", "written")
            _drop_connection(db, pg_url)
    with Custodian.open(pg_url) as kr:
        assert kr.db.meta.get("half") is None
        assert kr.log_head() == before


def test_a_release_whose_connection_drops_before_commit_releases_nothing(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The access-log entry is inserted, the session is killed before COMMIT (any role may end
    its own sessions): the release must fail, not report an entry the server rolled back."""
    from vault.store import _log

    with new_vault(pg_url) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
    with Custodian.open(pg_url) as kr:
        session = kr.unlock("alice", PASSPHRASE)
        before = kr.log_head()
        append = _log.AccessLog.append

        def append_then_drop(self: Any, row: Any) -> Any:
            out = append(self, row)
            _drop_connection(self.db, pg_url)
            return out

        monkeypatch.setattr(_log.AccessLog, "append", append_then_drop)
        with pytest.raises(StoreError, match="lost while committing"):
            session.release("export", ["job-1"])
        monkeypatch.setattr(_log.AccessLog, "append", append)
    with Custodian.open(pg_url) as kr:
        assert kr.log_head() == before
        assert not [e for e in kr.log_entries() if e.action == "export"]


def test_the_cli_works_on_a_postgresql_vault(pg_url: str, tmp_path: Path) -> None:
    env = {**ENV, "QUESTA_VAULT": pg_url}
    assert invoke(["init", "--user", "alice", *FAST_KDF], env=env).exit_code == 0
    with Custodian.open(pg_url) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
        kr.add_user("bob", passphrase=PASSPHRASE, kdf=FAST, actor="alice")
    for args in (
        ["user", "list"],
        ["audit"],
        ["audit", "--summary"],
        ["log"],
        ["--user", "alice", "verify", "--deep"],
        ["--user", "alice", "grant", "bob", "--all"],
        ["backup", str(tmp_path / "b.db")],
    ):
        result = invoke(args, env=env)
        assert result.exit_code == 0, (args, result.output)
    assert isinstance(open_database(DatabaseUrl(pg_url)).location, DatabaseUrl)


def test_a_connection_dropped_between_commands_is_opened_again(pg_url: str) -> None:
    with new_vault(pg_url) as kr:
        for round_ in range(3):
            pid = kr.db.query("SELECT pg_backend_pid()")[0][0]
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert kr.store_job(sample_job(f"job-{round_}"), actor="alice")
        assert len(kr.list_jobs()) == 3
        kr.verify_chain()


# --------------------------------------------------------------------------- credentials


def test_credentials_come_from_the_password_file(
    pg_server: PostgresServer, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one scram role of the test server: a right password in PGPASSFILE opens the vault,
    a wrong or missing one is exit 4 in one line that quotes no password."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        role = PASSWORD_ROLE
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'right horse'")
        conn.execute(f"GRANT ALL ON SCHEMA public TO {role}")
    url = pg_url.replace(f"user={SUPERUSER}", f"user={PASSWORD_ROLE}")
    passfile = tmp_path / "pgpass"
    monkeypatch.delenv("PGPASSWORD", raising=False)
    says = {"wrong horse": "refused the password for", None: "asks a password for"}
    for secret, code in (("wrong horse", 4), (None, 4), ("right horse", 0)):
        if secret is None:
            passfile.unlink(missing_ok=True)
        else:
            passfile.write_text(f"*:*:*:{PASSWORD_ROLE}:{secret}\n")
            passfile.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(passfile))
        result = invoke(["--vault", url, "init", "--user", "alice", *FAST_KDF], env=ENV)
        assert result.exit_code == code, (secret, result.output)
        assert "horse" not in result.output
        if code:
            assert result.stderr.count("\n") == 1
            assert says[secret] in result.stderr, result.stderr
            assert "PGPASSFILE" in result.stderr
    assert invoke(["--vault", url, "audit"]).exit_code == 0


def test_a_connection_lost_during_verify_deep_is_an_error_not_a_finding(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backend ends while a job is being decrypted: the command fails with the
    lost-connection error (exit 1), never a ``[deep]`` finding against that job (exit 5, the
    code for tampering)."""
    from vault.custody import Session
    from vault.errors import ConnectionLost
    from vault.lifecycle import verify

    with new_vault(pg_url) as kr:
        for i in range(3):
            kr.store_job(sample_job(f"job-{i}"), actor="alice")
    real = Session.check_job
    with Custodian.open(pg_url) as kr:
        session = kr.unlock("alice", PASSPHRASE)

        def killed_then_check(self: Session, job_id: str) -> object:
            with kr.db.read():  # the loss lands inside a transaction, as mid-decrypt
                pid = kr.db.query("SELECT pg_backend_pid()")[0][0]
                with psycopg.connect(pg_url, autocommit=True) as other:
                    other.execute("SELECT pg_terminate_backend(%s)", (pid,))
                return real(self, job_id)

        monkeypatch.setattr(Session, "check_job", killed_then_check)
        with pytest.raises(ConnectionLost, match="lost or could not open the connection"):
            verify(kr, session=session)


@pytest.mark.parametrize("failure", ["busy", "commit lost"])
def test_verify_deep_whose_entry_cannot_be_written_now_is_an_error_not_a_finding(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """The class of operational errors met while ``verify --deep`` logs its entry: the
    writers' lock held by another session (any role that can connect can hold it) and the
    connection lost while the entry's COMMIT was on the way. Each ends the command with its
    one-line error, exit 1, never a ``[log]`` finding with exit 5 (the tampering code)."""
    import vault.store._postgres as pg

    with new_vault(pg_url) as kr:
        kr.store_job(sample_job("job-0"), actor="alice")
    monkeypatch.setattr(pg, "LOCK_TIMEOUT_MS", 300)
    holder = psycopg.connect(pg_url, autocommit=True)
    real_commit = PostgresDatabase._commit
    real_check = Custodian.check_may_log

    def probe_then_lock(self: Custodian, *args: Any, **kwargs: Any) -> None:
        real_check(self, *args, **kwargs)  # the probe passes; then another session locks
        holder.execute("SELECT pg_advisory_lock(%s, hashtext(current_schema()))", (pg.LOCK_CLASS,))

    def commit_lost(self: PostgresDatabase) -> None:
        pid = self._conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        holder.execute("SELECT pg_terminate_backend(%s)", (pid,))
        real_commit(self)

    if failure == "busy":
        monkeypatch.setattr(Custodian, "check_may_log", probe_then_lock)
        expected = "the vault is busy"
    else:
        monkeypatch.setattr(PostgresDatabase, "_commit", commit_lost)
        expected = "lost while committing"
    try:
        result = invoke(
            ["--vault", pg_url, "--user", "alice", "verify", "--deep"],
            env={"QUESTA_VAULT_PASSPHRASE": PASSPHRASE},
        )
    finally:
        holder.close()
    assert result.exit_code == 1, result.output
    assert expected in result.stderr and "[log]" not in result.output, result.output
    assert result.stderr.count("\n") == 1, result.stderr


def test_verify_of_a_server_that_cannot_be_reached_is_an_error_not_a_finding(
    tmp_path: Path,
) -> None:
    url = f"postgresql:///questa?host={tmp_path}&user=nobody"
    result = invoke(["--vault", url, "verify"])
    assert result.exit_code == 1, result.output
    assert "does not verify" not in result.output
