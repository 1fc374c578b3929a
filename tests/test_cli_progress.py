"""The progress bars as a terminal sees them: the real CLI in a child process with its
standard output and error on a pseudo-terminal (rich draws bars only there), against the
simulator over loopback. CliRunner and pipes never show a bar, which is how a `submit` that
died of its own upload bar on every terminal stayed green (review-newuser6, finding 1)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_KDF, invoke

from vault.cli._app import AppContext
from vault.cli._outcomes import Reporter
from vault.simulator import SimulatorConfig, run_simulator

PASS = "correct horse battery staple"
OPAQUE = b"%PDF-1.4 opaque bytes \x00\xff Phoenix"
# One file of every kind that is uploaded (a byte bar each) plus a text job (no upload).
FILES = {
    "people.csv": b"name,email\nJohn Doe,john@example.com\n" * 400,
    "report.pdf": OPAQUE * 2000,
    "letter.docx": OPAQUE,
    "sheet.xlsx": OPAQUE * 10,
    "note.txt": b"Hi John Doe\n",
}


@pytest.fixture
def sim() -> Iterator[Any]:
    with run_simulator(SimulatorConfig(processing_time=0.05, progress_steps=2)) as s:
        yield s


@pytest.fixture
def env(sim: Any, isolated_env: Path) -> dict[str, str]:
    values = {"QUESTA_API_URL": sim.url, "QUESTA_VAULT_PASSPHRASE": PASS}
    result = invoke(["init", "--user", "alice", *FAST_KDF], env=values)
    assert result.exit_code == 0, result.output
    return values


def on_terminal(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on one pseudo-terminal; its exit code and text."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vault", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**os.environ, **env, "TERM": "xterm", "COLUMNS": "100"},
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_submit_on_a_terminal_archives_every_kind_of_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    paths = []
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    code, shown = on_terminal(["submit", *paths], env)
    assert "internal error" not in shown, shown
    assert code == 0, shown
    assert "5 files: 5 archived" in shown, shown
    # The bar was drawn (the per-file byte bars come and go faster than rich redraws).
    assert "\x1b[?25l" in shown and "submitting" in shown, "no bar: not a terminal?\n" + shown
    listed = invoke(["jobs", "--status", "archived"], env=env)
    assert listed.stdout.count("archived") >= 5, listed.output


def test_fetch_and_sync_on_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    paths = []
    for name in ("people.csv", "report.pdf", "note.txt", "sheet.xlsx"):
        (tmp_path / name).write_bytes(FILES[name])
        paths.append(str(tmp_path / name))
    submitted = invoke(["submit", "--no-wait", *paths[:2]], env=env)
    assert submitted.exit_code == 0, submitted.output
    pending = [line.split()[1] for line in submitted.stdout.splitlines() if line.strip()]
    code, shown = on_terminal(["fetch", *pending], env)
    assert "internal error" not in shown and code == 0, shown
    assert "2 jobs: 2 archived" in shown, shown
    submitted = invoke(["submit", "--no-wait", *paths[2:]], env=env)
    assert submitted.exit_code == 0, submitted.output
    code, shown = on_terminal(["sync"], env)
    assert "internal error" not in shown and code == 0, shown
    assert "archived" in shown, shown


class _Tty:
    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def test_reporter_survives_any_order_of_upload_reports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The class of the bug, without a network: a report after the end (httpx's last empty
    read), a retry that starts the same file again, and reports for a file never seen."""
    monkeypatch.setattr(sys, "stderr", _Tty())
    ctx = AppContext(vault_path=tmp_path / "v.db", user=None, verbose=0, quiet=False,
                     passphrase_file=None)  # fmt: skip
    with Reporter(ctx, 2, as_json=False, label="submitting") as report:
        assert report.progress is not None, "the test needs the bar drawn"
        a, b = tmp_path / "a.csv", tmp_path / "b.pdf"
        for sent in (0, 50, 100, 100, 100):  # done, then the read at EOF reports again
            report.uploaded(a, sent, 100)
        for sent in (0, 40, 100, 100):  # a retry sends the same file from the start
            report.uploaded(a, sent, 100)
        report.uploaded(b, 10, 10)  # first report is already the end
        report.uploaded(b, 10, 10)
        assert report.progress.tasks == [report.progress.tasks[0]], "finished bars stay drawn"
