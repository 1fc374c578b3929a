"""docs/simulator.md stays true: its Python example runs, and its knob table names every field."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from vault.simulator import SimulatorConfig

DOC = Path(__file__).resolve().parent.parent / "docs" / "simulator.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_doc_has_a_python_example():
    assert len(_python_blocks()) == 1


@pytest.mark.parametrize("code", _python_blocks())
def test_python_example_runs(code):
    exec(compile(code, str(DOC), "exec"), {})


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(SimulatorConfig)])
def test_every_knob_is_documented(name):
    assert f"| `{name}`" in DOC.read_text(encoding="utf-8")
