"""Per-command defaults from the settings file, checked against the commands themselves.

The file names an option the way its help does: ``[defaults.audit] status = [...]`` for
``--status``, ``json = true`` for ``--json``, ``kdf-memory`` or ``kdf_memory`` for
``--kdf-memory``. Here each key is mapped to the click parameter it feeds (``statuses``,
``as_json``: the names click's ``default_map`` looks up), and each value is checked with the
option's own type, so a wrong one is one line naming the key, the file and what was expected
instead of a failure deep inside the command.

Not every option may come from the file. ``COMMAND_LINE_ONLY`` lists the ones that name one
run's objects (jobs, outputs, names) or weaken a safeguard (``--force``, ``--unsafe-kdf``,
``--yes``, ``erase --older-than``): a file default would act on every later run without being
seen. A boolean the file can set has a negative form on the command line (``--lenient`` /
``--no-lenient``), so one run can undo the file; tests/test_config.py enumerates the click
tree to hold both rules for options added later.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import click

from vault.cli._settings import API_COMMANDS, GLOBAL_KEYS, Settings, Value
from vault.errors import ConfigError

# "command.option" (documented names, "_" for "-"); "*" matches every command.
COMMAND_LINE_ONLY = frozenset(
    {
        "*.force",
        "*.unsafe_kdf",
        "*.job",
        "*.output",
        "*.new_passphrase_file",
        "erase.older_than",
        "erase.yes",
        "grant.all",
        "revoke.all",
        "revoke.keep_enabled",
        "show.reveal",
        "*.deep",
        "log.head",
        "verify.expect_head",
        "restore.report",
        "restore.prefer",
        "audit.html",
        "submit.name",
        "init.user",
        "user.add.public_key",
        "secret.set.from_file",
        "demo.keep",
    }
)
# Commands whose options the file never sets (they manage the file or take no options).
_NO_DEFAULTS = frozenset({"config"})


def option_key(param: click.Option) -> str:
    """The documented name of an option as a settings key: its first long flag without the
    dashes, ``-`` written ``_`` (``--kdf-memory`` -> ``kdf_memory``, ``--json`` -> ``json``)."""
    longs = [o for o in param.opts if o.startswith("--")]
    return (longs[0] if longs else param.opts[0]).lstrip("-").replace("-", "_")


def configurable(command_path: str, param: click.Option) -> bool:
    """Whether the settings file may give ``param`` of ``command_path`` ("user add") a default."""
    if param.hidden or param.name in ("help", "version"):
        return False
    if command_path.split(" ")[0] in _NO_DEFAULTS:
        return False
    key = option_key(param)
    dotted = command_path.replace(" ", ".")
    return f"*.{key}" not in COMMAND_LINE_ONLY and f"{dotted}.{key}" not in COMMAND_LINE_ONLY


def commands(root: click.Group) -> Iterator[tuple[str, click.Command]]:
    """Every command below ``root`` as ("user add", command), groups included."""
    ctx = click.Context(root)
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        if command is None:
            continue
        yield name, command
        if isinstance(command, click.Group):
            for sub, found in commands(command):
                yield f"{name} {sub}", found


def find_command(root: click.Group, command_path: str) -> click.Command | None:
    command: click.Command = root
    for part in command_path.split(" "):
        if not isinstance(command, click.Group):
            return None
        found = command.get_command(click.Context(command), part)
        if found is None:
            return None
        command = found
    return command


def find_option(command_path: str, command: click.Command, key: str) -> click.Option:
    """The option ``key`` names (any of its long flags, ``-`` or ``_``); refuses a parameter
    name that is not a flag (``as_json``), a command-line-only option and an unknown one."""
    wanted = key.lstrip("-").replace("-", "_")
    shown = command_path
    for param in command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        spelled = {o.lstrip("-").replace("-", "_") for o in param.opts if o.startswith("--")}
        if wanted in spelled and not (param.hidden or param.name in ("help", "version")):
            if not configurable(command_path, param):
                raise ConfigError(
                    f"{shown} --{option_key(param).replace('_', '-')} is given on the command "
                    "line only; the settings file cannot set it"
                )
            return param
    hint = ""
    for param in command.params:
        if isinstance(param, click.Option) and param.name == wanted and param.opts:
            hint = f" (the option is --{option_key(param).replace('_', '-')}: use "
            hint += f"{option_key(param)!r})"
    raise ConfigError(f"{shown} has no option {key!r}{hint}")


def expected(param: click.Option) -> str:
    """What a value of ``param`` must be, in words, for error messages."""
    kind = param.type
    if param.is_flag and not param.count:
        text = "true or false"
    elif isinstance(kind, click.Choice):
        text = "one of " + ", ".join(str(c) for c in kind.choices)
    elif isinstance(kind, click.IntRange | click.FloatRange):
        noun = "an integer" if isinstance(kind, click.IntRange) else "a number"
        text = f"{noun} {_range(kind)}".rstrip()
    elif isinstance(kind, click.types.IntParamType):
        text = "an integer"
    elif isinstance(kind, click.types.FloatParamType):
        text = "a number"
    elif isinstance(kind, click.Path):
        text = "a file path (a string, not '-')"
    else:
        text = "a string"
    if param.multiple:
        return f"a list, each {text}"
    return text


def _range(kind: click.IntRange | click.FloatRange) -> str:
    low, high = kind.min, kind.max
    low_op = ">" if kind.min_open else ">="
    high_op = "<" if kind.max_open else "<="
    if low is not None and high is not None:
        return f"{low_op} {low} and {high_op} {high}"
    if low is not None:
        return f"{low_op} {low}"
    if high is not None:
        return f"{high_op} {high}"
    return ""


def file_value(param: click.Option, value: Any) -> Any:
    """Check a TOML value read from the file against ``param``; raise ValueError when it is
    of the wrong type or refused by the option's own type."""
    items = value if param.multiple else [value]
    if param.multiple and not isinstance(value, list):
        raise ValueError
    out = []
    for item in items:
        if not _toml_type_fits(param, item):
            raise ValueError
        try:
            out.append(param.type.convert(item, param, None))
        except click.BadParameter as exc:
            raise ValueError from exc
    return out if param.multiple else out[0]


def _toml_type_fits(param: click.Option, item: Any) -> bool:
    kind = param.type
    if param.is_flag and not param.count:
        return isinstance(item, bool)
    if isinstance(item, bool):
        return False
    if isinstance(kind, click.Path):  # '-' means stdin for one run, never for every run
        return isinstance(item, str) and item != "-"
    if isinstance(kind, click.types.IntParamType):  # IntRange too
        return isinstance(item, int)
    if isinstance(kind, click.types.FloatParamType):
        return isinstance(item, int | float)
    return isinstance(item, str)


def text_value(param: click.Option, text: str) -> Value:
    """Convert ``config set``'s VALUE text with ``param``'s own type (a comma list for a
    repeatable option); raise ValueError when the option would refuse it."""
    if param.is_flag and not param.count:
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ValueError
    parts = [p.strip() for p in text.split(",")] if param.multiple else [text]
    if isinstance(param.type, click.Path) and "-" in parts:
        raise ValueError
    converted: list[str | int | float] = []
    for part in parts:
        try:
            item = param.type.convert(part, param, None)
        except click.BadParameter as exc:
            raise ValueError from exc
        converted.append(item if isinstance(item, int | float) else str(item))
    if param.multiple:
        return [str(item) for item in converted]
    return converted[0]


def check_command_names(settings: Settings, names: Collection[str]) -> None:
    """Every ``[defaults.COMMAND]`` names a command (``names``, known without importing any
    command module), so a misspelt table stops every run rather than being ignored."""
    for command_path in sorted(settings.commands):
        first = command_path.split(" ")[0]
        if first not in names or first in _NO_DEFAULTS:
            raise ConfigError(
                f"config file {settings.path}: [defaults.{command_path.replace(' ', '.')}] "
                "names no command that takes defaults"
            )


def root_defaults(settings: Settings) -> dict[str, Any]:
    """click's ``default_map`` for the root group's own options (vault, user). The commands'
    maps are added by ``command_defaults`` once the command is known, so a run imports and
    checks only the command it runs (``jobs`` never loads the network stack to check
    ``[defaults.submit]``)."""
    return {GLOBAL_KEYS[k][1]: v for k, v in settings.values.items() if k in ("vault", "user")}


def command_defaults(settings: Settings, root: click.Group, name: str) -> dict[str, Any]:
    """The ``default_map`` entry of the top-level command ``name`` and its sub-commands: keyed
    by parameter names, every value checked (ConfigError naming the key, the file and the
    expected type otherwise); api_url and token_file copied into the commands that take them."""
    out: dict[str, Any] = {}
    paths = {p for p in {*API_COMMANDS, *settings.commands} if p.split(" ")[0] == name}
    for command_path in sorted(paths):
        node = out
        for part in command_path.split(" ")[1:]:
            node = node.setdefault(part, {})
        if command_path in API_COMMANDS:
            for key in ("api_url", "token_file"):
                if key in settings.values:
                    node[key] = settings.values[key]
        table = settings.commands.get(command_path, {})
        if not table:
            continue
        command = find_command(root, command_path)
        if command is None or name in _NO_DEFAULTS:
            raise ConfigError(
                f"config file {settings.path}: [defaults.{command_path.replace(' ', '.')}] "
                "names no command that takes defaults"
            )
        for key, value in table.items():
            where = f"defaults.{command_path.replace(' ', '.')}.{key}"
            try:
                param = find_option(command_path, command, key)
            except ConfigError as exc:
                raise ConfigError(f"config file {settings.path}: {exc}") from exc
            try:
                file_value(param, value)  # checked here; click converts it again
            except ValueError:
                raise ConfigError(
                    f"config file {settings.path}: {where} must be {expected(param)}"
                ) from None
            node[param.name or key] = value
    return out


def check_all(settings: Settings, root: click.Group) -> None:
    """Check every per-command table of the file (``config show``)."""
    for name in sorted({p.split(" ")[0] for p in settings.commands}):
        command_defaults(settings, root, name)
