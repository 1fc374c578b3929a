"""Secrets from the OS keyring (extra `keyring`) and from standard input (`--passphrase-file -`).

The keyring is the real `keyring` library with an in-memory backend installed through its own
`set_keyring` (a real backend would touch the desktop's keyring)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from conftest import FAST_KDF, invoke
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from vault.simulator import SimulatorConfig, run_simulator

PASS = "correct horse battery staple"
ENV = {"QUESTA_VAULT_PASSPHRASE": PASS}


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("no such entry")


@pytest.fixture
def memory() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def vault_with_job(tmp_path: Path) -> str:
    with run_simulator(SimulatorConfig(processing_time=0.0)) as sim:
        assert invoke(["init", "--user", "alice", *FAST_KDF], env=ENV).exit_code == 0
        note = tmp_path / "note.txt"
        note.write_text("Hi John Doe\n", encoding="utf-8")
        result = invoke(["submit", str(note), "--json", "--api-url", sim.url])
        assert result.exit_code == 0, result.output
        return str(json.loads(result.stdout)["jobs"][0]["job_id"])


def test_passphrase_file_dash_reads_stdin(vault_with_job: str) -> None:
    result = invoke(["--passphrase-file", "-", "restore", "-j", vault_with_job], input=PASS + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hi John Doe\n"
    wrong = invoke(["--passphrase-file", "-", "restore", "-j", vault_with_job], input="nope\n")
    assert wrong.exit_code == 4


def test_stdin_cannot_be_both_the_passphrase_and_the_input(vault_with_job: str) -> None:
    result = invoke(
        ["--passphrase-file", "-", "restore", "-", "-j", vault_with_job], input=PASS + "\n"
    )
    assert result.exit_code == 2
    assert "cannot both read '-'" in result.stderr


def test_stored_passphrase_is_used_only_when_enabled(
    memory: MemoryKeyring, vault_with_job: str, tmp_path: Path
) -> None:
    wrong = invoke(["secret", "set", "passphrase", "--from-file", "-"], input="wrong\n")
    assert wrong.exit_code == 4 and not memory.entries  # a wrong passphrase is never stored
    stored = invoke(["secret", "set", "passphrase", "--from-file", "-"], input=PASS + "\n")
    assert stored.exit_code == 0, stored.output
    assert list(memory.entries.values()) == [PASS]
    assert PASS not in stored.output
    # Not enabled yet: no terminal, no env, no file -> refused, the keyring is not read.
    assert invoke(["restore", "-j", vault_with_job]).exit_code == 1
    assert invoke(["config", "set", "keyring", "true"]).exit_code == 0
    result = invoke(["restore", "-j", vault_with_job])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hi John Doe\n"
    # The entry is per vault file: another vault's user finds none.
    other = tmp_path / "other.db"
    invoke(["--vault", str(other), "init", "--user", "alice", *FAST_KDF], env=ENV)
    assert invoke(["--vault", str(other), "restore", "-j", vault_with_job]).exit_code == 1
    assert invoke(["secret", "delete", "passphrase"]).exit_code == 0
    assert not memory.entries
    assert "held no entry" in invoke(["secret", "delete", "passphrase"]).stderr


def test_stored_token_authenticates_submit(memory: MemoryKeyring, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Hi John Doe\n", encoding="utf-8")
    with run_simulator(SimulatorConfig(tokens=("s3cret-token",), processing_time=0.0)) as sim:
        invoke(["init", "--user", "alice", *FAST_KDF], env=ENV)
        invoke(["config", "set", "api_url", sim.url])
        assert invoke(["submit", str(note)]).exit_code == 1  # 401: no token yet
        result = invoke(["secret", "set", "token", "--from-file", "-"], input="s3cret-token\n")
        assert result.exit_code == 0 and "s3cret-token" not in result.output
        invoke(["config", "set", "keyring", "true"])
        ok = invoke(["submit", str(note)])
        assert ok.exit_code == 0, ok.output
        # --token-file - reads the token from stdin and wins over the keyring.
        bad = invoke(["submit", str(note), "--token-file", "-"], input="other\n")
        assert bad.exit_code == 1


def test_secret_commands_never_take_the_secret_from_the_command_line() -> None:
    result = invoke(["secret", "set", "passphrase"], env=ENV)
    assert result.exit_code == 1  # no vault (and no terminal to prompt at): refused
    no_tty = invoke(["secret", "set", "token", "--api-url", "http://127.0.0.1:9"])
    assert no_tty.exit_code == 1 and "--from-file" in no_tty.stderr


def test_without_the_extra_one_line_names_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['keyring'] = None\n"
        "from vault.cli import run\n"
        "sys.exit(run(['secret', 'set', 'token', '--api-url', 'http://127.0.0.1:9',"
        " '--from-file', sys.argv[1]]))\n"
    )
    token = tmp_path / "t"
    token.write_text("x", encoding="utf-8")
    token.chmod(0o600)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(token)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "pip install 'questa-vault[keyring]'" in proc.stderr
    assert proc.stderr.count("\n") == 1
