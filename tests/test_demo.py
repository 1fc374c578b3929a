"""The demo runs the whole flow and exits 0 (it is the README's first command)."""

from __future__ import annotations

import pytest
from conftest import invoke


# QUESTA_VAULT_USER names a user of the user's own vault: the demo's commands act as its own.
@pytest.mark.parametrize("env", [None, {"QUESTA_VAULT_USER": "alice"}], ids=["plain", "env-user"])
def test_demo_runs_the_whole_flow(env: dict[str, str] | None) -> None:
    result = invoke(["demo", "--processing-time", "0.2"], env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    # The HTML step writes the page only; the table is the audit step's, once.
    assert out.count("ENTITY TYPE") == 1
    assert "    wrote audit.html (" in out
    assert "byte-identical to the original upload: yes" in out
    # The case-mangled placeholder was repaired, the invented one reported, not guessed.
    assert "Escalate to [PERSON_NAME_99] if unresolved." in out
    assert "1 repaired (lenient)" in result.stderr
    assert "[PERSON_NAME_99] at 2:" in result.stderr
    assert "result:        ok" in out
    assert "the temporary vault is gone" in out


def test_the_demo_takes_the_built_in_defaults_not_the_settings_files(
    isolated_env, monkeypatch
) -> None:
    """A settings file's ``json = true`` for jobs, audit and log would turn the demo's steps
    into JSON; the demo's own commands take the built-in defaults."""
    settings = isolated_env.parent / "settings.toml"
    settings.write_text(
        '[defaults.jobs]\njson = true\n[defaults.audit]\nformat = "json"\n'
        "[defaults.log]\njson = true\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("QUESTA_VAULT_CONFIG", str(settings))
    result = invoke(["demo", "--processing-time", "0.2"])
    assert result.exit_code == 0, result.output
    assert out_has_tables(result.stdout)


def out_has_tables(out: str) -> bool:
    return "ENTITY TYPE" in out and "SEQ TIME (UTC)" in out and "JOB " in out


def test_no_color_is_respected_even_when_color_is_forced(monkeypatch) -> None:
    from click.testing import CliRunner

    from vault.cli import cli

    monkeypatch.setenv("NO_COLOR", "1")
    result = CliRunner().invoke(cli, ["demo", "--processing-time", "0.1"], color=True)
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.output
    monkeypatch.delenv("NO_COLOR")
    result = CliRunner().invoke(cli, ["demo", "--processing-time", "0.1"], color=True)
    assert "\x1b[" in result.output
