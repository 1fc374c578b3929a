"""The import tiers of docs/architecture.md hold: a module imports only from lower tiers,
and each third-party library enters through its one module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import vault

PACKAGE = Path(vault.__file__).parent

# Tier of each top-level module or sub-package of `vault`. Lower tiers never import higher ones
# and modules of the same tier never import each other.
TIERS: dict[str, int] = {
    "_version": 0,
    "_lazy": 0,
    "_dataclass": -1,  # below L0: the standard library only (every tier uses it)
    "_dataclass_code": -2,  # generated, the standard library only; _dataclass loads it by name
    "errors": 0,
    "models": 0,
    "crypto": 1,
    "config": 1,
    "simulator": 1,
    "documents": 1,
    "client": 2,
    "store": 2,
    "placeholders": 2,
    "custody": 3,
    "archive": 4,
    "restore": 4,
    "audit": 4,
    "lifecycle": 4,
    "api": 5,
    "cli": 6,
}

# Third-party libraries and the one part of `vault` allowed to import each.
GATEKEEPERS: dict[str, set[str]] = {
    "httpx": {"client"},
    "cryptography": {"crypto"},
    "sqlite_utils": {"store"},
    "sqlite3": {"store"},
    # config: only libpq's URL parser (conninfo_to_dict), so a vault URL is checked as it connects
    "psycopg": {"store", "config"},
    "click": {"cli"},
    "rich": {"cli"},
    "starlette": {"simulator"},
    "uvicorn": {"simulator"},
    "multipart": {"simulator"},
    "python_multipart": {"simulator"},
    "defusedxml": {"documents"},
    "pypdf": {"documents", "simulator"},
    "fpdf": {"simulator"},
    "lxml": {"simulator"},
}


def _unit(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _modules() -> list[Path]:
    return [
        p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py" and p != PACKAGE / "__init__.py"
    ]


def test_every_module_has_a_tier() -> None:
    units = {_unit(p) for p in _modules()}
    assert units <= set(TIERS), f"add to TIERS and docs/architecture.md: {units - set(TIERS)}"


def test_imports_respect_tiers() -> None:
    problems = []
    for path in _modules():
        unit = _unit(path)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "vault":
                continue
            if len(parts) == 1:
                problems.append(f"{path.name}: imports the package root")
                continue
            target = parts[1]
            if target == unit:
                continue
            if TIERS[target] >= TIERS[unit]:
                problems.append(f"{unit} (L{TIERS[unit]}) imports {target} (L{TIERS[target]})")
    assert not problems, problems


def test_third_party_libraries_enter_through_one_module() -> None:
    problems = []
    for path in _modules():
        unit = _unit(path)
        for name in _imports(path):
            top = name.split(".")[0]
            allowed = GATEKEEPERS.get(top)
            if allowed is not None and unit not in allowed:
                problems.append(f"{unit} imports {top}")
    assert not problems, problems


def test_simulator_imports_only_tier_zero() -> None:
    for path in (
        PACKAGE.joinpath("simulator").rglob("*.py")
        if PACKAGE.joinpath("simulator").is_dir()
        else []
    ):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "vault" and len(parts) > 1 and parts[1] != "simulator":
                assert TIERS[parts[1]] <= 0, f"{path.name} imports {name}"


def test_the_command_line_reaches_the_vault_through_the_facade() -> None:
    """Only ``vault.Vault`` is the vault: no command opens the custodian or the store itself
    (15.2, 15.3); ``_common.open_vault`` hands every command a ``Vault``."""
    below = {"custody", "store"}
    problems = [
        f"cli/{path.name} imports {name}"
        for path in PACKAGE.joinpath("cli").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[:2][-1] in below and name.startswith("vault.")
    ]
    assert not problems, problems


@pytest.mark.parametrize(
    ("pattern", "name"),
    [
        (r"\bgenerations?\b", "key version"),
        (r"\bvault\.keyring\b|\bKeyring\b", "the custodian (vault.custody.Custodian)"),
    ],
)
def test_one_name_per_concept(pattern: str, name: str) -> None:
    """A retired name stays retired in the code, the messages and the docs (15.3). The OS
    keyring of ``secret set`` is another thing and keeps its name."""
    root = PACKAGE.parent
    files = [*PACKAGE.rglob("*.py"), *root.joinpath("docs").glob("*.md"), root / "README.md"]
    hits = [
        f"{path.relative_to(root)}:{n}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert not hits, f"say {name!r} instead: {hits}"
