"""The short-options-first parser (``vault.cli._app._ShortFirstParser``): every command and
group parses with it, and it parses every argument list exactly as click's own parser does,
with the same values, leftovers, order and errors. It only skips the "no such option" error
that click builds, with difflib's suggestions, before it tries a short option."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version

import click
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vault.cli import _app
from vault.cli._app import COMMANDS, cli, fast_short_options

pytestmark = pytest.mark.skipif(
    _app._ShortFirstParser is None,
    reason=f"LOUD SKIP: click {version('click')} lacks the parser internals the "
    "short-options-first parser builds on; commands parse with click's own parser",
)


def _contexts() -> Iterator[tuple[str, click.Context]]:
    """Every command and group, by its path ("questa-vault user add"), in a context as the CLI
    makes it: under its parent's, with its own settings (``config set`` ignores unknown
    options; ``-h`` comes from the root's)."""
    root = click.Context(cli, info_name="questa-vault", **cli.context_settings)
    todo: list[tuple[str, click.Context]] = [("questa-vault", root)]
    while todo:
        path, ctx = todo.pop()
        yield path, ctx
        command = ctx.command
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                child = click.Context(sub, parent=ctx, info_name=name, **sub.context_settings)
                todo.append((f"{path} {name}", child))


CONTEXTS = dict(_contexts())
COMMAND_PATHS = {path: ctx.command for path, ctx in CONTEXTS.items()}


def _parsers(command: click.Command) -> tuple[object, object]:
    ctx = next(ctx for ctx in CONTEXTS.values() if ctx.command is command)
    return command.make_parser(ctx), click.Command.make_parser(command, ctx)


def test_the_contexts_carry_the_settings_the_cli_parses_with() -> None:
    assert CONTEXTS["questa-vault config set"].ignore_unknown_options
    assert CONTEXTS["questa-vault user add"].help_option_names == ["-h", "--help"]


def test_every_command_and_group_parses_short_options_first() -> None:
    assert set(COMMANDS) <= {path.split()[1] for path in COMMAND_PATHS if " " in path}
    for path, command in COMMAND_PATHS.items():
        ours, clicks = _parsers(command)
        assert fast_short_options(ours), path
        assert not fast_short_options(clicks), path


def _outcome(parser: object, args: list[str]) -> tuple[object, ...]:
    try:
        opts, largs, order = parser.parse_args(list(args))  # type: ignore[attr-defined]
    except click.UsageError as exc:
        return ("error", type(exc).__name__, exc.format_message())
    return ("parsed", opts, largs, [param.name for param in order])


def _option_words(command: click.Command) -> list[str]:
    words = ["-", "--", "-x", "--x", "--no-such-option", "-jz", "word", "-=", "--=", "-j=", "-h"]
    for param in command.params:
        for opt in [*param.opts, *param.secondary_opts]:
            words += [opt, f"{opt}=v", f"{opt}="]
            if not opt.startswith("--"):
                words.append(f"{opt}value")
                words.append(f"{opt}q")
    return words


@given(data=st.data(), path=st.sampled_from(sorted(COMMAND_PATHS)))
@example(data=None, path="questa-vault restore")
def test_parses_as_clicks_own_parser(data: st.DataObject | None, path: str) -> None:
    command = COMMAND_PATHS[path]
    if data is None:  # the benchmark's restore, and the combined and attached short forms
        cases = [["a.txt", "-j", "job-1", "-o", "out.txt"], ["-jjob-1", "-o-", "a"], ["-y"]]
    else:
        words = st.sampled_from(_option_words(command)) | st.text(max_size=4)
        cases = [data.draw(st.lists(words, max_size=6))]
    for args in cases:
        ours, clicks = _parsers(command)
        assert _outcome(ours, args) == _outcome(clicks, args), (path, args)


def test_a_restores_short_options_import_no_difflib() -> None:
    """The cost the parser removes: click's parser imports difflib for each short option."""
    code = (
        "import sys, click\n"
        "from vault.cli._app import COMMANDS, cli\n"
        "ctx = click.Context(cli, info_name='questa-vault')\n"
        "command = cli.get_command(ctx, 'restore')\n"
        "parse = command.make_parser(click.Context(command)).parse_args\n"
        "parse(['a.txt', '-j', 'job-1', '-o', 'out.txt'])\n"
        "assert 'difflib' not in sys.modules, 'ours'\n"
        "click.Command.make_parser(command, click.Context(command)).parse_args(['-j', 'x'])\n"
        "assert 'difflib' in sys.modules, 'clicks'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
