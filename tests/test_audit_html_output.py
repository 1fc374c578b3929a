"""`audit --html FILE` follows restore's and export's output rule: an existing file only with
--force, never the command's own input, a symlink replaced itself (its target untouched); and
every chart series has its own colour."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import new_vault, sample_job

from vault.audit._html import PALETTE, series_colours


@pytest.fixture
def vault(isolated_env: Path) -> Path:
    with new_vault(isolated_env) as custodian:
        custodian.store_job(sample_job("job-1"), actor="alice")
    return isolated_env


def test_an_existing_file_is_refused_without_force(vault: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.html"
    out.write_text("keep me", encoding="utf-8")
    out.chmod(0o640)
    refused = invoke(["audit", "--html", str(out)])
    assert refused.exit_code == 1
    assert refused.stderr == f"questa-vault: {out} exists; --force replaces it\n"
    assert out.read_text(encoding="utf-8") == "keep me"
    replaced = invoke(["audit", "--html", str(out), "--force"])
    assert replaced.exit_code == 0, replaced.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # a replaced file keeps its mode


def test_quiet_writes_the_page_only(vault: Path, tmp_path: Path) -> None:
    """-q audit --html FILE (a cron job's report): the page, and no text table on stdout."""
    out = tmp_path / "audit.html"
    loud = invoke(["audit", "--html", str(out)])
    assert loud.exit_code == 0 and "job-1"[:5] in loud.stdout
    out.unlink()
    quiet = invoke(["-q", "audit", "--html", str(out)])
    assert quiet.exit_code == 0, quiet.output
    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_never_its_own_input(vault: Path) -> None:
    before = vault.read_bytes()
    for extra in ([], ["--force"]):
        result = invoke(["audit", "--html", str(vault), *extra])
        assert result.exit_code == 1 and "this command's own input" in result.stderr
    assert vault.read_bytes() == before


def test_a_symlink_is_never_followed_onto_another_file(vault: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("precious", encoding="utf-8")
    link = tmp_path / "audit.html"
    link.symlink_to(target)
    assert invoke(["audit", "--html", str(link)]).exit_code == 1
    result = invoke(["audit", "--html", str(link), "--force"])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == "precious"
    assert not link.is_symlink() and stat.S_IMODE(os.lstat(link).st_mode) == 0o600
    dangling = tmp_path / "dangling.html"
    dangling.symlink_to(tmp_path / "nowhere.html")
    assert invoke(["audit", "--html", str(dangling)]).exit_code == 1
    assert not (tmp_path / "nowhere.html").exists()


@pytest.mark.parametrize("count", [1, 10, 11, 25, 60, 200])
def test_every_series_has_its_own_colour(count: int) -> None:
    colours = series_colours(count)
    assert len(colours) == count == len(set(colours))
    assert colours[: len(PALETTE)] == PALETTE[:count]
    assert all(c.startswith("#") and len(c) == 7 and c != "#ffffff" for c in colours)
