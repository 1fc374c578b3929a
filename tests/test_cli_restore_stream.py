"""`questa-vault restore` of a streamed answer and of mangled placeholders, through the real CLI."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import PASSPHRASE, new_vault, sample_job
from hypothesis import given
from hypothesis import strategies as st

from vault.custody import Custodian
from vault.placeholders import invert_map
from vault.restore import RestoreOptions, restore_bytes

JOB = "job-a"
MAP = {"John Doe": "[PERSON_NAME_1]", "john@example.com": "[EMAIL_ADDRESS_2]"}
ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}


@pytest.fixture
def vault(cli_vault: Path | str) -> Path | str:
    with new_vault(cli_vault) as custodian:
        custodian.store_job(sample_job(JOB, mapping=MAP), actor="alice")
    return cli_vault


def read_until(fd: int, expected: bytes, timeout: float = 20.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while expected not in got and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            data = os.read(fd, 4096)
            if not data:
                break
            got += data
    return got


def test_a_piped_answer_appears_as_it_arrives(vault: Path) -> None:
    env = {**os.environ, **ENV}
    child = subprocess.Popen(
        [sys.executable, "-m", "vault", "restore", "-", "-j", JOB, "--lenient"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    try:
        # the format is decided on the first line (prose: text), then all but the unfinished
        # placeholder is shown while the answer is still coming
        child.stdin.write(b"Dear [PERSON_NAME_1],\nwrite to [EMAIL_ADDR")
        child.stdin.flush()
        first = read_until(child.stdout.fileno(), b"Dear John Doe,\nwrite to ")
        assert first == b"Dear John Doe,\nwrite to "
        child.stdin.write(b"ESS_2] today.\n")
        child.stdin.close()
        rest = child.stdout.read()
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
    assert first + rest == b"Dear John Doe,\nwrite to john@example.com today.\n"
    assert "restored 2 of 2 placeholders" in child.stderr.read().decode()
    with Custodian.open(vault) as custodian:
        [entry] = custodian.log_entries(action="restore")
    assert entry.counts == {"stream": 1}


def test_strict_reports_mangled_placeholders_and_exits_3(vault: Path) -> None:
    answer = "Dear PERSON_NAME_1,\nmail [EMAIL_ADDRESS\n_2] or [PERSON_NAME_1].\n"
    result = invoke(["restore", "-", "-j", JOB], input=answer.encode(), env=ENV)
    assert result.exit_code == 3
    assert result.stdout == answer.replace("[PERSON_NAME_1]", "John Doe")
    assert "PERSON_NAME_1 at 1:6 (mangled)" in result.stderr
    assert "at 2:6 (mangled)" in result.stderr
    assert "try --lenient" in result.stderr
    lenient = invoke(["restore", "-", "-j", JOB, "--lenient"], input=answer.encode(), env=ENV)
    assert lenient.exit_code == 0, lenient.output
    assert lenient.stdout == "Dear John Doe,\nmail john@example.com or John Doe.\n"
    assert "2 repaired (lenient)" in lenient.stderr


def test_the_format_decision_is_shown_with_v_and_in_the_report(vault: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    answer = b"Hi,\nYes, [PERSON_NAME_1],\nBye, now,\n"
    result = invoke(
        ["-v", "restore", "-", "-j", JOB, "--report", str(report)], input=answer, env=ENV
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "Hi,\nYes, John Doe,\nBye, now,\n"  # prose: nothing quoted
    assert "format: text (by content: neither JSON nor delimited)" in result.stderr
    assert json.loads(report.read_text())["format_reason"].startswith("by content")


def test_json_unicode_escaped_placeholders_are_restored(vault: Path) -> None:
    answer = b'{"to": "\\u005bPERSON_NAME_1\\u005d", "cc": "\\u005BEMAIL_ADDRESS_2]"}'
    result = invoke(["restore", "-", "-j", JOB, "--format", "json"], input=answer, env=ENV)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"to": "John Doe", "cc": "john@example.com"}


SAMPLES = [
    "id,name,city\n1,[PERSON_NAME_1],Rome\n2,x,Oslo\n3,y,Bern\n" * 40,
    "Hi [PERSON_NAME_1],\nthanks, see you.\nBest, Ann\n" * 40,
    '{"a": "[PERSON_NAME_1]"}\n{"b": 2}\n' * 40,
    '{"a": ["[PERSON_NAME_1]", 1, 2, {"b": null}]}',
    "a;b\n1;[PERSON_NAME_1]\n" * 60,
    "{not json} [PERSON_NAME_1]\n" * 20,
]


@given(st.sampled_from(SAMPLES), st.integers(1, 700))
def test_the_decision_does_not_depend_on_read_sizes(text: str, chunk: int) -> None:
    resolver = invert_map(MAP, "j")
    data = text.encode()
    whole, reference = restore_bytes(data, resolver, RestoreOptions(chunk_size=1 << 20))
    out, report = restore_bytes(data, resolver, RestoreOptions(chunk_size=chunk))
    assert (report.format, report.format_reason) == (reference.format, reference.format_reason)
    assert out == whole
