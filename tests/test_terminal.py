"""Terminal output is inert (issue 11, point 6): server-chosen labels, error text and file
names, and restored originals, reach a terminal with every control character visibly escaped;
files and pipes get the exact bytes; audit CSV neutralizes formula-like server-chosen cells."""

from __future__ import annotations

import csv
import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import PASSPHRASE, new_vault, sample_job
from hypothesis import given
from hypothesis import strategies as st

from vault.cli._terminal import InertStream, inert, inert_json, inert_lines, inert_text

ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}
CONTROLS = [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F),
                             *range(0x2066, 0x206A)]]  # fmt: skip
# What a hostile server would plant: retitle, clear, reset, OSC 52 clipboard write, BEL,
# backspaces, a CSI in its C1 form, bidi overrides.
HOSTILE = [
    "\x1b]0;owned\x07",
    "\x1b[2J\x1b[H",
    "\x1bc",
    "\x1b]52;c;ZWNobyBvd25lZA==\x07",
    "\x08\x08\x08",
    "\x9b31m",
    "\u202egnp.exe",
    "\u2066x\u2069",
]


def _raw_controls(text: str) -> list[str]:
    return sorted({ch for ch in text if ch in CONTROLS and ch != "\n"})


@given(st.text())
def test_inert_leaves_no_control_character_and_keeps_the_rest(text: str) -> None:
    out = inert(text)
    assert not any(ch in CONTROLS for ch in out)
    assert inert(out) == out  # idempotent: the escapes are printable
    assert all(ch in out for ch in text if ch not in CONTROLS)  # nothing else is touched


SURROGATES = [chr(c) for c in range(0xD800, 0xE000)]


def _escaped(text: str, kept: str = "", json: bool = False) -> str:
    """What the inert functions must make of ``text``, one character at a time."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in kept or (ch not in CONTROLS and ch not in SURROGATES) or (json and code < 0x7F):
            out.append(ch)
        else:
            out.append(f"\\x{code:02x}" if code < 0x100 and not json else f"\\u{code:04x}")
    return "".join(out)


@given(st.text(st.one_of(st.characters(), st.sampled_from([*CONTROLS, *SURROGATES]))))
def test_controls_and_lone_surrogates_are_escaped_and_nothing_else(text: str) -> None:
    """Each control character and each lone surrogate (text that is not Unicode, which a
    hostile service can send) becomes its escape; every other character stays as it is."""
    assert inert(text) == _escaped(text)
    assert inert_lines(text) == _escaped(text, kept="\n")
    assert inert_json(text) == _escaped(text, json=True)
    if "\r" not in text:
        assert inert_text(text) == _escaped(text, kept="\n\t")
    for out in (inert(text), inert_lines(text), inert_text(text), inert_json(text)):
        out.encode("utf-8")  # every output can be written as UTF-8


@pytest.mark.parametrize("code", [ord(c) for c in CONTROLS])
def test_each_control_character_is_escaped_visibly(code: int) -> None:
    ch = chr(code)
    expected = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    assert inert(f"a{ch}b") == f"a{expected}b"
    assert inert_lines(f"a{ch}b") == ("a\nb" if ch == "\n" else f"a{expected}b")
    if code >= 0x7F:  # JSON keeps the character as a \\u escape of the same value
        assert inert_json(f'"a{ch}b"') == f'"a\\u{code:04x}b"'


def test_restored_text_keeps_lines_tabs_and_crlf_only() -> None:
    assert inert_text("a\tb\r\nc\nd\re\x1b") == "a\tb\r\nc\nd\\x0de\\x1b"
    out = io.BytesIO()
    stream = InertStream(out)
    for piece in (b"Jo\xc3", b"\xa9 \x1b[2J\r", b"\nnext\xff\r"):  # split UTF-8, CRLF, bad byte
        stream.write(piece)
    stream.flush()
    assert out.getvalue() == b"Jo\xc3\xa9 \\x1b[2J\r\nnext\\xff\\x0d"


@pytest.fixture
def hostile_vault(isolated_env: Path) -> Path:
    """Jobs whose server-chosen labels, file name and error text are hostile."""
    mapping = {f"orig{n}": f"[{label}EVIL_{n}]" for n, label in enumerate(HOSTILE, 1)}
    mapping["=formula"] = "[=SUM(A1)_90]"
    mapping["@formula"] = "[@cmd_91]"
    with new_vault(isolated_env) as custodian:
        custodian.store_job(sample_job("job-a", mapping=mapping, filename="\x1b]0;x\x07a.csv"),
                          actor="alice")  # fmt: skip
        custodian.store_job(
            sample_job("job-f", status="failed", error="boom \x1b[2J\u202e\x07", mapping={}),
            actor="alice",
        )
    return isolated_env


COMMANDS = [
    ["jobs"],
    ["show", "job-a"],
    ["show", "job-a", "--reveal"],
    ["show", "job-f", "--reveal"],
    ["audit"],
    ["audit", "--summary"],
    ["audit", "--deep"],
    ["log"],
    ["show", "job-a", "--json"],
    ["audit", "--format", "json"],
    ["show", "no-such-\x1b[2J-job"],  # an error that echoes the user's argument
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a)[:30] for a in COMMANDS])
def test_every_human_output_is_inert(hostile_vault: Path, args: list[str]) -> None:
    result = invoke(args, env=ENV)
    assert result.exit_code in (0, 1, 3), result.output
    assert _raw_controls(result.stdout) == []
    assert _raw_controls(result.stderr) == []


def test_labels_are_shown_escaped_not_dropped(hostile_vault: Path) -> None:
    result = invoke(["show", "job-a"], env=ENV)
    assert "\\x9b31mEVIL" in result.stdout
    assert "\\u202egnp.exeEVIL" in result.stdout


def test_audit_csv_neutralizes_formula_cells_from_the_server(hostile_vault: Path) -> None:
    result = invoke(["audit", "--format", "csv"], env=ENV)
    assert result.exit_code == 0
    header = next(csv.reader(io.StringIO(result.stdout)))
    labels = [h for h in header if "SUM" in h or "cmd" in h]
    assert labels == ["'=SUM(A1)", "'@cmd"]
    for cell in header:
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r")


def _run_on_pty(args: list[str], env: dict[str, str]) -> bytes:
    """Run the CLI with its standard output on a pseudo-terminal; what the terminal got."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vault", *args],
        stdout=slave,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the other end closed
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(30)
    os.close(master)
    return b"".join(chunks)


@pytest.fixture
def original_vault(isolated_env: Path, tmp_path: Path) -> tuple[Path, Path]:
    with new_vault(isolated_env) as custodian:
        custodian.store_job(
            sample_job("job-o", mapping={"Mal\x1b]52;c;aGk=\x07lory\u202e": "[PERSON_NAME_1]"}),
            actor="alice",
        )
    answer = tmp_path / "answer.txt"
    answer.write_bytes(b"Dear [PERSON_NAME_1]\tok\n")
    return isolated_env, answer


def test_restore_to_a_terminal_is_inert_unless_raw(
    original_vault: tuple[Path, Path], tmp_path: Path
) -> None:
    vault, answer = original_vault
    env = {**ENV, "QUESTA_VAULT": str(vault)}
    shown = _run_on_pty(["restore", str(answer), "-j", "job-o"], env)
    assert b"\x1b" not in shown and b"\x07" not in shown
    assert b"Mal\\x1b]52;c;aGk=\\x07lory\\u202e" in shown
    raw = _run_on_pty(["restore", str(answer), "-j", "job-o", "--raw"], env)
    assert "Mal\x1b]52;c;aGk=\x07lory\u202e".encode() in raw
    piped = invoke(["restore", str(answer), "-j", "job-o"], env=ENV)  # not a terminal: exact
    assert piped.stdout == "Dear Mal\x1b]52;c;aGk=\x07lory\u202e\tok\n"


def test_audit_csv_on_a_terminal_is_inert_and_exact_in_a_pipe(hostile_vault: Path) -> None:
    """Found by an attack on main: the CSV listing wrote server-chosen labels raw to a TTY."""
    env = {**ENV, "QUESTA_VAULT": str(hostile_vault)}
    for args in (["audit", "--format", "csv"], ["audit", "--summary", "--format", "csv"]):
        shown = _run_on_pty(args, env)
        assert b"EVIL" in shown
        assert _raw_controls(shown.decode("utf-8", "replace").replace("\r\n", "\n")) == []
        piped = invoke(args, env=ENV)  # a pipe gets the exact CSV
        assert _raw_controls(piped.stdout) != []
