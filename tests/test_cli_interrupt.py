"""An interrupt stops any command with one line and 130 (Ctrl-C) or 143 (SIGTERM), not only
the commands that name what it left pending (those are in test_cli_archive.py): click's main
turns an interrupt into "aborted", exit 1, after an empty line, unless the root group passes it
on as ``Interrupted`` (``vault.cli._app.LazyGroup.invoke``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import interruptible, invoke
from custody_kit import PASSPHRASE, new_vault, sample_job

from vault.cli import _app

REPO = Path(__file__).resolve().parent.parent


def _failing_jobs(monkeypatch: pytest.MonkeyPatch, fail: Any) -> None:
    """``jobs`` calls ``fail`` where it would open the vault."""
    import vault.cli.jobs

    def open_vault(ctx: object) -> None:
        fail()

    monkeypatch.setattr(vault.cli.jobs, "open_vault", open_vault)


def _interrupt() -> None:
    raise KeyboardInterrupt


def _end_of_input() -> None:
    raise EOFError


@pytest.mark.parametrize(
    ("fail", "code", "line"),
    [
        (_interrupt, 130, "questa-vault: interrupted"),
        (lambda: _app._on_sigterm(signal.SIGTERM, None), 143, "questa-vault: interrupted"),
        (_end_of_input, 1, "questa-vault: aborted"),
    ],
    ids=["ctrl-c", "sigterm", "end-of-input"],
)
def test_an_interrupt_in_any_command_is_one_line_and_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path, fail: Any, code: int, line: str
) -> None:
    _failing_jobs(monkeypatch, fail)
    result = invoke(["jobs"])
    assert (result.exit_code, result.stderr, result.stdout) == (code, line + "\n", "")


@pytest.mark.sqlite_only("signal handling in a child process; no backend-specific step")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_restore_waiting_for_its_input_stops_on_a_signal(
    tmp_path: Path, signum: int, code: int
) -> None:
    """The restore reads a FIFO nobody writes: the signal comes while it waits."""
    vault = tmp_path / "vault.db"
    with new_vault(vault) as kr:
        kr.store_job(sample_job("job-1"), actor="alice")
    fifo = tmp_path / "answer.txt"
    os.mkfifo(fifo)
    out = tmp_path / "restored.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTA_")}
    env.update(QUESTA_VAULT=str(vault), QUESTA_VAULT_PASSPHRASE=PASSPHRASE, PYTHONPATH=str(REPO))
    args = ["restore", str(fifo), "-j", "job-1", "-o", str(out)]
    child = subprocess.Popen(
        [sys.executable, "-m", "vault", *args], env=env, cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible,
    )  # fmt: skip
    writer = -1
    try:
        deadline = time.monotonic() + 60
        while writer == -1 and child.poll() is None and time.monotonic() < deadline:
            try:  # succeeds once the restore has the FIFO open for reading
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.02)
        assert writer != -1, child.communicate(timeout=30)
        time.sleep(0.2)  # into its read
        child.send_signal(signum)
        stdout, stderr = child.communicate(timeout=30)
    finally:
        if writer != -1:
            os.close(writer)
        if child.poll() is None:
            child.kill()
            child.wait()
    assert (child.returncode, stderr, stdout) == (code, "questa-vault: interrupted\n", "")
    assert not out.exists()


def test_a_repeated_sigterm_leaves_the_first_ones_report() -> None:
    """Only the first SIGTERM of a run raises: later ones while it unwinds (its report, the
    handler being put back) do nothing."""
    _app._run.terminated = False
    with pytest.raises(_app.Terminated):
        _app._on_sigterm(signal.SIGTERM, None)
    assert _app._on_sigterm(signal.SIGTERM, None) is None
    _app._run.terminated = False


@pytest.mark.parametrize("handler", [signal.SIG_IGN, signal.SIG_DFL], ids=["ignored", "default"])
def test_an_error_inside_the_sigterm_guard_is_that_error(handler: Any) -> None:
    saved = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(ValueError, match="the command's own"), _app._sigterm_as_interrupt():
            raise ValueError("the command's own")
        assert signal.getsignal(signal.SIGTERM) == handler
    finally:
        signal.signal(signal.SIGTERM, saved)
