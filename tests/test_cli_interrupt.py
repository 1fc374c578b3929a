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

import click
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


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by a fresh interpreter in the repository."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO
    )


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


def test_a_second_sigterm_ends_the_process_as_sigterms_default_would() -> None:
    """The first SIGTERM of a run raises ``Terminated``; a second one (the first still
    unwinding, or lost where Python could only print it, such as inside the import machinery)
    ends the process at once: a process must never be left waiting with SIGTERM disarmed."""
    code = (
        "import signal\n"
        "from vault.cli import _app\n"
        "signal.signal(signal.SIGTERM, _app._on_sigterm)\n"
        "_app._run.terminated = False\n"
        "try:\n"
        "    _app._on_sigterm(signal.SIGTERM, None)\n"
        "except _app.Terminated:\n"
        "    print('first', flush=True)\n"
        "_app._on_sigterm(signal.SIGTERM, None)\n"
        "print('still running', flush=True)\n"
    )
    result = _python(code)
    assert (result.returncode, result.stdout) == (-signal.SIGTERM, "first\n"), result.stderr


def test_an_interrupt_while_the_settings_load_is_one_line(
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    def load(path: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_app, "load", load)
    result = invoke(["jobs"])
    assert (result.exit_code, result.stderr) == (130, "questa-vault: interrupted\n")


def test_an_interrupt_while_the_options_are_parsed_is_one_line(
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    """An option's default, environment variable, callback or prompt runs in the parsing."""

    def lookup_default(self: click.Context, name: str, call: bool = True) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(click.Context, "lookup_default", lookup_default)
    result = invoke(["jobs"])
    assert (result.exit_code, result.stderr) == (130, "questa-vault: interrupted\n")


def test_an_interrupt_inside_a_task_group_is_one_line(
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    def grouped() -> None:
        raise BaseExceptionGroup("tasks", [KeyboardInterrupt()])

    _failing_jobs(monkeypatch, grouped)
    result = invoke(["jobs"])
    assert (result.exit_code, result.stderr) == (130, "questa-vault: interrupted\n")


def test_on_a_terminal_the_line_starts_after_the_echoed_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    monkeypatch.setattr(_app, "_stderr_is_terminal", lambda: True)
    _failing_jobs(monkeypatch, _interrupt)
    result = invoke(["jobs"])
    assert (result.exit_code, result.stderr) == (130, "\nquesta-vault: interrupted\n")


def test_an_interrupt_while_the_command_line_loads_is_one_line() -> None:
    """Ctrl-C before ``run``: while ``vault.__main__`` imports the command line."""
    code = (
        "import sys\n"
        "class Interrupting:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'vault.cli':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupting())\n"
        "from vault.__main__ import main\n"
        "main()\n"
    )
    result = _python(code)
    assert (result.returncode, result.stderr) == (130, "questa-vault: interrupted\n")


@pytest.mark.parametrize("handler", [signal.SIG_IGN, signal.SIG_DFL], ids=["ignored", "default"])
def test_an_error_inside_the_sigterm_guard_is_that_error(handler: Any) -> None:
    saved = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(ValueError, match="the command's own"), _app._sigterm_as_interrupt():
            raise ValueError("the command's own")
        assert signal.getsignal(signal.SIGTERM) == handler
    finally:
        signal.signal(signal.SIGTERM, saved)
