"""The docs keep up with the code: every command has help with an example and a section in
docs/cli.md that names each of its options; the README gives the two set-up commands."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from vault.cli import cli

ROOT = Path(__file__).resolve().parent.parent
CLI_MD = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the lazy group loads each command's module
        command = group.get_command(ctx, name)
        assert command is not None, f"{prefix}{name} is listed but not defined"
        full = f"{prefix}{name}"
        yield full, command
        if isinstance(command, click.Group):
            yield from _commands(command, prefix=f"{full} ")


COMMANDS = list(_commands(cli))


def _section(top: str) -> str:
    match = re.search(rf"^## {re.escape(top)}\s*$(.*?)(?=^## |\Z)", CLI_MD, re.M | re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize("name,command", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_help_has_an_example(name: str, command: click.Command) -> None:
    assert "Example" in (command.help or ""), f"`{name} --help` needs an Example: block"


@pytest.mark.parametrize("name,command", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_and_options_documented(name: str, command: click.Command) -> None:
    section = _section(name.split(" ")[0])
    assert section.strip(), f"docs/cli.md needs a filled `## {name.split(' ')[0]}` section"
    if " " in name:
        assert name in section, f"docs/cli.md does not mention `{name}`"
    for param in command.params:
        if isinstance(param, click.Option):
            longs = [o for o in param.opts + param.secondary_opts if o.startswith("--")]
            if longs and not param.hidden:
                assert any(o in section for o in longs), f"`{name}`: option {longs[0]} undocumented"


def test_readme_gives_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "scripts/demo.sh" in readme and "scripts/test.sh" in readme


def test_ci_runs_the_readme_test_command() -> None:
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.parametrize("name,command", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_choice_of_an_option_is_documented(name: str, command: click.Command) -> None:
    """A new choice (a restore format, an audit output) reaches the CLI by itself; the hand-
    written `auto|text|...` lists in docs/cli.md must follow it."""
    section = _section(name.split(" ")[0])
    for param in command.params:
        if isinstance(param, click.Option) and isinstance(param.type, click.Choice):
            for choice in param.type.choices:
                c = re.escape(str(choice))
                listed = re.search(rf"\|{c}(?![\w-])|(?<![\w-]){c}\\?\||`{c}`", section)
                assert listed, (
                    f"docs/cli.md `## {name}`: {param.opts[0]} choice `{choice}` undocumented"
                )
