"""Shared fixtures: every test gets its own temporary vault and a clean environment."""

from __future__ import annotations

import os
import signal
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


def interruptible() -> None:
    """``preexec_fn`` for a child the test stops with SIGINT: a shell starts a background job
    with SIGINT ignored (``scripts/test.sh &``, nohup), the child inherits that, and Python
    then installs no KeyboardInterrupt handler, so Ctrl-C would never reach the command."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
        _PG_CPU.append(server.cpu_seconds())
        server.stop()


_PG_CPU: list[float | None] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The throwaway server's CPU time: the cost of the PostgreSQL variants beyond the test
    process itself (its backends are not children of pytest)."""
    for seconds in _PG_CPU:
        if seconds is not None:
            terminalreporter.write_line(f"PostgreSQL test server CPU: {seconds:.1f} s")


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


@pytest.fixture
def cli_vault(vault_location: Path | str, monkeypatch: pytest.MonkeyPatch) -> Path | str:
    """The vault the CLI opens (``QUESTA_VAULT``), once per backend (``vault_location``): a CLI
    test that touches a vault takes this (or a fixture built on it) instead of
    ``isolated_env``. A test that needs the SQLite file itself (its bytes, modes, sidecars,
    a second ``sqlite3`` connection) is marked ``sqlite_only("why")``: its PostgreSQL
    variant is not collected (``pytest_collection_modifyitems`` below).

    CLI test files on both backends: test_cli_users, test_cli_lifecycle, test_cli_archive,
    test_cli_restore, test_cli_restore_stream. SQLite only, on purpose: test_cli_outputs
    (modes of output files and of the vault file's sidecars), test_cli_conventions (prompts,
    help and exit-code conventions; the one init in it is prompt handling) and
    test_cli_errors (no vault). The PostgreSQL-specific CLI cases (credentials, roles,
    lost connections, migrate, several hosts) are in test_postgres, test_pg_roles,
    test_migrate and test_pg_multihost."""
    monkeypatch.setenv("QUESTA_VAULT", str(vault_location))
    return vault_location


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): a backend-parametrized test that needs the SQLite file itself; "
        "its PostgreSQL variant is deselected",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the PostgreSQL variant of every ``sqlite_only`` test (the reason is required)."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None and not (marker.args and str(marker.args[0]).strip()):
            raise pytest.UsageError(f"{item.nodeid}: sqlite_only needs a reason")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("vault_location") if callspec is not None else None
        (dropped if marker is not None and backend == "postgresql" else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


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
