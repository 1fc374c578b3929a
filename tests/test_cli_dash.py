"""`-` on every file option: standard input or output where it makes sense, a one-line usage
error saying why where it does not, and never a file literally named `-`.

The options are enumerated from the click command tree, so a file option added later without
a decision (``allow_dash=True`` or ``refuse_dash``) and without a case here fails the test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import FAST_KDF, invoke
from custody_kit import PASSPHRASE, new_vault, sample_job

from vault.cli._app import cli
from vault.cli._defaults import commands

JOB = "job-1"
ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}
URL = ["--api-url", "http://127.0.0.1:1"]

# Parameters holding a path or a vault that are not click.Path (checked by hand).
STRING_PATHS = {
    ("", "vault_path"),
    ("submit", "custom"),
    ("migrate", "source"),
    ("migrate", "dest"),
}

REFUSED = "refused"
# (command path, parameter) -> (argv, stdin, what happens)
CASES: dict[tuple[str, str], tuple[list[str], bytes, str]] = {
    ("", "vault_path"): (["--vault", "-", "jobs"], b"", REFUSED),
    ("", "passphrase_file"): (["--passphrase-file", "-", "export", JOB], PASSPHRASE.encode(), "ok"),
    ("", "key_file"): (["--key-file", "-", "export", JOB], b"not a key", "error"),
    ("secret set", "from_file"): (
        ["secret", "set", "token", "--from-file", "-", *URL],
        b"t",
        "any",
    ),
    ("secret set", "token_file"): (
        ["secret", "set", "token", "--token-file", "-", *URL],
        b"t",
        "any",
    ),
    ("secret delete", "token_file"): (
        ["secret", "delete", "token", "--token-file", "-"],
        b"",
        "any",
    ),
    ("submit", "files"): (["submit", "-", "--name", "a.txt"], b"hi", "error"),
    ("submit", "token_file"): (["submit", "a.txt", "--token-file", "-"], b"t", "error"),
    ("submit", "custom"): (["submit", "a.txt", "--custom-entities", "@-"], b"{}", "error"),
    ("fetch", "token_file"): (["fetch", JOB, "--token-file", "-"], b"t", "error"),
    ("sync", "token_file"): (["sync", "--token-file", "-"], b"t", "error"),
    ("restore", "input_path"): (["restore", "-", "-j", JOB], b"[PERSON_NAME_1]", "ok"),
    ("restore", "output"): (["restore", "-", "-j", JOB, "-o", "-"], b"x", "ok"),
    ("restore", "report_path"): (["restore", "-", "-j", JOB, "--report", "-"], b"x", "error"),
    ("export", "output"): (["export", JOB, "-o", "-"], b"", "ok"),
    ("audit", "html_path"): (["audit", "--html", "-"], b"", "ok"),
    ("user add", "public_key"): (["user", "add", "bob", "--public-key", "-"], b"junk", "error"),
    ("user add", "new_passphrase_file"): (
        ["user", "add", "bob", "--new-passphrase-file", "-", *FAST_KDF],
        b"another good passphrase",
        "ok",
    ),
    ("keygen", "output"): (["keygen", "-o", "-"], b"", REFUSED),
    ("passwd", "new_passphrase_file"): (
        ["passwd", "--new-passphrase-file", "-", *FAST_KDF],
        b"another good passphrase",
        "ok",
    ),
    ("backup", "path"): (["backup", "-"], b"", REFUSED),
    ("migrate", "source"): (["migrate", "-", "copy.db"], b"", REFUSED),
    ("migrate", "dest"): (["migrate", "vault.db", "-"], b"", REFUSED),
    ("simulate", "token_file"): (["simulate", "--token-file", "-"], b"# none\n", "error"),
    ("demo", "keep"): (["demo", "--keep", "-"], b"", REFUSED),
}


def _file_params() -> set[tuple[str, str]]:
    found = set()
    for param in cli.params:
        if isinstance(param.type, click.Path):
            found.add(("", param.name or ""))
    for path, command in commands(cli):
        for param in command.params:
            if isinstance(param.type, click.Path):
                found.add((path, param.name or ""))
    return found


def test_every_file_option_has_a_decision_and_a_case() -> None:
    params = _file_params()
    assert params | STRING_PATHS == set(CASES), "a file option without a '-' case here"
    for path, command in [("", cli), *commands(cli)]:
        for param in command.params:
            if (path, param.name) not in params:
                continue
            refuses = getattr(param.callback, "refuses_dash", False)
            assert param.type.allow_dash != refuses, (path, param.name)  # type: ignore[attr-defined]
            assert (CASES[(path, param.name or "")][2] == REFUSED) == refuses


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda c: f"{c[0] or 'root'}:{c[1]}")
def test_dash_never_makes_a_file_named_dash(
    case: tuple[str, str], isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with new_vault(isolated_env) as custodian:
        custodian.store_job(sample_job(JOB), actor="alice")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("hi", encoding="utf-8")
    argv, stdin, outcome = CASES[case]
    result = invoke(argv, input=stdin, env=ENV)
    assert "Traceback" not in result.output and "internal error" not in result.stderr
    assert not [p for p in tmp_path.rglob("-")], "a file named '-' was written"
    if outcome == REFUSED:
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1 and "cannot be '-'" in result.stderr
    elif outcome == "ok":
        assert result.exit_code == 0, result.output
    elif outcome == "error":
        assert result.exit_code != 0 and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--passphrase-file", "-", "export", JOB],
        ["--key-file", "-", "export", JOB],
        ["simulate", "--token-file", "-"],
    ],
    ids=["passphrase", "key", "simulator-token"],
)
def test_a_secret_is_never_read_from_a_terminal_where_it_would_echo(
    argv: list[str], isolated_env: Path, tmp_path: Path
) -> None:
    with new_vault(isolated_env) as custodian:
        custodian.store_job(sample_job(JOB), actor="alice")
    leader, follower = os.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "vault", *argv],
            stdin=follower,
            capture_output=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count(b"\n") == 1 and b"standard input is a terminal" in done.stderr
