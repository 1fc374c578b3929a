"""`run()`, the one place errors become exit codes: a foreign exception shows a traceback only
when the global -v option was really given (parsed by click, not guessed from argv text)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from conftest import invoke

from vault.cli import cli
from vault.cli._app import COMMANDS

SECRET = "Ann Original"


@click.command("crash", hidden=True)
@click.option("-j", "--job", "jobs", multiple=True)
@click.argument("files", nargs=-1)
def _crash(jobs: tuple[str, ...], files: tuple[str, ...]) -> None:
    raise RuntimeError(f"a foreign error quoting {SECRET}")


@pytest.fixture(autouse=True)
def crash_command() -> Iterator[None]:
    """A command whose bug is a foreign exception, added to the real group for these tests."""
    cli.add_command(_crash)
    yield
    cli.commands.pop("crash")


@pytest.mark.parametrize(
    "args",
    [
        ["-v", "crash"],
        ["-vv", "crash"],
        ["-vvv", "crash"],
        ["--verbose", "crash"],
        ["-q", "-v", "crash"],
        ["-v", "crash", "-j", "job-1", "in.txt"],
    ],
)
def test_a_real_verbose_option_shows_the_traceback(args: list[str]) -> None:
    with pytest.raises(RuntimeError, match="a foreign error"):
        invoke(args)


@pytest.mark.parametrize(
    "args",
    [
        ["crash"],
        ["crash", "-j", "-v"],  # "-v" is the value of -j
        ["crash", "--job", "--verbose"],
        ["crash", "--", "-v"],  # an input file named "-v"
        ["crash", "--", "-vv"],
        ["--user", "-v", "crash"],  # a user named "-v"
    ],
)
def test_without_verbose_no_traceback_reaches_the_user(args: list[str]) -> None:
    result = invoke(["--", *args])  # the leading "--" is for invoke's own parser, not ours
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "questa-vault: internal error (RuntimeError); rerun with -v for details\n"
    )
    assert SECRET not in result.output


def test_verbosity_does_not_leak_into_the_next_run() -> None:
    with pytest.raises(RuntimeError):
        invoke(["-v", "crash"])
    assert invoke(["crash", "-j", "-v"]).exit_code == 1


@pytest.fixture
def broken_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A command whose module fails when imported (as a bad edit or a broken install does):
    commands are imported while click resolves them, before the group's callback runs."""
    (tmp_path / "broken_cmd_module.py").write_text(
        f"raise RuntimeError('a module that fails to load, quoting {SECRET}')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(COMMANDS, "broken", "broken_cmd_module")
    return "broken"


@pytest.mark.parametrize("flags", [["-v"], ["-vv"], ["--verbose"], ["-q", "-v"]])
def test_verbose_shows_why_a_command_module_failed_to_load(
    broken_command: str, flags: list[str]
) -> None:
    with pytest.raises(RuntimeError, match="fails to load"):
        invoke([*flags, broken_command])


def test_a_command_module_that_fails_to_load_is_one_line_without_verbose(
    broken_command: str,
) -> None:
    result = invoke([broken_command])
    assert (result.exit_code, result.stderr) == (
        1,
        "questa-vault: internal error (RuntimeError); rerun with -v for details\n",
    )
    assert SECRET not in result.output


@pytest.mark.parametrize("args", [[], ["user"], ["config"], ["secret"]], ids=repr)
def test_a_group_run_bare_prints_its_help_as_lines(args: list[str]) -> None:
    """Regression (review): click 8.2+ raises a bare group's help as a usage error, which the
    one-line rule printed as one line with every line break escaped (``\\x0a``)."""
    result = invoke(args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"Usage: questa-vault {' '.join(args)}".rstrip()), lines[0]
    assert len(lines) > 5 and "\\x0a" not in result.stderr and "Commands:" in result.stderr


@pytest.mark.parametrize(
    ("args", "where", "message"),
    [
        (["restore", "a.txt", "-j"], "questa-vault restore", "Option '-j' requires an argument"),
        (["jobs", "--json=1"], "questa-vault jobs", "Option '--json' does not take a value"),
        (["jobs", "--status"], "questa-vault jobs", "Option '--status' requires an argument"),
        (
            ["user", "add", "bob", "--public-key"],
            "questa-vault user add",
            "Option '--public-key' requires an argument",
        ),
        (["--vault"], "questa-vault", "Option '--vault' requires an argument"),
        # click writes a choice's values one per line: one line here too, without escapes
        (
            ["secret", "set"],
            "questa-vault secret set",
            "Missing argument '{passphrase|token}'. Choose from: passphrase, token",
        ),
    ],
    ids=repr,
)
def test_a_missing_or_unwanted_option_value_points_at_its_commands_help(
    args: list[str], where: str, message: str
) -> None:
    """click's parser raises these without a context; the command's own is given them
    (``vault.cli._app._Parsing``), so the line names the command's help, not the top level's."""
    result = invoke(args)
    assert result.exit_code == 2
    assert result.stderr == f"questa-vault: {message} (see '{where} --help')\n"
