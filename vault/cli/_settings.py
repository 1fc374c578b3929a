"""The config file: a small TOML file in the platform's user config directory.

Precedence is flags, then environment variables, then this file, then built-in defaults. The
file becomes click's ``default_map``, which click consults after the command line and the
option's environment variable and before the option's own default: that is the whole
precedence rule, kept by click itself rather than re-implemented per option.

Layout (every key optional)::

    api_url = "https://anonymizer.example.internal"   # submit, fetch, sync
    token_file = "~/.config/questa-vault/token"
    vault = "~/vaults/team.db"
    user = "alice"
    keyring = true            # passphrase and API token from the OS keyring (extra `keyring`)

    [defaults.submit]         # per-command defaults: a table per command, keys = option names
                              # as documented (--json: json); checked in cli/_defaults.py
    timeout = 300
    [defaults.restore]
    lenient = true
    [defaults.user.add]       # a sub-command's table

The per-command tables live under ``defaults`` so that a command named like a top-level
setting (the ``user`` group and the ``user`` setting) cannot collide with it.

Reading uses ``tomllib``; writing is ours (the file only holds strings, numbers, booleans and
lists of strings), atomic through a temporary file in the same directory, mode 0600.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from vault._dataclass import dataclass
from vault.config import check_not_other_url, default_config_path, is_database_url
from vault.errors import ConfigError, InputError

CONFIG_ENV = "QUESTA_VAULT_CONFIG"

Scalar = str | int | float | bool
Value = Scalar | list[str] | list[Scalar]

# The top-level settings: name -> (help, the click parameter it feeds, environment variable).
GLOBAL_KEYS: dict[str, tuple[str, str, str | None]] = {
    "api_url": (
        "base URL of the Questa service (submit, fetch, sync)",
        "api_url",
        "QUESTA_API_URL",
    ),
    "token_file": ("file holding the API bearer token", "token_file", None),
    "vault": ("vault file", "vault_path", "QUESTA_VAULT"),
    "user": ("vault user", "acting_user", "QUESTA_VAULT_USER"),
    "keyring": ("read the passphrase and API token from the OS keyring", "keyring", None),
}
_PATH_KEYS = frozenset({"token_file", "vault"})
# Commands whose options api_url and token_file feed.
API_COMMANDS = ("submit", "fetch", "sync", "secret set", "secret delete")
DEFAULTS = "defaults"  # the table holding one table per command

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def config_path(environ: Mapping[str, str]) -> Path:
    """QUESTA_VAULT_CONFIG, else ``config.toml`` in the platform's user config directory."""
    given = environ.get(CONFIG_ENV)
    if given:
        return Path(given).expanduser()
    return default_config_path()


@dataclass(frozen=True)
class Settings:
    """The parsed file: top-level values and one table per command path ("user add")."""

    path: Path
    exists: bool
    values: Mapping[str, Value] = field(default_factory=dict)
    commands: Mapping[str, Mapping[str, Value]] = field(default_factory=dict)

    @property
    def keyring(self) -> bool:
        return self.values.get("keyring") is True


def load(path: Path) -> Settings:
    """Read and check the file; a missing file is an empty configuration."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings(path=path, exists=False)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    import tomllib  # only when there is a file: most runs have none (cold start)

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # The decoder's message names a line and column, never the file's values.
        detail = str(exc) if isinstance(exc, tomllib.TOMLDecodeError) else "not UTF-8"
        raise ConfigError(f"config file {path} is not valid TOML: {detail}") from exc
    values: dict[str, Value] = {}
    commands: dict[str, dict[str, Value]] = {}
    for key, value in data.items():
        if key == DEFAULTS and isinstance(value, dict):
            for name, table in value.items():
                if not isinstance(table, dict):
                    raise ConfigError(f"config file {path}: {DEFAULTS}.{name} must be a table")
                _tables(path, name, table, commands)
        elif key in GLOBAL_KEYS:
            values[key] = _global_value(path, key, value)
        else:
            raise ConfigError(
                f"config file {path}: unknown setting {key!r} "
                f"(known: {', '.join(GLOBAL_KEYS)}, or a [{DEFAULTS}.COMMAND] table)"
            )
    return Settings(path=path, exists=True, values=values, commands=commands)


def _tables(
    path: Path, prefix: str, table: dict[str, Any], out: dict[str, dict[str, Value]]
) -> None:
    scalars: dict[str, Value] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            _tables(path, f"{prefix} {key}", value, out)
        else:
            scalars[key.replace("-", "_")] = _scalar(path, f"{prefix}.{key}", value)
    if scalars:
        out[prefix] = scalars


def _scalar(path: Path, where: str, value: Any) -> Value:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list) and all(isinstance(v, bool | int | float | str) for v in value):
        return list(value)  # the option's own type checks the items (cli/_defaults.py)
    raise ConfigError(
        f"config file {path}: {DEFAULTS}.{where} must be a string, number, boolean or a list "
        "of them"
    )


def _global_value(path: Path, key: str, value: Any) -> Value:
    if key == "keyring":
        if not isinstance(value, bool):
            raise ConfigError(f"config file {path}: keyring must be true or false")
        return value
    if not isinstance(value, str) or not value:
        raise ConfigError(f"config file {path}: {key} must be a non-empty string")
    if key in _PATH_KEYS and value == "-":
        raise ConfigError(f"config file {path}: {key} cannot be '-': name a file")
    if key in _PATH_KEYS and not is_database_url(value):  # `vault` may be a PostgreSQL URL
        if key == "vault":
            try:
                check_not_other_url(value)
            except InputError as exc:
                raise ConfigError(f"config file {path}: vault: {exc}") from exc
        return str(Path(value).expanduser())
    return value


# --------------------------------------------------------------------------- writing


def with_value(settings: Settings, command: str | None, key: str, value: Value | None) -> Settings:
    """A copy of ``settings`` with one value set (``None``: removed)."""
    values = dict(settings.values)
    commands = {name: dict(table) for name, table in settings.commands.items()}
    target = values if command is None else commands.setdefault(command, {})
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value
    commands = {name: table for name, table in commands.items() if table}
    return Settings(path=settings.path, exists=True, values=values, commands=commands)


def dumps(settings: Settings) -> str:
    """The settings as TOML text that ``tomllib`` reads back to the same values."""
    lines = ["# questa-vault settings (questa-vault config set KEY VALUE writes this file)"]
    lines += [f"{_key(k)} = {_toml(v)}" for k, v in settings.values.items()]
    for name in sorted(settings.commands):
        parts = [DEFAULTS, *name.split(" ")]
        lines += ["", "[" + ".".join(_key(part) for part in parts) + "]"]
        lines += [f"{_key(k)} = {_toml(v)}" for k, v in settings.commands[name].items()]
    return "\n".join(lines) + "\n"


def save(settings: Settings) -> None:
    """Write atomically: a 0600 temporary file in the same directory, fsync, rename."""
    import tempfile  # only `config set` writes (cold start)

    path = settings.path
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write config file {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(dumps(settings))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ConfigError(f"cannot write config file {path}: {exc.strerror}") from exc


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _toml(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return _string(value)


def _string(text: str) -> str:
    """A TOML basic string: backslash, quote and every control character escaped."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
