"""``config show|set|path``: the settings file (see ``_settings`` for its layout and the
precedence rule: flags, then environment, then the file, then built-in defaults)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from vault.cli._app import AppContext, Group, cli, emit_json, json_option, pass_app, table
from vault.cli._defaults import (
    check_all,
    expected,
    find_command,
    find_option,
    option_key,
    text_value,
)
from vault.cli._settings import (
    GLOBAL_KEYS,
    Settings,
    Value,
    config_path,
    load,
    save,
    with_value,
)
from vault.cli._terminal import echo
from vault.config import (
    check_api_url,
    check_not_other_url,
    check_url,
    default_vault_path,
    is_database_url,
    redact_url,
)
from vault.errors import ConfigError, InputError


@click.group("config", cls=Group)
def config_group() -> None:
    """Show and change the settings file (API URL, vault, user, token file, per-command
    defaults).

    Precedence: command-line flags, then environment variables, then the file, then built-in
    defaults. The file lives in the platform's user config directory (env QUESTA_VAULT_CONFIG
    names another), is written atomically with mode 0600, and holds no secret.

    \b
    Example:
      questa-vault config set api_url https://anonymizer.example.internal
      questa-vault config set submit.timeout 300
      questa-vault config show
    """


@config_group.command("path")
def config_path_command() -> None:
    """Print the path of the settings file (it need not exist yet).

    \b
    Example:
      questa-vault config path
    """
    echo(str(config_path(os.environ)))


@config_group.command("show")
@json_option
@click.pass_context
def config_show(click_ctx: click.Context, as_json: bool) -> None:
    """Show each setting's effective value and where it comes from (flag, env, file,
    default), then the per-command defaults of the file.

    \b
    Example:
      questa-vault config show --json
    """
    settings = load(config_path(os.environ))  # a broken file: its one-line error
    check_all(settings, cli)  # so are wrong per-command defaults
    root = click_ctx.find_root()
    # a vault URL as messages show it: a settings file written before a secret parameter
    # was refused may still hold one (config set, --vault and QUESTA_VAULT refuse them)
    rows = [
        (k, _vault_shown(v) if k == "vault" else v, src)
        for k, v, src in (_effective(root, settings, key) for key in GLOBAL_KEYS)
    ]
    commands = {name: dict(table) for name, table in sorted(settings.commands.items())}
    if as_json:
        emit_json(
            {
                "path": str(settings.path),
                "exists": settings.exists,
                "settings": {k: {"value": v, "source": src} for k, v, src in rows},
                "commands": commands,
            }
        )
        return
    echo(f"# {settings.path}{'' if settings.exists else ' (not created yet)'}")
    table([("KEY", "VALUE", "SOURCE"), *((k, _shown(v), src) for k, v, src in rows)])
    for name, values in commands.items():
        for key, value in values.items():
            echo(f"{name.replace(' ', '.')}.{key} = {_shown(value)}")


def _effective(root: click.Context, settings: Settings, key: str) -> tuple[str, Any, str]:
    """(key, value, source) with the same precedence the commands apply."""
    param, env = GLOBAL_KEYS[key][1], GLOBAL_KEYS[key][2]
    if key in ("vault", "user"):
        source = root.get_parameter_source(param)
        value = root.params.get(param)
        if source is not None and source.name == "COMMANDLINE":
            return key, str(value), "flag"
    if env is not None and os.environ.get(env):
        return key, os.environ[env], f"env {env}"
    if key in settings.values:
        return key, settings.values[key], "file"
    if key == "vault":
        return key, str(default_vault_path()), "default"
    if key == "keyring":
        return key, False, "default"
    return key, None, "default"


def _vault_shown(value: Any) -> Any:
    """A vault setting as written, unless it is a URL the check refuses (a secret in it):
    then as messages show it, every value not known to be harmless hidden."""
    if not is_database_url(str(value)):
        return value
    try:
        check_url(str(value))
    except InputError:
        return redact_url(str(value))
    return value


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


# A VALUE may start with "-" (`config set submit.start-index -1` is then refused by the
# option's range, not taken for an unknown flag).
@config_group.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("key")
@click.argument("value", required=False)
@click.option("--unset", is_flag=True, help="Remove KEY from the file instead.")
@pass_app
def config_set(ctx: AppContext, key: str, value: str | None, unset: bool) -> None:
    """Set KEY to VALUE in the settings file (or remove it with --unset).

    KEY is a top-level setting (api_url, token_file, vault, user, keyring) or COMMAND.OPTION
    for a per-command default, such as submit.timeout, restore.lenient or user.add.kdf_memory.
    KEY uses the option's name as --help shows it (audit.status, jobs.json). The value is
    checked as the option itself would check it; a VALUE starting with '-' is a value.
    Options that name one run's objects or weaken a safeguard (--force, -o, -j, --deep, ...)
    are command-line only.

    \b
    Example:
      questa-vault config set api_url http://127.0.0.1:8765
      questa-vault config set restore.lenient true
      questa-vault config set --unset submit.timeout
    """
    if unset == (value is not None):
        raise click.UsageError("give VALUE, or --unset without a VALUE")
    settings = load(config_path(os.environ))
    if value is not None and not _utf8(value):
        raise ConfigError("the value is not valid UTF-8")
    try:
        if key in GLOBAL_KEYS:
            command, name = None, key
            checked = None if value is None else _global(key, value)
        else:
            command, name, param = _command_option(key)
            checked = None if value is None else _option_value(key, param, value)
    except ConfigError as exc:  # the key, what it must be, and the file left as it was
        raise ConfigError(f"{exc}; {settings.path} is unchanged") from exc
    save(with_value(settings, command, name, checked))
    ctx.say(f"{'removed' if unset else 'set'} {key} in {settings.path}")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _global(key: str, value: str) -> Value:
    if key == "keyring":
        return _boolean(key, value)
    if not value:
        raise ConfigError(f"{key} must not be empty")
    if key == "api_url":
        try:
            check_api_url(value)
        except InputError as exc:
            raise ConfigError(f"api_url: {exc}") from exc
    if key == "vault" and is_database_url(value):
        check_url(value)  # a PostgreSQL URL, never with a password in it
        return value
    if key == "vault":
        try:
            check_not_other_url(value)
        except InputError as exc:
            raise ConfigError(f"vault: {exc}") from exc
    if key in ("vault", "token_file"):
        if value == "-":
            raise ConfigError(f"{key} cannot be '-' in the settings file: name a file")
        return str(Path(value).expanduser().absolute())
    return value


def _boolean(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"{key} must be true or false")


def _command_option(key: str) -> tuple[str, str, click.Option]:
    """``submit.timeout`` -> ("submit", "timeout", the option), stored under the option's
    documented name (``audit.status``, ``jobs.json``); unknown and command-line-only options
    are refused."""
    *path, option = key.split(".")
    if not path:
        raise ConfigError(
            f"unknown setting {key!r}: use one of {', '.join(GLOBAL_KEYS)} or COMMAND.OPTION"
        )
    command_path = " ".join(path)
    command = find_command(cli, command_path)
    if command is None or path[0] == "config":
        raise ConfigError(f"unknown command {command_path!r} in {key!r}")
    param = find_option(command_path, command, option)
    return command_path, option_key(param), param


def _option_value(key: str, param: click.Option, value: str) -> Value:
    """Convert and check ``value`` with the option's own type; store it as TOML can."""
    try:
        return text_value(param, value)
    except ValueError:
        raise ConfigError(f"{key} must be {expected(param)}") from None


cli.add_command(config_group)
