"""Shared fixtures: every test gets its own temporary vault and a clean environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import settings
from pg_server import NOT_INSTALLED, PostgresServer, find_binaries, must_have_postgres

from vault.cli import run

# Property tests: derandomized in CI (the same examples on every run, so a red build is
# reproducible), random on a developer's machine (new examples each run). A failing example
# found either way becomes a named regression test next to the property it broke.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("dev", print_blob=True, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)

# External test corpora (csv-spectrum, frictionless, RFC 4180, presidio, ...), vendored byte for
# byte with their licences and provenance (tests/corpora/SOURCES.md); never "fix" their bytes.
CORPORA = Path(__file__).resolve().parent / "corpora"

# Environment variables the CLI reads; each test starts without them.
_ENV_VARS = (
    "QUESTA_VAULT",
    "QUESTA_VAULT_USER",
    "QUESTA_VAULT_PASSPHRASE",
    "QUESTA_API_URL",
    "QUESTA_API_TOKEN",
    "QUESTA_SIM_TOKENS",
    "QUESTA_VAULT_CONFIG",
    "QUESTA_VAULT_NEW_PASSPHRASE",
)

# Fast key derivation for tests, passed explicitly on the command line (never a global switch).
FAST_KDF = ["--kdf-memory", "8192", "--kdf-passes", "1", "--kdf-lanes", "1", "--unsafe-kdf"]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the vault, HOME and the data directories at tmp_path; drop our env vars."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))  # the settings file too
    monkeypatch.setenv("NO_COLOR", "1")
    vault_path = tmp_path / "vault.db"
    monkeypatch.setenv("QUESTA_VAULT", str(vault_path))
    return vault_path


# --------------------------------------------------------------------------- PostgreSQL
# One throwaway server per test session (tests/pg_server.py), a fresh database per test.
# Without PostgreSQL the PostgreSQL variants skip with a loud reason; under CI=true they fail.


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    bindir = find_binaries()
    if bindir is None:
        if must_have_postgres():
            pytest.fail(NOT_INSTALLED)
        pytest.skip(NOT_INSTALLED)
    server = PostgresServer(bindir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """The URL of a fresh, empty PostgreSQL database (no password: the socket trusts)."""
    return pg_server.fresh_database()


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def vault_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's vault lives, once per backend: a new file path, or an empty
    PostgreSQL database's URL."""
    if request.param == "sqlite":
        return tmp_path / "vault.db"
    return request.getfixturevalue("pg_url")


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@click.command(
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    }
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def _entry(args: tuple[str, ...]) -> None:
    sys.exit(run(list(args)))


def invoke(
    args: Sequence[str], *, input: str | bytes | None = None, env: dict[str, str] | None = None
) -> CliResult:
    """Run the real CLI (through its error mapping) in-process and capture everything."""
    result = CliRunner().invoke(_entry, list(args), input=input, env=env, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli_invoke():
    return invoke
