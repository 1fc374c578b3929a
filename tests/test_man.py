"""Man pages are generated from the commands (scripts/make-man.py): one per command and
sub-command, naming every option, and valid roff (groff reports no warning)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from vault.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make-man.py"


def _commands(group: click.Group, ctx: click.Context, path: list[str]):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield [*path, name], command
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx), [*path, name])


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("man")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return out


def test_one_page_per_command_naming_every_option(pages: Path) -> None:
    root = click.Context(cli, info_name="questa-vault")
    commands = list(_commands(cli, root, ["questa-vault"]))
    assert len(commands) > 20
    for path, command in commands:
        text = (pages / f"{'-'.join(path)}.1").read_text(encoding="utf-8")
        assert ".SH SYNOPSIS" in text and ".SH DESCRIPTION" in text
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                longs = [o for o in param.opts if o.startswith("--")]
                if longs:
                    assert longs[0].replace("-", "\\-") in text or longs[0] in text, (path, longs)
    main = (pages / "questa-vault.1").read_text(encoding="utf-8")
    assert main.index("\\fBinit\\fR") < main.index("\\fBsubmit\\fR") < main.index("\\fBaudit\\fR")


def test_pages_are_valid_roff(pages: Path) -> None:
    groff = shutil.which("groff")
    if groff is None:
        reason = (
            "!!! GROFF NOT INSTALLED: the man pages were not rendered "
            "(apt-get install groff-base) !!!"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    for page in sorted(pages.glob("*.1")):
        proc = subprocess.run(
            [groff, "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True
        )
        assert proc.returncode == 0 and proc.stderr == "", (page.name, proc.stderr)
