"""`restore -j JOB` without INPUT while data waits on standard input: refused with one line
(pass '-' to restore it), never the job's own file restored in its place. A terminal or
/dev/null, or stdin read by --passphrase-file -, is no data: the job's own file is restored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from custody_kit import PASSPHRASE, new_vault, sample_job

JOB = "job-1"
ANSWER = b"Dear [PERSON_NAME_1]\n"


@pytest.fixture
def vault(isolated_env: Path) -> Path:
    with new_vault(isolated_env) as custodian:
        custodian.store_job(sample_job(JOB), actor="alice")
    return isolated_env


def _restore(args: list[str], stdin: object, data: bytes | None, env: dict[str, str]) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "vault", *args],
        stdin=stdin,
        input=data,
        capture_output=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}


@pytest.mark.parametrize("how", ["pipe", "file"])
def test_data_on_stdin_without_input_is_refused(vault: Path, tmp_path: Path, how: str) -> None:
    if how == "pipe":
        done = _restore(["restore", "-j", JOB], None, ANSWER, ENV)
    else:
        answer = tmp_path / "answer.txt"
        answer.write_bytes(ANSWER)
        with answer.open("rb") as fh:
            done = _restore(["restore", "-j", JOB], fh, None, ENV)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.count(b"\n") == 1
    assert b"pass '-' to restore what it carries" in done.stderr


def test_dash_restores_the_piped_answer(vault: Path) -> None:
    done = _restore(["restore", "-", "-j", JOB], None, ANSWER, ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Dear Johanna Quisling-Marx\n"


def test_no_data_restores_the_jobs_own_file(vault: Path) -> None:
    done = _restore(["restore", "-j", JOB], subprocess.DEVNULL, None, ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"name,email,phone\n")


def test_stdin_holding_the_passphrase_is_no_answer(vault: Path) -> None:
    done = _restore(["--passphrase-file", "-", "restore", "-j", JOB], None, PASSPHRASE.encode(), {})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"name,email,phone\n")


@pytest.mark.parametrize("how", ["empty pipe", "empty file", "file read to its end"])
def test_stdin_with_nothing_left_is_no_answer(vault: Path, tmp_path: Path, how: str) -> None:
    """ssh, CI runners and subprocess pipes give an empty stdin: the job's own file is meant."""
    if how == "empty pipe":
        done = _restore(["restore", "-j", JOB], None, b"", ENV)
    else:
        given = tmp_path / "given.txt"
        given.write_bytes(b"" if how == "empty file" else ANSWER)
        with given.open("rb") as fh:
            fh.read()  # at its end: nothing left to read
            done = _restore(["restore", "-j", JOB], fh, None, ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"name,email,phone\n")


def test_a_pipe_still_open_is_named_as_such(vault: Path) -> None:
    """A model may still be writing: refused, and the message says what is known."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vault", "restore", "-j", JOB],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **ENV},
    )
    try:
        proc.wait(timeout=120)  # it decides without waiting for the pipe's writer
    finally:
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.close()
        err = proc.stderr.read()
        proc.stderr.close()
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 2
    assert b"standard input is a pipe that is still open" in err
