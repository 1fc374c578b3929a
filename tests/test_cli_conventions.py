"""Everyday conventions found by trying the tool: choosing among several users, init asking
again when the passphrases differ, restoring an erased job, fetching an unknown id."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import FAST_KDF, invoke

from vault.cli import run
from vault.simulator import SimulatorConfig, run_simulator

PASS = "correct horse battery staple"
ENV = {"QUESTA_VAULT_PASSPHRASE": PASS}


@pytest.fixture
def job(tmp_path: Path) -> str:
    with run_simulator(SimulatorConfig(processing_time=0.0)) as sim:
        assert invoke(["init", "--user", "alice", *FAST_KDF], env=ENV).exit_code == 0
        note = tmp_path / "note.txt"
        note.write_text("Hi John Doe\n", encoding="utf-8")
        result = invoke(["submit", str(note), "--json", "--api-url", sim.url])
        assert result.exit_code == 0, result.output
        return str(json.loads(result.stdout)["jobs"][0]["job_id"])


def test_several_users_and_no_user_lists_them(job: str) -> None:
    added = invoke(
        ["user", "add", "bob", *FAST_KDF], env={**ENV, "QUESTA_VAULT_NEW_PASSPHRASE": "bob pass"}
    )
    assert added.exit_code == 0, added.output
    result = invoke(["restore", "-j", job], env=ENV)
    assert result.exit_code == 4
    assert result.stderr == (
        "questa-vault: this vault has 2 users (alice, bob) and none was chosen: add --user "
        "NAME, set QUESTA_VAULT_USER, or run questa-vault config set user NAME\n"
    )
    assert invoke(["--user", "alice", "restore", "-j", job], env=ENV).exit_code == 0
    assert invoke(["restore", "-j", job], env={**ENV, "QUESTA_VAULT_USER": "alice"}).exit_code == 0
    invoke(["config", "set", "user", "alice"])
    assert invoke(["restore", "-j", job], env=ENV).exit_code == 0


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_init_asks_again_when_the_new_passphrase_is_empty(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_env: Path
) -> None:
    answers = iter(["", "a long enough phrase", "a long enough phrase"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr("sys.stdin", _Terminal())
    assert run(["init", "--user", "alice", *FAST_KDF]) == 0
    assert "The passphrase is empty; try again." in capsys.readouterr().err


@pytest.mark.parametrize(("secret", "warned"), [("short pw", True), ("a phrase of words", False)])
def test_a_short_new_passphrase_is_warned_about_never_printed(
    isolated_env: Path, secret: str, warned: bool
) -> None:
    """Real KDF settings (no --unsafe-kdf, which silences the warning for tests and demos)."""
    low = ["--kdf-memory", "19456", "--kdf-passes", "2", "--kdf-lanes", "1"]  # the floor
    result = invoke(["init", "--user", "alice", *low], env={"QUESTA_VAULT_PASSPHRASE": secret})
    assert result.exit_code == 0, result.output
    assert ("warning: the new passphrase has only 8 characters" in result.stderr) is warned
    assert secret not in result.output
    env = {"QUESTA_VAULT_PASSPHRASE": secret, "QUESTA_VAULT_NEW_PASSPHRASE": "b"}
    quiet = invoke(["user", "add", "bob", *FAST_KDF], env=env)
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr  # --unsafe-kdf: no warning


def test_init_asks_again_when_the_passphrases_differ(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_env: Path
) -> None:
    answers = iter(["first try", "typo", "second try", "second try"])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    monkeypatch.setattr("sys.stdin", _Terminal())
    assert run(["init", "--user", "alice", *FAST_KDF]) == 0
    assert len(prompts) == 4
    assert "The two passphrases differ; try again." in capsys.readouterr().err
    listed = invoke(["user", "list", "--json"])
    assert [u["name"] for u in json.loads(listed.stdout)] == ["alice"]
    passwd = invoke(
        ["passwd"],
        env={"QUESTA_VAULT_PASSPHRASE": "second try", "QUESTA_VAULT_NEW_PASSPHRASE": "third"},
    )
    assert passwd.exit_code == 0, passwd.output  # the second, matching passphrase was kept


def test_restoring_an_erased_job_says_when(job: str) -> None:
    assert invoke(["erase", job, "--yes"], env=ENV).exit_code == 0
    for args in (["restore", "-j", job], ["export", job, "-o", "-"]):
        result = invoke(args, env=ENV)
        assert result.exit_code == 1
        assert f"job {job} was erased on 20" in result.stderr
        assert "UTC by alice; its map and file no longer exist" in result.stderr


def test_fetch_of_an_unknown_id_says_unknown_or_expired_and_records_nothing() -> None:
    unknown = "550e8400-e29b-41d4-a716-446655440000"
    with run_simulator(SimulatorConfig(processing_time=0.0)) as sim:
        invoke(["init", "--user", "alice", *FAST_KDF], env=ENV)
        result = invoke(["fetch", unknown, "--api-url", sim.url])
    assert result.exit_code == 3
    assert "unknown or expired" in result.stdout
    assert "not-found" in result.stdout and "expired  " not in result.stdout
    assert json.loads(invoke(["jobs", "--json"]).stdout) == []  # not written off, not recorded


# --- --json on every reporting command ----------------------------------------------------


def test_json_on_init_user_keygen_passwd(tmp_path: Path) -> None:
    init = invoke(["init", "--user", "alice", *FAST_KDF, "--json"], env=ENV)
    assert init.exit_code == 0, init.output
    data = json.loads(init.stdout)
    assert data["user"]["name"] == "alice" and data["user"]["enabled"] is True
    assert data["vault_id"] and data["vault"].endswith("vault.db")
    add = invoke(
        ["user", "add", "bob", *FAST_KDF, "--json"],
        env={**ENV, "QUESTA_VAULT_NEW_PASSPHRASE": "bob pass"},
    )
    assert json.loads(add.stdout)["name"] == "bob"
    disable = invoke(["--user", "alice", "user", "disable", "bob", "--json"], env=ENV)
    assert json.loads(disable.stdout)["enabled"] is False
    key = tmp_path / "offline.key"
    keygen = invoke(["keygen", "-o", str(key), "--json"])
    data = json.loads(keygen.stdout)
    assert data["private_key_file"] == str(key)
    assert data["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    passwd = invoke(
        ["--user", "alice", "passwd", *FAST_KDF, "--json"],
        env={**ENV, "QUESTA_VAULT_NEW_PASSPHRASE": "new pass"},
    )
    data = json.loads(passwd.stdout)
    assert data["user"] == "alice" and data["changed"] is True


def test_json_restore_summary(job: str, tmp_path: Path) -> None:
    out = tmp_path / "restored.txt"
    result = invoke(["restore", "-j", job, "-o", str(out), "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["restored"] and "unresolved" in data
    assert out.read_text(encoding="utf-8") == "Hi John Doe\n"
    assert invoke(["restore", "-j", job, "--json"], env=ENV).exit_code == 2  # stdout is taken


# --- short job ids ------------------------------------------------------------------------


def test_short_ids_are_unique_prefixes_everywhere(job: str, tmp_path: Path) -> None:
    short = job[:8]
    assert invoke(["show", short, "--json"]).exit_code == 0
    assert json.loads(invoke(["show", short, "--json"]).stdout)["job_id"] == job
    restored = invoke(["restore", "-j", short], env=ENV)
    assert restored.exit_code == 0 and restored.stdout == "Hi John Doe\n"
    assert invoke(["export", short, "-o", "-"], env=ENV).exit_code == 0
    log = json.loads(invoke(["log", "--job", short, "--json"]).stdout)
    assert log and {e["job_id"] for e in log} == {job}
    assert invoke(["show", job[:3]]).exit_code == 1  # too short to be a prefix: unknown


def test_an_ambiguous_prefix_is_a_clear_error(tmp_path: Path) -> None:
    from custody_kit import sample_job

    from vault.custody import Custodian

    assert invoke(["init", "--user", "alice", *FAST_KDF], env=ENV).exit_code == 0
    vault = Path(
        json.loads(invoke(["config", "show", "--json"]).stdout)["settings"]["vault"]["value"]
    )
    with Custodian.open(vault) as kr:
        for suffix in ("1111", "2222", "3333"):
            kr.store_job(sample_job(f"abcd-{suffix}"), actor="alice")
    for args in (["show", "abcd"], ["restore", "-j", "abcd-"], ["erase", "abcd", "--yes"]):
        result = invoke(args, env=ENV)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith("questa-vault: job id abcd")
        assert "is ambiguous: 3 jobs start with it (abcd-1111, abcd-2222, abcd-3333)" in (
            result.stderr
        )
    assert json.loads(invoke(["show", "abcd-2", "--json"]).stdout)["job_id"] == "abcd-2222"


def test_a_text_job_is_named_by_the_digits_after_text_and_unknown_ids_hint_at_jobs() -> None:
    """audit prints 8 characters, `text-2b8` for a text job: the uuid's digits alone must
    name it too, and an id that names nothing says where the ids are (review-newuser6, 5)."""
    from custody_kit import sample_job

    from vault.custody import Custodian

    assert invoke(["init", "--user", "alice", *FAST_KDF], env=ENV).exit_code == 0
    vault = Path(
        json.loads(invoke(["config", "show", "--json"]).stdout)["settings"]["vault"]["value"]
    )
    text_id = "text-2b887ac8-0000-4000-8000-000000000001"
    with Custodian.open(vault) as kr:
        kr.store_job(sample_job(text_id), actor="alice")
        kr.store_job(sample_job("text-2b8ffff0-0000-4000-8000-000000000002"), actor="alice")
    for args in (["show", "2b88", "--json"], ["export", "2b887ac8", "-o", "-"]):
        result = invoke(args, env=ENV)
        assert result.exit_code == 0, (args, result.output)
    assert json.loads(invoke(["show", "2b88", "--json"]).stdout)["job_id"] == text_id
    other = invoke(["show", "2b8f", "--json"], env=ENV)  # the other one, by its digits
    assert json.loads(other.stdout)["job_id"].startswith("text-2b8ffff0"), other.output
    both = invoke(["show", "text-2b8"], env=ENV)  # what audit prints: ambiguous here, and says so
    assert both.exit_code == 1 and "is ambiguous: 2 jobs" in both.stderr
    for args in (["show", "9999"], ["export", "9999", "-o", "-"], ["restore", "-j", "9999"]):
        result = invoke(args, env=ENV)
        assert (result.exit_code, result.stderr) == (
            1,
            "questa-vault: job 9999 is not in this vault (questa-vault jobs lists its jobs)\n",
        ), args


def test_help_lists_commands_in_workflow_order() -> None:
    text = invoke(["--help"]).stdout
    order = ["init", "config", "submit", "sync", "restore", "audit", "grant", "demo"]
    positions = [text.index(f"\n  {name} ") for name in order]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["restore", "a.txt", "-j", "JOB", "--passphrase-file", "p"], "--passphrase-file"),
        (["jobs", "--vault", "other.db"], "--vault"),
        (["audit", "-v"], "-v"),
        (["restore", "-", "-j", "JOB", "-q"], "-q"),
        (["log", "--key-file", "k"], "--key-file"),
    ],
)
def test_a_global_option_after_the_command_says_where_it_goes(args: list[str], hint: str) -> None:
    result = invoke(args)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"questa-vault: {hint} is a global option: put it before the command (questa-vault {hint}"
    )
    assert result.stderr.count("\n") == 1
    other = invoke(["jobs", "--zzz"])
    assert other.stderr == (
        "questa-vault: No such option '--zzz' (see 'questa-vault jobs --help')\n"
    )


def test_report_to_stdout_and_json_name_the_real_conflict(tmp_path: Path) -> None:
    result = invoke(
        ["restore", "-", "-j", "JOB", "-o", str(tmp_path / "o.txt"), "--report", "-", "--json"],
        input="x",
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "questa-vault: --report - and --json both write to stdout: choose one"
    )


@pytest.mark.parametrize("mode", [0o644, 0o660, 0o600, 0o400])
def test_a_secret_file_open_to_others_is_warned_about(
    isolated_env: Path, tmp_path: Path, mode: int
) -> None:
    """As ssh and libpq do: the secret is only as safe as its file (never refused)."""
    secret = tmp_path / "pass.txt"
    secret.write_text("alice pw\n")
    secret.chmod(mode)
    result = invoke(["--passphrase-file", str(secret), "init", "--user", "alice", *FAST_KDF])
    assert result.exit_code == 0, result.output
    warned = f"warning: {secret} is open to other users (mode {mode:04o}); it holds a secret"
    assert (warned in result.stderr) is bool(mode & 0o077)
    assert "alice pw" not in result.output


@pytest.mark.parametrize("days", ["nan", "inf", "-1"])
def test_erase_older_than_takes_only_a_finite_number_of_days(days: str) -> None:
    result = invoke(["erase", "--older-than", days, "--yes"])
    assert result.exit_code == 2
    assert result.stderr.startswith("questa-vault: Invalid value for '--older-than'")


@pytest.mark.parametrize(
    ("head", "says"),
    [
        ("3:abcd", "HASH is 64 hexadecimal characters, not 4"),
        ("3:" + "z" * 64, "HASH is 64 hexadecimal characters"),
        ("nonsense", "a log head looks like SEQ:HASH"),
    ],
)
def test_a_malformed_expected_head_says_what_is_wrong(
    isolated_env: Path, head: str, says: str
) -> None:
    assert invoke(["init", "--user", "alice", *FAST_KDF], env={"QUESTA_VAULT_PASSPHRASE": "pw"})
    result = invoke(["verify", "--expect-head", head])
    assert result.exit_code == 1
    assert says in result.stderr and result.stderr.count("\n") == 1
