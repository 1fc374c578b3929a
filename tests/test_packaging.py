"""The package metadata is complete and consistent, and a plain install (no extras) works.

Building the wheel, installing it into a fresh venv and running the demo from it is
scripts/package-check.sh (CI runs it); these are the fast checks of the same promises.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import vault

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
# the HTTP server, and what it writes Word, Excel and PDF answers with
SIMULATOR_DEPS = {"starlette", "uvicorn", "python-multipart", "fpdf2", "lxml"}


def _names(requirements: list[str]) -> set[str]:
    return {r.split(">")[0].split("=")[0].split("[")[0].strip().lower() for r in requirements}


def test_license_file_is_referenced_and_shipped() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")


def test_typed_marker_is_shipped() -> None:
    assert (Path(vault.__file__).parent / "py.typed").exists()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["vault"]


def test_metadata_names_authors_classifiers_and_urls() -> None:
    assert PROJECT["authors"] and PROJECT["urls"]
    classifiers = PROJECT["classifiers"]
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in classifiers)
    # A license expression and a License :: classifier together are rejected by PEP 639 tools.
    assert not any(c.startswith("License ::") for c in classifiers)


def test_setuptools_floor_supports_license_expressions() -> None:
    """A license string (PEP 639) needs setuptools 77.0.3; an older floor fails to build the
    metadata. scripts/package-check.sh builds with exactly the floor."""
    (requirement,) = PYPROJECT["build-system"]["requires"]
    floor = tuple(int(p) for p in requirement.split(">=")[1].split("."))
    assert floor >= (77, 0, 3)


def test_version_lives_in_one_place() -> None:
    assert "version" in PROJECT["dynamic"] and "version" not in PROJECT
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "vault._version.__version__"
    assert metadata.version("questa-vault") == vault.__version__


def test_simulator_server_is_an_extra_not_a_base_dependency() -> None:
    simulator_only = _names(PROJECT["optional-dependencies"]["simulator"])
    assert not _names(PROJECT["dependencies"]) & simulator_only
    assert _names(PROJECT["optional-dependencies"]["simulator"]) >= SIMULATOR_DEPS
    assert _names(PROJECT["optional-dependencies"]["keyring"]) == {"keyring"}
    venv = (ROOT / "scripts" / "_venv.sh").read_text(encoding="utf-8")
    assert "simulator" in venv and "keyring" in venv  # demo.sh and test.sh source it


def test_sdist_manifest_carries_what_the_tests_need() -> None:
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    for needed in ("graft tests", "graft docs", "graft scripts", "graft .ci", "LICENSE"):
        assert needed in manifest


def test_ci_builds_and_installs_the_wheel() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test.sh" in ci and "scripts/package-check.sh" in ci
    check = (ROOT / "scripts" / "package-check.sh").read_text(encoding="utf-8")
    for step in ("-m build", "--version", "demo", "simulate", "tar -xzf"):
        assert step in check


_BLOCKED = """
import sys
for name in ("starlette", "uvicorn", "multipart", "python_multipart"):
    sys.modules[name] = None  # as if the simulator extra were not installed
from vault.cli import run
sys.exit(run(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", [["simulate", "--port", "0"], ["demo"]])
def test_simulator_commands_without_the_extra_fail_in_one_line(
    command: list[str], tmp_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _BLOCKED, *command],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "pip install 'questa-vault[simulator]'" in proc.stderr


def test_plain_commands_do_not_import_the_simulator(tmp_path: Path) -> None:
    """archive, restore and audit work without the extra: the CLI never imports it for them."""
    script = _BLOCKED.replace("sys.exit(run(sys.argv[1:]))", "sys.exit(run(['audit', '--help']))")
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
