"""The real CLI for init, user, keygen, passwd and log: exit codes, exact messages, files."""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path

import pytest
from conftest import FAST_KDF, invoke
from custody_kit import sample_job, vault_snapshot

from vault import crypto
from vault.custody import Custodian
from vault.errors import WrongPassphrase

PW = {"QUESTA_VAULT_PASSPHRASE": "alice pw"}
NEW = "QUESTA_VAULT_NEW_PASSPHRASE"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def vault(cli_vault: Path | str) -> Path | str:
    """A vault with user alice, once per backend (``cli_vault``)."""
    result = invoke(["init", "--user", "alice", *FAST_KDF], env=PW)
    assert result.exit_code == 0, result.output
    return cli_vault


# --------------------------------------------------------------------------- init


def test_init_creates_a_0600_vault_with_its_first_user(isolated_env: Path) -> None:
    result = invoke(["init", "--user", "alice", *FAST_KDF], env=PW)
    assert result.exit_code == 0, result.output
    assert result.stderr == f"created vault {isolated_env} with user alice\n"
    assert _mode(isolated_env) == 0o600
    with Custodian.open(isolated_env) as kr:
        assert [u.name for u in kr.list_users()] == ["alice"]
        kr.unlock("alice", "alice pw")


def test_init_takes_the_global_user_or_the_login_name(isolated_env: Path) -> None:
    assert invoke(["--user", "bob", "init", *FAST_KDF], env=PW).exit_code == 0
    with Custodian.open(isolated_env) as kr:
        assert kr.default_user() == "bob"
    other = isolated_env.with_name("other.db")
    result = invoke(
        ["--vault", str(other), "init", *FAST_KDF], env={**PW, "USER": "carol", "LOGNAME": "carol"}
    )
    assert result.exit_code == 0, result.output
    with Custodian.open(other) as kr:
        assert kr.default_user() == "carol"


def test_init_refuses_to_overwrite(vault: Path | str) -> None:
    before = vault_snapshot(vault)
    result = invoke(["init", "--user", "mallory", *FAST_KDF], env=PW)
    assert result.exit_code == 1
    assert result.stderr == (
        f"questa-vault: a vault already exists at {vault}; refusing to overwrite it\n"
    )
    assert vault_snapshot(vault) == before


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--kdf-memory", "5000000"], "KDF memory must be between 8 x lanes and 1048576 KiB"),
        (["--kdf-passes", "17"], "KDF passes must be between 1 and 16"),
        (["--kdf-lanes", "0"], "KDF lanes must be between 1 and 16"),
        (["--kdf-lanes", "17"], "KDF lanes must be between 1 and 16"),
        (
            ["--kdf-memory", "1048576", "--kdf-passes", "5"],
            "KDF memory x passes must be at most 4194304 KiB",
        ),
    ],
)
def test_init_refuses_kdf_parameters_beyond_the_caps(
    isolated_env: Path, flags: list[str], message: str
) -> None:
    result = invoke(["init", "--user", "alice", *FAST_KDF, *flags], env=PW)
    assert result.exit_code == 1
    assert result.stderr == f"questa-vault: {message}\n"
    assert not isolated_env.exists()


def test_init_without_a_passphrase_source_fails_cleanly(isolated_env: Path) -> None:
    result = invoke(["init", "--user", "alice", *FAST_KDF])
    assert result.exit_code == 1
    assert "QUESTA_VAULT_PASSPHRASE" in result.stderr
    assert not isolated_env.exists()


def test_passphrase_file(isolated_env: Path, tmp_path: Path) -> None:
    secret = tmp_path / "pw.txt"
    secret.write_text("from a file\n")
    result = invoke(["--passphrase-file", str(secret), "init", "--user", "alice", *FAST_KDF])
    assert result.exit_code == 0, result.output
    with Custodian.open(isolated_env) as kr:
        kr.unlock("alice", "from a file")


def test_an_unreadable_passphrase_file_says_why_in_words(tmp_path: Path) -> None:
    """Found by trying the tool: the message named a Python class (FileNotFoundError)."""
    missing = tmp_path / "nope.txt"
    result = invoke(["--passphrase-file", str(missing), "init", "--user", "alice", *FAST_KDF])
    assert result.exit_code == 1
    assert result.stderr == (
        f"questa-vault: cannot read passphrase file {missing}: No such file or directory\n"
    )


@pytest.mark.parametrize("command", [["user", "list"], ["log"], ["log", "--head"]])
def test_commands_without_a_vault_say_how_to_make_one(isolated_env: Path, command: list) -> None:
    result = invoke(command)
    assert result.exit_code == 1
    assert result.stderr == f"questa-vault: no vault at {isolated_env}: run questa-vault init\n"


# --------------------------------------------------------------------------- user


def test_user_add_list_disable(vault: Path) -> None:
    result = invoke(["user", "add", "bob", *FAST_KDF], env={NEW: "bob pw"})
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"added user bob \(key [0-9a-f]{16}\)\n", result.stderr)
    listed = invoke(["user", "list", "--json"])
    assert listed.exit_code == 0
    users = json.loads(listed.stdout)
    assert [(u["name"], u["enabled"], u["has_private_key"]) for u in users] == [
        ("alice", True, True),
        ("bob", True, True),
    ]
    assert set(users[0]) == {
        "name",
        "enabled",
        "has_private_key",
        "unsafe_kdf",
        "fingerprint",
        "created_at",
    }
    result = invoke(["--user", "alice", "user", "disable", "bob"])
    assert (result.exit_code, result.stderr) == (0, "disabled user bob\n")
    table = invoke(["user", "list"]).stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "STATUS",
        "PRIVATE",
        "KEY",
        "FINGERPRINT",
        "CREATED",
        "(UTC)",
    ]
    assert table[2].split()[:3] == ["bob", "disabled", "in"]
    with Custodian.open(vault) as kr:
        entry = kr.log_entries(action="user-disable")[0]
        assert (entry.user, entry.subject) == ("alice", "bob")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["user", "add", "alice", *FAST_KDF], 1, "user alice already exists"),
        (
            ["user", "add", "bad name", *FAST_KDF],
            1,
            "a user name is 1 to 64 letters, digits or . _ @ + - and starts with a letter or digit",
        ),
        (["user", "disable", "nobody"], 4, "no user nobody in this vault"),
        (["user", "disable", "alice"], 1, "user alice is the last enabled user; add another first"),
    ],
)
def test_user_errors(vault: Path, args: list[str], code: int, message: str) -> None:
    result = invoke(args, env={**PW, NEW: "new pw"})
    assert (result.exit_code, result.stderr) == (code, f"questa-vault: {message}\n")


@pytest.mark.parametrize(
    ("global_args", "env", "message"),
    [
        (
            [],
            PW,
            f"give the new passphrase with --new-passphrase-file or {NEW}: "
            "the current passphrase is not reused for it",
        ),
        (
            ["--passphrase-file", "{alice_file}"],
            {},
            "give the new passphrase with "
            f"--new-passphrase-file or {NEW} (no terminal to ask it at)",
        ),
        (
            [],
            {},
            f"give the new passphrase with --new-passphrase-file or {NEW} "
            "(no terminal to ask it at)",
        ),
    ],
    ids=["env", "passphrase-file", "nothing"],
)
def test_user_add_never_takes_the_acting_users_passphrase(
    vault: Path, tmp_path: Path, global_args: list[str], env: dict, message: str
) -> None:
    alice_file = tmp_path / "alice.txt"
    alice_file.write_text("alice pw\n")
    args = [a.format(alice_file=alice_file) for a in global_args]
    result = invoke([*args, "--user", "alice", "user", "add", "carol", *FAST_KDF], env=env)
    assert (result.exit_code, result.stderr) == (1, f"questa-vault: {message}\n")
    with Custodian.open(vault) as kr:
        assert [u.name for u in kr.list_users()] == ["alice"]


@pytest.mark.parametrize("source", ["file", "env"])
def test_user_add_takes_the_new_users_own_passphrase(
    vault: Path, tmp_path: Path, source: str
) -> None:
    new = tmp_path / "carol.txt"
    new.write_text("carol pw\n")
    if source == "file":
        args, env = ["--new-passphrase-file", str(new)], PW
    else:
        args, env = [], {**PW, NEW: "carol pw"}
    result = invoke(["--user", "alice", "user", "add", "carol", *args, *FAST_KDF], env=env)
    assert result.exit_code == 0, result.output
    with Custodian.open(vault) as kr:
        kr.unlock("carol", "carol pw")
        with pytest.raises(WrongPassphrase):
            kr.unlock("carol", "alice pw")


def test_user_add_public_key_takes_no_passphrase_file(vault: Path, tmp_path: Path) -> None:
    pub = tmp_path / "x.pub"
    pub.write_bytes(crypto.public_key_pem(crypto.generate_keypair()[1]))
    args = ["user", "add", "x", "--public-key", str(pub), "--new-passphrase-file", str(pub)]
    result = invoke(args)
    assert result.exit_code == 2
    assert "--public-key and --new-passphrase-file do not go together" in result.stderr


def test_keygen_and_public_key_user(vault: Path, tmp_path: Path) -> None:
    key = tmp_path / "recovery.key"
    result = invoke(["keygen", "-o", str(key)])
    assert result.exit_code == 0, result.output
    assert _mode(key) == 0o600
    assert result.stdout.startswith("-----BEGIN PUBLIC KEY-----\n")
    private = crypto.load_private_key_pem(key.read_bytes())
    assert crypto.load_public_key(result.stdout.encode()) == crypto.public_key_of(private)
    again = invoke(["keygen", "-o", str(key)])
    assert again.exit_code == 1
    assert again.stderr == f"questa-vault: {key} already exists; refusing to overwrite it\n"
    pub = tmp_path / "recovery.pub"
    pub.write_text(result.stdout)
    added = invoke(["--user", "alice", "user", "add", "recovery", "--public-key", str(pub)])
    assert added.exit_code == 0, added.output
    with Custodian.open(vault) as kr:
        kr.store_job(sample_job(), actor="cron")
        session = kr.unlock_with_key("recovery", key.read_bytes())
        assert session.open_file("job-1") == sample_job().content
    listed = json.loads(invoke(["user", "list", "--json"]).stdout)
    assert listed[1]["has_private_key"] is False


def test_disabling_the_only_reader_of_a_job_is_refused_unless_forced(vault: Path) -> None:
    """Disabling cannot be undone: a typo must not leave jobs that nobody can read."""
    assert invoke(["user", "add", "bob", *FAST_KDF], env={NEW: "bob pw"}).exit_code == 0
    with Custodian.open(vault) as kr:
        kr.store_job(sample_job("job-both"), actor="cron")  # sealed to alice and bob
        kr.disable_user("bob", actor="alice")
        kr.store_job(sample_job("job-alice"), actor="cron")  # alice alone
    assert invoke(["user", "add", "carol", *FAST_KDF], env={NEW: "carol pw"}).exit_code == 0
    refused = invoke(["--user", "carol", "user", "disable", "alice"])
    assert refused.exit_code == 1
    assert refused.stderr == (
        "questa-vault: user alice is the only enabled reader of 2 job(s) (job-alice, job-both): "
        "disabled, nobody could read them again; grant them to another user first, or --force\n"
    )
    assert json.loads(invoke(["user", "list", "--json"]).stdout)[0]["enabled"] is True
    again = invoke(["--user", "alice", "user", "disable", "bob"])
    assert (again.exit_code, again.stderr) == (0, "user bob was already disabled\n")
    forced = invoke(["--user", "carol", "user", "disable", "alice", "--force"])
    assert (forced.exit_code, forced.stderr) == (0, "disabled user alice\n")


def test_one_public_key_cannot_belong_to_two_users(vault: Path, tmp_path: Path) -> None:
    """A revoke re-keys a job away from one user's key: a shared key would keep reading it."""
    key = tmp_path / "k.key"
    pub = tmp_path / "k.pub"
    pub.write_text(invoke(["keygen", "-o", str(key)]).stdout)
    assert invoke(["user", "add", "dupa", "--public-key", str(pub)]).exit_code == 0
    twin = invoke(["user", "add", "dupb", "--public-key", str(pub)])
    assert twin.exit_code == 1
    assert re.fullmatch(
        r"questa-vault: user dupa already has this public key \([0-9a-f]{16}\): each user needs "
        r"a key of their own\n",
        twin.stderr,
    )
    names = [u["name"] for u in json.loads(invoke(["user", "list", "--json"]).stdout)]
    assert names == ["alice", "dupa"]


def test_passwd_never_moves_an_offline_key_into_the_vault(vault: Path, tmp_path: Path) -> None:
    key = tmp_path / "r.key"
    pub = tmp_path / "r.pub"
    pub.write_text(invoke(["keygen", "-o", str(key)]).stdout)
    assert invoke(["user", "add", "recovery", "--public-key", str(pub)]).exit_code == 0
    result = invoke(
        ["--user", "recovery", "--key-file", str(key), "passwd", *FAST_KDF],
        env={NEW: "a new passphrase"},
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "questa-vault: user recovery has no passphrase: its private key is kept offline "
        "(added with --public-key), and passwd would store it in the vault\n"
    )
    listed = json.loads(invoke(["user", "list", "--json"]).stdout)
    assert listed[1]["has_private_key"] is False


def test_user_add_with_a_bad_public_key_file(vault: Path, tmp_path: Path) -> None:
    pub = tmp_path / "bad.pub"
    pub.write_text("hello")
    result = invoke(["user", "add", "x", "--public-key", str(pub)])
    assert (result.exit_code, result.stderr) == (
        1,
        "questa-vault: not an X25519 public key in PEM form\n",
    )


# --------------------------------------------------------------------------- passwd


def test_passwd_changes_the_passphrase(vault: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.txt"
    new.write_text("new pw\n")
    new.chmod(0o600)  # a secret file as it should be (a shared one gets a warning)
    result = invoke(["passwd", "--new-passphrase-file", str(new), *FAST_KDF], env=PW)
    assert (result.exit_code, result.stderr) == (0, "changed the passphrase of alice\n")
    with Custodian.open(vault) as kr:
        kr.unlock("alice", "new pw")
    old = invoke(["passwd", "--new-passphrase-file", str(new), *FAST_KDF], env=PW)
    assert (old.exit_code, old.stderr) == (4, "questa-vault: wrong passphrase\n")
    env = {"QUESTA_VAULT_PASSPHRASE": "new pw", "QUESTA_VAULT_NEW_PASSPHRASE": "third pw"}
    assert invoke(["passwd", *FAST_KDF], env=env).exit_code == 0
    with Custodian.open(vault) as kr:
        kr.unlock("alice", "third pw")


def test_passwd_refuses_to_reuse_the_current_passphrase_source(vault: Path) -> None:
    result = invoke(["passwd", *FAST_KDF], env=PW)
    assert result.exit_code == 1
    assert "QUESTA_VAULT_NEW_PASSPHRASE" in result.stderr


@pytest.mark.parametrize(
    ("user", "code", "message"),
    [("nobody", 4, "no user nobody in this vault")],
)
def test_passwd_for_an_unknown_user(vault: Path, user: str, code: int, message: str) -> None:
    result = invoke(["--user", user, "passwd", *FAST_KDF], env=PW)
    assert (result.exit_code, result.stderr) == (code, f"questa-vault: {message}\n")


# --------------------------------------------------------------------------- log


def test_log_table_json_filters_and_head(vault: Path) -> None:
    with Custodian.open(vault) as kr:
        kr.store_job(sample_job("job-1"), actor="cron")
        kr.store_job(sample_job("job-2"), actor="cron")
        kr.unlock("alice", "alice pw").release("restore", ["job-2"], {"PERSON_NAME": 1})
        head = kr.log_head()
    table = invoke(["log"])
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["SEQ", "TIME", "(UTC)", "USER", "ACTION", "JOB", "/", "SUBJECT"]
    entries = [line for line in lines[1:] if not line.startswith(" ")]
    assert [line.split()[4] for line in entries] == [
        "init",
        "user-add",
        "fetch",
        "fetch",
        "restore",
    ]
    assert entries[-1].split()[-1] == "job-2"
    assert lines[-1].split() == ["PERSON_NAME=1"]
    assert all(len(line) <= 80 for line in lines)
    data = json.loads(invoke(["log", "--json", "--action", "fetch"]).stdout)
    assert [e["job_id"] for e in data] == ["job-1", "job-2"]
    assert set(data[0]) == {
        "seq",
        "time",
        "time_utc",
        "user",
        "action",
        "job_id",
        "subject",
        "counts",
        "prev_hash",
        "entry_hash",
    }
    assert data[0]["counts"] == {
        "entities": 5,
        "file_bytes": len(sample_job().content or b""),
        "map_entries": 3,
    }
    by_job = json.loads(invoke(["log", "--json", "--job", "job-2", "--user", "alice"]).stdout)
    assert [e["action"] for e in by_job] == ["restore"]
    assert invoke(["log", "--json", "--since", "2999-01-01"]).stdout.strip() == "[]"
    assert len(json.loads(invoke(["log", "--json", "--until", "2999-01-01T00:00"]).stdout)) == 5
    assert json.loads(invoke(["log", "--json", "--until", "100000000"]).stdout) == []
    result = invoke(["log", "--head"])
    assert result.stdout == f"{head[0]}:{head[1]}\n"
    assert re.fullmatch(r"5:[0-9a-f]{64}\n", result.stdout)


@pytest.mark.parametrize("command", [["log"], ["audit"]])
@pytest.mark.parametrize("when", ["tomorrow", "30", "30 days", "2026-13-01", "", "-1d"])
def test_log_and_audit_reject_the_same_bad_times(
    vault: Path, command: list[str], when: str
) -> None:
    result = invoke([*command, "--since", when])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"questa-vault: cannot read the time {when!r}: use ")


@pytest.mark.parametrize(
    "when", ["30d", "12h", "2w", "45m", "today", "yesterday", "now", "2026-05-31",
             "2026-05-31T09:00", "2026-05-31T09:00+02:00", "1700000000", "1700000000.5"],
)  # fmt: skip
def test_log_and_audit_share_one_time_grammar(vault: Path, when: str) -> None:
    for command in (["log", "--json"], ["audit", "--format", "json"]):
        for option in ("--since", "--until"):
            result = invoke([*command, option, when])
            assert result.exit_code == 0, (command, option, result.output)


def test_a_whole_day_until_includes_that_day_in_log_and_audit(vault: Path) -> None:
    with Custodian.open(vault) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert json.loads(invoke(["log", "--json", "--until", today]).stdout)
    assert json.loads(invoke(["log", "--json", "--since", today, "--until", today]).stdout)
    jobs = json.loads(invoke(["audit", "--format", "json", "--until", today]).stdout)["jobs"]
    assert jobs


def test_log_says_when_nothing_matches_and_flags_an_unknown_user(vault: Path) -> None:
    with Custodian.open(vault) as kr:
        kr.store_job(sample_job("job-1"), actor="cron")  # an actor that is not a vault user
    none = invoke(["log", "--since", "2999-01-01"])
    assert (none.exit_code, none.stdout, none.stderr) == (0, "", "no log entries match\n")
    assert invoke(["log", "--json", "--since", "2999-01-01"]).stdout.strip() == "[]"
    typo = invoke(["log", "--user", "alcie"])
    assert typo.exit_code == 1
    assert typo.stderr == (
        "questa-vault: no user 'alcie' in this vault and no log entry by it "
        "(see 'questa-vault user list')\n"
    )
    assert invoke(["user", "list"]).exit_code == 0  # the command the message names exists
    unknown = invoke(["log", "--job", "zzzz-no-such-job"])
    assert (unknown.exit_code, unknown.stderr) == (
        1,
        "questa-vault: job zzzz-no-such-job is not in this vault (questa-vault jobs lists "
        "its jobs)\n",
    )
    inverted = invoke(["log", "--since", "today", "--until", "yesterday"])
    assert (inverted.exit_code, inverted.stderr) == (
        1,
        "questa-vault: --since must be earlier than --until\n",
    )
    assert invoke(["audit", "--since", "today", "--until", "yesterday"]).stderr == (inverted.stderr)
    cron = invoke(["log", "--json", "--user", "cron"])
    assert [e["action"] for e in json.loads(cron.stdout)] == ["fetch"]
    # A vault user with no entries matching the other filters is not an error.
    quiet = invoke(["log", "--user", "alice", "--action", "erase"])
    assert (quiet.exit_code, quiet.stderr) == (0, "no log entries match\n")


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    "command",
    [
        ["init"],
        ["user"],
        ["user", "add"],
        ["user", "list"],
        ["user", "disable"],
        ["keygen"],
        ["passwd"],
        ["log"],
    ],
)
def test_help_ends_with_an_example(command: list[str]) -> None:
    result = invoke([*command, "--help"])
    assert result.exit_code == 0
    assert re.search(r"Example:\n\s+questa-vault ", result.stdout)


def test_offline_recovery_key_unlocks_through_key_file(tmp_path: Path, isolated_env: Path) -> None:
    """A --public-key user (an offline recovery key made by keygen) reads with --key-file."""
    from vault.models import JobContent

    env = {"QUESTA_VAULT_PASSPHRASE": "alice pw"}
    assert invoke(["init", "--user", "alice", *FAST_KDF], env=env).exit_code == 0
    key = tmp_path / "recovery.key"
    made = invoke(["keygen", "-o", str(key)])
    assert made.exit_code == 0
    public = tmp_path / "recovery.pub"
    public.write_text(made.stdout, encoding="utf-8")
    assert invoke(["user", "add", "recovery", "--public-key", str(public)], env=env).exit_code == 0
    with Custodian.open(isolated_env) as kr:
        kr.store_job(
            JobContent(job_id="job-r", status="archived", file_type="text", created_at=1.0,
                       entity_count=1, content=b"[PERSON_NAME_1]",
                       mapping={"Ann Lee": "[PERSON_NAME_1]"}, source="text"),
            actor="cron",
        )  # fmt: skip
    denied = invoke(
        ["--user", "recovery", "restore", "-", "-j", "job-r"], input="[PERSON_NAME_1]", env=env
    )
    assert denied.exit_code == 4 and "--key-file" in denied.stderr
    restored = invoke(
        ["--user", "recovery", "--key-file", str(key), "restore", "-", "-j", "job-r"],
        input="[PERSON_NAME_1]",
    )
    assert restored.exit_code == 0, restored.output
    assert restored.stdout == "Ann Lee"
    out = tmp_path / "r.txt"
    piped = invoke(
        ["--user", "recovery", "--key-file", "-", "export", "job-r", "-o", str(out), "--raw"],
        input=key.read_bytes(),
    )
    assert piped.exit_code == 0, piped.output  # the key from stdin (export: anonymized file)
    both = invoke(
        ["--user", "recovery", "--key-file", "-", "restore", "-", "-j", "job-r"],
        input=key.read_bytes(),
    )
    assert both.exit_code == 2 and "cannot both read '-'" in both.stderr
    other = tmp_path / "other.key"
    assert invoke(["keygen", "-o", str(other)]).exit_code == 0
    wrong = invoke(
        ["--user", "recovery", "--key-file", str(other), "restore", "-", "-j", "job-r"],
        input="[PERSON_NAME_1]",
    )
    assert wrong.exit_code == 4 and "Ann Lee" not in wrong.output


def test_user_add_public_key_from_stdin(vault: Path, tmp_path: Path) -> None:
    key = tmp_path / "recovery.key"
    pem = invoke(["keygen", "-o", str(key)]).stdout
    added = invoke(["--user", "alice", "user", "add", "recovery", "--public-key", "-"], input=pem)
    assert added.exit_code == 0, added.output
    with Custodian.open(vault) as kr:
        kr.store_job(sample_job(), actor="cron")
        session = kr.unlock_with_key("recovery", key.read_bytes())
        assert session.open_file("job-1") == sample_job().content
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("data", ["", "hello", "-----BEGIN PUBLIC KEY-----\n", "\x00\xff"])
def test_user_add_public_key_from_stdin_refuses_garbage(vault: Path, data: str) -> None:
    result = invoke(["user", "add", "x", "--public-key", "-"], input=data)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert [u["name"] for u in json.loads(invoke(["user", "list", "--json"]).stdout)] == ["alice"]


@pytest.mark.parametrize("how", [[], ["--public-key", "-"]])
def test_an_existing_user_is_named_before_any_secret_or_key_is_read(
    vault: Path, how: list[str]
) -> None:
    result = invoke(["user", "add", "alice", *how, *FAST_KDF], env=PW, input="not read")
    assert (result.exit_code, result.stderr) == (1, "questa-vault: user alice already exists\n")
