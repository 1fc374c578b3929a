"""Shell completion of job ids and user names: the real CLI in a subprocess, driven the way
bash drives it (``_QUESTA_VAULT_COMPLETE=bash_complete``), against a real vault. A tab press
never prints an error or a traceback and never asks for a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FAST_KDF, invoke
from custody_kit import sample_job

from vault.custody import Custodian

REPO = Path(__file__).resolve().parent.parent
PASS = "correct horse battery staple"
JOBS = ("abcd-1111", "abcd-2222", "abef-3333", "zz99-4444")
USERS = ("alice", "albert", "bob")
USERS_SORTED = ("albert", "alice", "bob")


@pytest.fixture
def vault(isolated_env: Path) -> Path:
    env = {"QUESTA_VAULT_PASSPHRASE": PASS, "QUESTA_VAULT_NEW_PASSPHRASE": PASS}
    assert invoke(["init", "--user", "alice", *FAST_KDF], env=env).exit_code == 0
    for name in USERS[1:]:
        added = invoke(["user", "add", name, *FAST_KDF], env=env)
        assert added.exit_code == 0, added.output
    with Custodian.open(isolated_env) as kr:
        for job_id in JOBS:
            kr.store_job(sample_job(job_id), actor="alice")
    return isolated_env


def complete(words: list[str], env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """The values bash would offer for the last word of ``questa-vault WORDS``, and stderr."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("QUESTA_")}
    base.update(env or {})
    base.update(
        _QUESTA_VAULT_COMPLETE="bash_complete",
        COMP_WORDS=" ".join(["questa-vault", *words]),
        COMP_CWORD=str(len(words)),
        PYTHONPATH=str(REPO),
    )
    done = subprocess.run(
        [sys.executable, "-m", "vault"], env=base, cwd=REPO, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    values = [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]
    return values, done.stderr


JOB_WORDS = [
    ["show"],
    ["export"],
    ["fetch"],
    ["fetch", "abcd-1111"],
    ["erase"],
    ["restore", "-j"],
    ["restore", "--prefer"],
    ["grant", "bob", "-j"],
    ["revoke", "bob", "--job"],
    ["log", "--job"],
]
USER_WORDS = [["--user"], ["user", "disable"], ["grant"], ["revoke"], ["log", "--user"]]


@pytest.mark.parametrize("words", JOB_WORDS, ids=" ".join)
def test_every_job_id_parameter_completes(vault: Path, words: list[str]) -> None:
    values, stderr = complete([*words, "ab"], {"QUESTA_VAULT": str(vault)})
    assert values == list(JOBS[:3]) and stderr == ""


@pytest.mark.parametrize(
    ("typed", "expected"), [("", JOBS), ("abcd-", JOBS[:2]), ("abcd-2222", JOBS[1:2]), ("x", ())]
)
def test_job_ids_complete_by_prefix(vault: Path, typed: str, expected: tuple[str, ...]) -> None:
    values, stderr = complete(["show", typed], {"QUESTA_VAULT": str(vault)})
    assert values == list(expected) and stderr == ""


@pytest.mark.parametrize("words", USER_WORDS, ids=" ".join)
def test_every_user_parameter_completes(vault: Path, words: list[str]) -> None:
    values, stderr = complete([*words, "al"], {"QUESTA_VAULT": str(vault)})
    assert values == ["albert", "alice"] and stderr == ""


@pytest.mark.parametrize(("typed", "expected"), [("", USERS_SORTED), ("b", ("bob",)), ("q", ())])
def test_user_names_complete_by_prefix(vault: Path, typed: str, expected: tuple[str, ...]) -> None:
    values, stderr = complete(["--user", typed], {"QUESTA_VAULT": str(vault)})
    assert values == list(expected) and stderr == ""


def test_the_vault_comes_from_flag_env_or_settings(vault: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    # --vault on the command line wins over the environment.
    assert complete(["--vault", str(vault), "show", ""], {"QUESTA_VAULT": str(other)})[0] == list(
        JOBS
    )
    assert complete(["show", ""], {"QUESTA_VAULT": str(other)}) == ([], "")
    # The settings file, with neither flag nor environment.
    config = tmp_path / "settings.toml"
    config.write_text(f'vault = "{vault}"\n', encoding="utf-8")
    assert complete(["show", ""], {"QUESTA_VAULT_CONFIG": str(config)})[0] == list(JOBS)


@pytest.mark.parametrize(
    "vault_arg",
    [
        "missing.db",  # no vault: nothing is created
        "not-a-vault.db",  # a file that is no database
        "postgresql://127.0.0.1:1/nothing",  # a database that cannot be reached
    ],
)
@pytest.mark.parametrize("words", [["show"], ["--user"]], ids=" ".join)
def test_completion_fails_quietly_and_never_asks(
    tmp_path: Path, vault_arg: str, words: list[str]
) -> None:
    (tmp_path / "not-a-vault.db").write_bytes(b"garbage " * 100)
    location = vault_arg if vault_arg.startswith("postgresql") else str(tmp_path / vault_arg)
    values, stderr = complete([*words, ""], {"QUESTA_VAULT": location})
    assert values == [] and stderr == ""
    assert not (tmp_path / "missing.db").exists()


def test_a_broken_settings_file_completes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text("vault = [unclosed\n", encoding="utf-8")
    assert complete(["show", ""], {"QUESTA_VAULT_CONFIG": str(config)}) == ([], "")
