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

import pytest
from conftest import FAST_KDF, invoke
from hypothesis import given
from hypothesis import strategies as st

from vault.cli._settings import Settings, dumps, load
from vault.config import HOSTED_DEMO_URL
from vault.simulator import SimulatorConfig, run_simulator

PASS = "correct horse battery staple"


def config_file() -> Path:
    result = invoke(["config", "path"])
    assert result.exit_code == 0
    return Path(result.stdout.strip())


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
            "audit": {"statuses": ["archived", "failed"]},
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
        (["submit.timeout", "soon"], "timeout:"),
        (["audit.status", "shredded"], "statuses:"),
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
        ("[defaults.submit]\ntimeout = {a = {b = 1}}\n", None),
        ("[defaults]\nsubmit = 1\n", "defaults.submit must be a table"),
        ("[submit]\ntimeout = 1\n", "unknown setting 'submit'"),
        ("[defaults.submit]\ntimeout = [1, 2]\n", "must be a string, number, boolean or list"),
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
