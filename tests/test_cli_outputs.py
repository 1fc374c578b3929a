"""restore -o and export -o: an existing file only with --force (keeping its mode), never the
command's own input (the input file, the vault and its companions, the secret files)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from conftest import FAST_KDF, invoke

from vault.errors import OutputExists
from vault.restore import AtomicOutput
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


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("command", ["restore", "export"])
def test_existing_file_needs_force_and_keeps_its_mode(
    command: str, job: str, tmp_path: Path
) -> None:
    out = tmp_path / "out.txt"
    out.write_text("precious\n", encoding="utf-8")
    out.chmod(0o640)
    args = [command, *(["-j", job] if command == "restore" else [job]), "-o", str(out)]
    refused = invoke(args, env=ENV)
    assert refused.exit_code == 1
    assert refused.stderr == f"questa-vault: {out} exists; --force replaces it\n"
    assert out.read_text(encoding="utf-8") == "precious\n" and _mode(out) == 0o640
    forced = invoke([*args, "--force"], env=ENV)
    assert forced.exit_code == 0, forced.output
    assert out.read_text(encoding="utf-8") != "precious\n"
    assert _mode(out) == 0o640  # the mode is kept
    fresh = tmp_path / "fresh.txt"
    args[-1] = str(fresh)
    assert invoke(args, env=ENV).exit_code == 0
    assert _mode(fresh) == 0o600


@pytest.mark.parametrize("target", ["vault", "wal", "passphrase"])
@pytest.mark.parametrize("command", ["restore", "export"])
def test_own_input_is_refused_even_with_force(
    command: str, target: str, job: str, isolated_env: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text(PASS + "\n", encoding="utf-8")
    path = {
        "vault": isolated_env,
        "wal": isolated_env.with_name(isolated_env.name + "-wal"),
        "passphrase": secret,
    }[target]
    before = path.read_bytes() if path.exists() else None
    args = [command, *(["-j", job] if command == "restore" else [job])]
    result = invoke(["--passphrase-file", str(secret), *args, "-o", str(path), "--force"])
    assert result.exit_code == 1
    assert "own input" in result.stderr
    assert (path.read_bytes() if path.exists() else None) == before


def test_restore_report_to_stdout(job: str, tmp_path: Path) -> None:
    out = tmp_path / "restored.txt"
    result = invoke(["restore", "-j", job, "-o", str(out), "--report", "-"], env=ENV)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["restored"]
    assert not (Path.cwd() / "-").exists()
    both = invoke(["restore", "-j", job, "--report", "-"], env=ENV)
    assert both.exit_code == 2


def test_a_name_that_appears_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    """The atomic check at the rename: no window between the early check and the link."""
    out = tmp_path / "race" / "race.txt"
    out.parent.mkdir()
    with AtomicOutput(out, replace=False) as atomic:
        atomic.file.write(b"restored\n")
        out.write_bytes(b"appeared meanwhile\n")
        with pytest.raises(OutputExists):
            atomic.commit()
    assert out.read_bytes() == b"appeared meanwhile\n"
    assert os.listdir(out.parent) == ["race.txt"]  # no temporary file left


@pytest.mark.parametrize("force", [False, True])
def test_a_symlink_at_the_output_is_never_followed(job: str, tmp_path: Path, force: bool) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("victim\n", encoding="utf-8")
    victim.chmod(0o644)
    link = tmp_path / "out.txt"
    link.symlink_to(victim)
    extra = ["--force"] if force else []
    result = invoke(["restore", "-j", job, "-o", str(link), *extra], env=ENV)
    assert result.exit_code == (0 if force else 1), result.output
    assert victim.read_text(encoding="utf-8") == "victim\n"
    assert _mode(victim) == 0o644
    if force:  # the link itself was replaced by a 0600 file, not the victim's mode
        assert not link.is_symlink() and _mode(link) == 0o600
