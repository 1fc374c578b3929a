"""The settings file: `config show|set|path`, the precedence flags > env > file > defaults,
the TOML writer, and no silent default URL for submit, fetch and sync."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from conftest import FAST_KDF, invoke
from hypothesis import given
from hypothesis import strategies as st

from vault.cli._app import cli
from vault.cli._defaults import command_defaults, commands, configurable, expected, option_key
from vault.cli._settings import Settings, dumps, load
from vault.config import HOSTED_DEMO_URL, default_config_path, default_vault_path
from vault.simulator import SimulatorConfig, run_simulator

PASS = "correct horse battery staple"


def config_file() -> Path:
    result = invoke(["config", "path"])
    assert result.exit_code == 0
    return Path(result.stdout.strip())


@pytest.mark.parametrize(
    ("xdg", "home"),
    [
        (None, "/home/ann"),
        ("/srv/xdg", "/home/ann"),
        ("/srv/xdg/", "/home/ann/"),
        ("relative/xdg", "/home/ann"),  # not absolute: ignored, as the XDG spec says
        ("", "/home/ann"),
        (None, "relative-home"),  # platformdirs itself then falls back to the password database
    ],
)
def test_user_directories_are_the_ones_platformdirs_names(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None, home: str
) -> None:
    """On Linux the per-user directories are worked out without importing platformdirs
    (cold start); they must stay exactly what platformdirs says."""
    import platformdirs

    monkeypatch.setenv("HOME", home)
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        if xdg is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, xdg)
    config = Path(platformdirs.user_config_dir("questa-vault", appauthor=False))
    data = Path(platformdirs.user_data_dir("questa-vault", appauthor=False))
    assert default_config_path() == config / "config.toml"
    assert default_vault_path() == data / "vault.db"


def test_path_is_in_the_user_config_dir_or_the_env_override(tmp_path: Path) -> None:
    assert config_file() == tmp_path / "home" / ".config" / "questa-vault" / "config.toml"
    other = tmp_path / "elsewhere.toml"
    result = invoke(["config", "path"], env={"QUESTA_VAULT_CONFIG": str(other)})
    assert result.stdout.strip() == str(other)


def test_set_writes_0600_atomically_and_show_reads_it_back() -> None:
    assert invoke(["config", "set", "api_url", "http://127.0.0.1:9"]).exit_code == 0
    assert invoke(["config", "set", "submit.timeout", "300"]).exit_code == 0
    assert invoke(["config", "set", "restore.lenient", "yes"]).exit_code == 0
    assert invoke(["config", "set", "audit.status", "archived,failed"]).exit_code == 0
    assert invoke(["config", "set", "user.add.kdf-memory", "9000"]).exit_code == 0
    path = config_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temp file left
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data == {
        "api_url": "http://127.0.0.1:9",
        "defaults": {
            "audit": {"status": ["archived", "failed"]},
            "restore": {"lenient": True},
            "submit": {"timeout": 300.0},
            "user": {"add": {"kdf_memory": 9000}},
        },
    }
    shown = json.loads(invoke(["config", "show", "--json"]).stdout)
    assert shown["settings"]["api_url"] == {"value": "http://127.0.0.1:9", "source": "file"}
    assert shown["commands"]["submit"] == {"timeout": 300.0}
    assert invoke(["config", "set", "--unset", "submit.timeout"]).exit_code == 0
    assert "submit" not in tomllib.loads(path.read_text(encoding="utf-8"))["defaults"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nonsense", "1"], "unknown setting 'nonsense'"),
        (["submit.bogus", "1"], "submit has no option 'bogus'"),
        (["nocommand.timeout", "1"], "unknown command 'nocommand'"),
        (["submit.timeout", "soon"], "submit.timeout must be a number >= 0"),
        (["submit.timeout", "-5"], "submit.timeout must be a number >= 0"),
        (["submit.request-timeout", "0"], "must be a number > 0"),
        (["audit.status", "shredded"], "audit.status must be a list, each one of pending,"),
        (["audit.statuses", "archived"], "the option is --status: use 'status'"),
        (["jobs.as_json", "true"], "the option is --json: use 'json'"),
        (["restore.force", "true"], "restore --force is given on the command line only"),
        (["erase.older-than", "1"], "erase --older-than is given on the command line only"),
        (["config.show.json", "true"], "unknown command 'config show'"),
        (["api_url", "ftp://x"], "http:// or https://"),
        (["api_url", "not a url"], "http:// or https://"),
        (["keyring", "maybe"], "true or false"),
        (["restore.lenient", "perhaps"], "true or false"),
    ],
)
def test_set_refuses_what_the_option_would_refuse(args: list[str], message: str) -> None:
    result = invoke(["config", "set", *args])
    assert result.exit_code == 1
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not config_file().exists()


def test_set_needs_a_value_or_unset() -> None:
    assert invoke(["config", "set", "api_url"]).exit_code == 2
    assert invoke(["config", "set", "--unset", "api_url", "x"]).exit_code == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("api_url = [", "not valid TOML"),
        ("colour = 'blue'", "unknown setting 'colour'"),
        ("api_url = 3", "api_url must be a non-empty string"),
        ("keyring = 'yes'", "keyring must be true or false"),
        ("[defaults]\nsubmit = 1\n", "defaults.submit must be a table"),
        ("[submit]\ntimeout = 1\n", "unknown setting 'submit'"),
        ("[defaults.submit]\ntimeout = [[1]]\n", "must be a string, number, boolean or a list"),
    ],
)
def test_a_broken_file_is_a_one_line_error_and_config_still_runs(
    text: str, message: str | None
) -> None:
    path = config_file()
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    result = invoke(["jobs"])
    if message is None:  # a nested table is a sub-command table: harmless, unknown command
        return
    assert result.exit_code == 1 and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert invoke(["config", "path"]).exit_code == 0
    assert invoke(["config", "set", "api_url", "http://x"]).exit_code == 1  # nothing lost
    assert path.read_text(encoding="utf-8") == text


# --- precedence -------------------------------------------------------------------------------


@pytest.fixture
def vaults(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Three vaults with a different user each: flag, env and file can be told apart."""
    paths = {name: tmp_path / f"{name}.db" for name in ("flag", "env", "file")}
    for name, path in paths.items():
        result = invoke(
            ["--vault", str(path), "init", "--user", name, *FAST_KDF],
            env={"QUESTA_VAULT_PASSPHRASE": PASS},
        )
        assert result.exit_code == 0, result.output
    yield paths


def _users(args: list[str], env: dict[str, str | None]) -> Any:
    result = invoke([*args, "user", "list", "--json"], env=env)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    return [u["name"] for u in json.loads(result.stdout)]


def test_precedence_flag_env_file_default(vaults: dict[str, Path]) -> None:
    invoke(["config", "set", "vault", str(vaults["file"])])
    flag = ["--vault", str(vaults["flag"])]
    env = {"QUESTA_VAULT": str(vaults["env"])}
    no_env: dict[str, str | None] = {"QUESTA_VAULT": None}
    assert _users(flag, env) == ["flag"]
    assert _users([], env) == ["env"]
    assert _users([], no_env) == ["file"]
    invoke(["config", "set", "--unset", "vault"])
    result = invoke(["jobs"], env=no_env)  # type: ignore[arg-type]
    assert result.exit_code == 1 and "share/questa-vault/vault.db" in result.stderr  # default


def test_show_names_the_source_of_each_value(vaults: dict[str, Path]) -> None:
    invoke(["config", "set", "user", "file"])
    shown = json.loads(
        invoke(
            ["--vault", str(vaults["flag"]), "config", "show", "--json"],
            env={"QUESTA_VAULT_USER": "env"},
        ).stdout
    )["settings"]
    assert shown["vault"] == {"value": str(vaults["flag"]), "source": "flag"}
    assert shown["user"] == {"value": "env", "source": "env QUESTA_VAULT_USER"}
    assert shown["api_url"] == {"value": None, "source": "default"}
    table = invoke(["config", "show"]).stdout
    assert "user" in table and "file" in table


def test_per_command_default_is_overridden_by_the_flag() -> None:
    invoke(["config", "set", "jobs.status", "archived"])
    assert invoke(["jobs", "--help"]).exit_code == 0
    path = config_file()
    assert "status" in tomllib.loads(path.read_text(encoding="utf-8"))["defaults"]["jobs"]
    assert invoke(["init", "--user", "a", *FAST_KDF], env={"QUESTA_VAULT_PASSPHRASE": PASS})
    assert "no archived jobs" in invoke(["jobs"]).stderr  # from the file
    assert "no pending jobs" in invoke(["jobs", "--status", "pending"]).stderr  # the flag wins


# --- no silent default URL --------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["submit", "FILE"], ["fetch", "550e8400-e29b-41d4-a716-446655440000"], ["sync"]],
)
def test_without_a_url_nothing_is_sent(args: list[str], tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Hi John Doe\n", encoding="utf-8")
    args = [str(note) if a == "FILE" else a for a in args]
    invoke(["init", "--user", "a", *FAST_KDF], env={"QUESTA_VAULT_PASSPHRASE": PASS})
    result = invoke(args)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert HOSTED_DEMO_URL in result.stderr and "config set api_url" in result.stderr
    assert json.loads(invoke(["jobs", "--json"]).stdout) == []


def test_the_url_from_the_file_is_used(tmp_path: Path) -> None:
    with run_simulator(SimulatorConfig(processing_time=0.0)) as sim:
        invoke(["config", "set", "api_url", sim.url])
        invoke(["init", "--user", "a", *FAST_KDF], env={"QUESTA_VAULT_PASSPHRASE": PASS})
        note = tmp_path / "note.txt"
        note.write_text("Hi John Doe\n", encoding="utf-8")
        result = invoke(["submit", str(note)])
        assert result.exit_code == 0, result.output
        # The environment beats the file: a dead URL there fails the run.
        dead = invoke(["sync"], env={"QUESTA_API_URL": "http://127.0.0.1:1"})
        assert dead.exit_code == 0  # nothing pending: nothing to send either way


# --- the writer -------------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
_value = st.one_of(
    _text.filter(bool),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(_text, max_size=4),
)


@given(
    values=st.dictionaries(st.sampled_from(["api_url", "user", "vault"]), _text.filter(bool)),
    commands=st.dictionaries(
        st.sampled_from(["submit", "restore", "user add", "audit"]),
        st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), _value, min_size=1),
    ),
)
def test_dumps_round_trips_through_tomllib(
    values: dict[str, str], commands: dict[str, dict[str, Any]]
) -> None:
    settings = Settings(path=Path("x"), exists=True, values=values, commands=commands)
    data = tomllib.loads(dumps(settings))
    for key, value in values.items():
        assert data[key] == value
    for name, table in commands.items():
        node = data["defaults"]
        for part in name.split(" "):
            node = node[part]
        assert {k: node[k] for k in table} == table


def test_load_reads_what_save_wrote(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('user = "a\\u0007b"\n[defaults.user.add]\nkdf_memory = 1\n', encoding="utf-8")
    settings = load(path)
    assert settings.values == {"user": "a\x07b"}
    assert settings.commands == {"user add": {"kdf_memory": 1}}
    assert os.fspath(settings.path) == os.fspath(path)


def test_regression_user_setting_and_user_add_table_do_not_collide() -> None:
    """Found by Hypothesis: with command tables at the top level, ``user = "0"`` and a
    ``[user.add]`` table were invalid TOML together."""
    settings = Settings(
        path=Path("x"), exists=True, values={"user": "0"}, commands={"user add": {"_": "0"}}
    )
    data = tomllib.loads(dumps(settings))
    assert data["user"] == "0" and data["defaults"]["user"]["add"] == {"_": "0"}


def test_a_postgresql_vault_url_is_kept_as_written() -> None:
    url = "postgresql://vault@db.example.internal:5432/questa"
    assert invoke(["config", "set", "vault", url]).exit_code == 0
    assert tomllib.loads(config_file().read_text(encoding="utf-8"))["vault"] == url
    no_env = {"QUESTA_VAULT": None}
    shown = json.loads(invoke(["config", "show", "--json"], env=no_env).stdout)  # type: ignore[arg-type]
    shown = shown["settings"]["vault"]
    assert shown == {"value": url, "source": "file"}
    refused = invoke(["config", "set", "vault", "postgresql://vault:hunter2@db/questa"])
    assert refused.exit_code == 1 and "hunter2" not in refused.output


def test_regression_a_user_setting_beside_user_command_defaults(vaults: dict[str, Path]) -> None:
    """Found by trying the tool: the root group's --user option and the `user` command shared
    one key in click's default_map, so `config set user NAME` next to a `user` command default
    broke every command (a traceback) and the `user` commands."""
    assert invoke(["config", "set", "user.list.json", "true"]).exit_code == 0
    assert invoke(["config", "set", "user", "file"]).exit_code == 0
    env: dict[str, str | None] = {"QUESTA_VAULT": str(vaults["file"])}
    for args in (["--version"], ["config", "show"], ["jobs"]):
        result = invoke(args, env=env)  # type: ignore[arg-type]
        assert result.exit_code == 0, result.output
    listed = invoke(["user", "list"], env=env)  # type: ignore[arg-type]
    assert listed.exit_code == 0, listed.output
    assert [u["name"] for u in json.loads(listed.stdout)] == ["file"]  # the file's --json default
    assert invoke(["config", "set", "--unset", "user"]).exit_code == 0


# --- every per-command default, checked against the command tree ------------------------------


def _configurable() -> list[tuple[str, click.Option]]:
    found = []
    for path, command in commands(cli):
        for param in command.params:
            if isinstance(param, click.Option) and configurable(path, param):
                found.append((path, param))
    return found


CONFIGURABLE = _configurable()
_IDS = [f"{path.replace(' ', '.')}.{option_key(p)}" for path, p in CONFIGURABLE]


def _kind(param: click.Option) -> str:
    if param.is_flag and not param.count:
        return "bool"
    if isinstance(param.type, click.types.IntParamType):
        return "int"
    if isinstance(param.type, click.types.FloatParamType):
        return "float"
    return "str"


_WRONG_TOML = {"bool": '"yes"', "int": '"many"', "float": "true", "str": "5"}
_WRONG_TEXT = {"bool": "perhaps", "int": "many", "float": "soon"}


def _valid(param: click.Option) -> Any:
    kind = param.type
    if param.is_flag and not param.count:
        value: Any = True
    elif isinstance(kind, click.Choice):
        value = str(kind.choices[0])
    elif isinstance(kind, click.IntRange | click.FloatRange):
        low = kind.min if kind.min is not None else 1
        value = low + 1 if kind.min_open else low
    elif isinstance(kind, click.types.IntParamType):
        value = 1
    elif isinstance(kind, click.types.FloatParamType):
        value = 1.5
    else:
        value = "x"
    return [value] if param.multiple else value


def test_the_documented_keys_exist_and_parameter_names_are_not_keys() -> None:
    keys = set(_IDS)
    assert {"restore.lenient", "audit.status", "jobs.json", "submit.timeout"} <= keys
    assert {"user.add.kdf_memory", "submit.no_wait", "restore.allow_unresolved"} <= keys
    assert not {k for k in keys if k.endswith((".as_json", ".statuses"))}
    assert not {k for k in keys if k.endswith((".force", ".unsafe_kdf", ".deep", ".output"))}


@pytest.mark.parametrize(("command", "param"), CONFIGURABLE, ids=_IDS)
def test_every_default_with_a_wrong_type_is_one_line_naming_key_file_and_type(
    command: str, param: click.Option
) -> None:
    path = config_file()
    path.parent.mkdir(parents=True)
    dotted, key = command.replace(" ", "."), option_key(param)
    wrong = _WRONG_TOML[_kind(param)]
    if param.multiple:
        wrong = "[5]"
    path.write_text(f"[defaults.{dotted}]\n{key} = {wrong}\n", encoding="utf-8")
    for args in ([*command.split(" "), "--help"], [command.split(" ")[0], "--help"]):
        result = invoke(args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr == (
            f"questa-vault: config file {path}: defaults.{dotted}.{key} must be {expected(param)}\n"
        )
    # The right type is accepted and reaches the option's parameter.
    valid = _valid(param)
    text = dumps(Settings(path=path, exists=True, commands={command: {key: valid}}))
    path.write_text(text, encoding="utf-8")
    top, *rest = command.split(" ")
    node = command_defaults(load(path), cli, top)
    for part in rest:
        node = node[part]
    assert node[param.name] == valid
    # config set: the same key, as text, checked with the option's own type.
    path.unlink()
    if _kind(param) in _WRONG_TEXT or isinstance(param.type, click.Choice):
        result = invoke(["config", "set", f"{dotted}.{key}", _WRONG_TEXT.get(_kind(param), "zz")])
        assert result.exit_code == 1
        assert result.stderr == (
            f"questa-vault: {dotted}.{key} must be {expected(param)}; {path} is unchanged\n"
        )
        assert not path.exists()


def test_every_boolean_the_file_can_set_has_a_negative_flag() -> None:
    """A file default must be undoable for one run: --lenient has --no-lenient (and
    --strict). A new boolean option needs a negative form or a place in COMMAND_LINE_ONLY."""
    missing = [
        f"{path} {param.opts[-1]}"
        for path, param in CONFIGURABLE
        if param.is_flag and not param.count and not param.secondary_opts
    ]
    assert missing == []


def test_a_value_that_looks_like_an_option_is_a_value() -> None:
    result = invoke(["config", "set", "submit.start-index", "-1"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"questa-vault: submit.start-index must be an integer >= 0; {config_file()} is unchanged\n"
    )
    assert not config_file().exists()
    assert invoke(["config", "set", "submit.start-index", "-0"]).exit_code == 0
    assert invoke(["config", "set", "simulate.host", "--weird"]).exit_code == 0
    data = tomllib.loads(config_file().read_text(encoding="utf-8"))["defaults"]
    assert data == {"submit": {"start_index": 0}, "simulate": {"host": "--weird"}}


def test_a_file_default_is_undone_by_the_negative_flag(vaults: dict[str, Path]) -> None:
    env: dict[str, str | None] = {"QUESTA_VAULT": str(vaults["file"])}
    assert invoke(["config", "set", "user.list.json", "yes"]).exit_code == 0
    listed = invoke(["user", "list"], env=env)  # type: ignore[arg-type]
    assert json.loads(listed.stdout)[0]["name"] == "file"
    table = invoke(["user", "list", "--no-json"], env=env)  # type: ignore[arg-type]
    assert table.exit_code == 0 and not table.stdout.startswith("[")


def test_a_wrong_default_is_fixed_with_config_set() -> None:
    """A file that parses keeps working for `config`: set --unset removes the wrong key."""
    path = config_file()
    path.parent.mkdir(parents=True)
    path.write_text('api_url = "http://127.0.0.1:9"\n[defaults.submit]\ntimeout = -1\n')
    assert "defaults.submit.timeout must be a number >= 0" in invoke(["submit", "x"]).stderr
    assert invoke(["config", "show"]).exit_code == 1
    assert invoke(["config", "set", "--unset", "submit.timeout"]).exit_code == 0
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {"api_url": "http://127.0.0.1:9"}
    assert invoke(["config", "show"]).exit_code == 0


@pytest.mark.parametrize(
    "text",
    [
        "[defaults.submit]\ntimeout = {a = {b = 1}}\n",
        "[defaults.nosuch]\nx = 1\n",
        "[defaults.config]\njson = true\n",
    ],
)
def test_a_table_that_names_no_command_is_refused(text: str) -> None:
    path = config_file()
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    result = invoke(["submit", "x"])
    assert result.exit_code == 1 and "names no command that takes defaults" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_misspelt_command_table_stops_every_command() -> None:
    path = config_file()
    path.parent.mkdir(parents=True)
    path.write_text("[defaults.restor]\nlenient = true\n", encoding="utf-8")
    result = invoke(["jobs"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"questa-vault: config file {path}: [defaults.restor] names no command that takes "
        "defaults\n"
    )


CREDENTIAL_URLS = [
    "http://user:pw@127.0.0.1:8765",
    "https://token@api.example.com",
    "https://api.example.com/?token=abc",
    "https://api.example.com/#pw",
]


@pytest.mark.parametrize("url", CREDENTIAL_URLS)
def test_an_api_url_with_credentials_is_refused_everywhere(url: str, tmp_path: Path) -> None:
    """The API URL is stored with every job and printed by show and audit: no secret in it."""
    from vault import InputError, QuestaClient

    configured = invoke(["config", "set", "api_url", url])
    assert configured.exit_code == 1
    assert "must not carry credentials" in configured.stderr
    assert url not in configured.stderr  # the message never repeats the secret
    given = tmp_path / "a.txt"
    given.write_text("John Doe")
    for args in (["submit", str(given)], ["fetch", "job-1"], ["sync"]):
        result = invoke([*args, "--api-url", url])
        assert result.exit_code == 1, (args, result.output)
        assert "must not carry credentials" in result.stderr and url not in result.stderr
    with pytest.raises(InputError, match="must not carry credentials"):
        QuestaClient(url)


def test_plain_http_to_another_host_is_warned_about_loopback_is_not(tmp_path: Path) -> None:
    from vault.config import check_api_url

    assert check_api_url("http://192.0.2.1:8765") is True
    assert check_api_url("https://192.0.2.1") is False
    for loopback in ("http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:9",
                     "http://127.1.2.3/", "http://LOCALHOST/"):  # fmt: skip
        assert check_api_url(loopback) is False, loopback
    for named in ("http://127.evil.example/", "http://127.0.0.1.nip.io:8000",
                  "http://localhost.evil.example/", "http://[::ffff:127.0.0.1]/"):  # fmt: skip
        assert check_api_url(named) is True, named
    result = invoke(["sync", "--api-url", "http://192.0.2.1:9", "--timeout", "0"])
    assert "warning: http://192.0.2.1 is not encrypted" in result.stderr


# A vault URL's password is found by libpq's parser, the one that connects: urllib ends the
# user part at a '?' or '#' and makes the rest after '#' a fragment, so these passed its check
# and connected with the password (and were stored and printed in clear).
HIDDEN_PASSWORD_URLS = [
    "postgresql://vault_pw:Xy?z9S3cret@/questa?host=/tmp",
    "postgresql://vault_pw:Xy#z9S3cret@db/questa",
    "postgresql:///questa?host=/tmp#&password=S3cret",
    "postgresql://db/questa#x?password=S3cret",
    "postgresql://db/questa#x?sslpassword=S3cret",
    # secrets whose parameter name has no "password" (libpq 18): found by libpq's own list
    "postgresql:///questa?host=/tmp&oauth_issuer=https://i.example&oauth_client_id=v"
    "&oauth_client_secret=S3cret",
    "postgresql:///questa?host=/tmp&OAUTH_CLIENT_SECRET=S3cret",
    "postgresql:///questa?host=/tmp&oauth%5Fclient%5Fsecret=S3cret",
    "postgresql:///questa?host=/tmp&scram_client_key=S3cret",
    "postgresql://db/questa#x?scram_server_key=S3cret",
]


@pytest.mark.parametrize("url", HIDDEN_PASSWORD_URLS)
def test_a_password_urllib_cannot_see_is_refused(url: str, tmp_path: Path) -> None:
    for args in (["config", "set", "vault", url], ["--vault", url, "jobs"]):
        result = invoke(args)
        assert result.exit_code == 1, (args, result.output)
        assert "carries a " in result.stderr and "S3cret" not in result.output, result.output
        assert result.stderr.count("\n") == 1
    assert not config_file().exists()


_URL_TEXT = st.text(alphabet="aZ09?#&=/:@%+. _-[]'\\", max_size=12)


@pytest.mark.parametrize("url", ["postgresql://%90@h/db", "postgresql:///db?host=h&user=%ff"])
def test_regression_a_url_whose_value_is_not_utf8_is_a_one_line_refusal(url: str) -> None:
    """Found by Hypothesis: ``%90`` in the user part made libpq's parse end in a
    UnicodeDecodeError (an internal error) instead of the malformed-URL refusal."""
    for args in (["config", "set", "vault", url], ["--vault", url, "jobs"]):
        result = invoke(args)
        assert result.exit_code == 1, (args, result.output)
        assert "malformed" in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_every_parameter_libpq_marks_secret_is_refused() -> None:
    """The class, not the examples: every parameter the running libpq itself marks secret
    (display character ``*``), whatever its name, is refused in a URL."""
    from psycopg import pq

    from vault import InputError
    from vault.config import DatabaseUrl, is_secret_parameter

    marked = [o.keyword.decode() for o in pq.Conninfo.get_defaults() if o.dispchar == b"*"]
    assert "password" in marked
    for key in marked:
        assert is_secret_parameter(key), key
        with pytest.raises(InputError, match="carries a"):
            DatabaseUrl(f"postgresql:///questa?host=/tmp&{key}=S3cret")


def test_config_show_never_prints_a_stored_secret(tmp_path: Path) -> None:
    """A settings file written before a secret parameter was refused (by hand, or by an
    older version): ``config show`` prints the URL as messages do, values hidden."""
    url = (
        "postgresql:///questa?host=/tmp&user=questa_admin&oauth_issuer=https://i.example"
        "&oauth_client_id=vault&oauth_client_secret=S3cret"
    )
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(f'vault = "{url}"\n', encoding="utf-8")
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = invoke(args, env={"QUESTA_VAULT": None})  # type: ignore[dict-item]
        assert result.exit_code == 0, result.output
        assert "S3cret" not in result.output and "oauth_client_secret=***" in result.output
    # every other command refuses it, naming the parameter, never its value
    result = invoke(["jobs"], env={"QUESTA_VAULT": None})  # type: ignore[dict-item]
    assert result.exit_code == 1 and "S3cret" not in result.output
    assert "oauth_client_secret" in result.stderr
    # and `config set` replaces it
    replaced = invoke(["config", "set", "vault", "postgresql:///questa?host=/tmp"])
    assert replaced.exit_code == 0, replaced.output


@given(
    shape=st.sampled_from([
        "postgresql://u:{x}@h/db", "postgresql://{x}@h/db", "postgresql:///db?host=h&{x}",
        "postgresql://h/{x}", "postgresql:///db{x}password=pw", "postgresql://h{x}/db",
        "postgresql:///db?options=SeCrEt{x}&host=/tmp",
        "postgresql:///db?host=h&{x}secret=pw", "postgresql:///db?host=h&oauth_client{x}=pw",
        "postgresql:///db?{x}=pw&host=h", "postgresql://h/db?scram_{x}=pw",
    ]),
    x=_URL_TEXT,
)  # fmt: skip
def test_property_a_url_accepted_holds_no_password_for_libpq(shape: str, x: str) -> None:
    """Whatever the spelling: a vault URL the check accepts has no parameter libpq would
    read as a password; its redacted form shows no value of a parameter not known to be
    harmless and is read by libpq again (no parse error, same harmless values)."""
    from psycopg.conninfo import conninfo_to_dict

    from vault import InputError
    from vault.config import DatabaseUrl, is_secret_parameter

    url = shape.format(x=x)
    try:
        parsed = conninfo_to_dict(url)
    except Exception:
        parsed = None
    try:
        vault = DatabaseUrl(url)
    except InputError as exc:
        assert "pw" not in str(exc) or "pw" in shape.split("{x}")[0], str(exc)
        return
    assert parsed is not None
    assert not [key for key in parsed if is_secret_parameter(key)]
    assert not [key for key in parsed if "password" in key or "secret" in key]
    shown = conninfo_to_dict(vault.redacted)
    for key, value in parsed.items():
        if key in ("host", "port", "dbname", "user"):
            assert shown.get(key, "") == value, (url, vault.redacted)
    assert "SeCrEt" not in vault.redacted
