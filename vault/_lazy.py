"""Lazy package exports: a package's public names are imported on first use.

``import vault`` (and so ``questa-vault --version``) must not pay for httpx, asyncio,
sqlite3 or cryptography; each package ``__init__`` lists where its names live and hands
``__getattr__`` to this module (PEP 562). Type checkers read the same names from an
``if TYPE_CHECKING:`` import block next to the table, which a test keeps in step with it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``where`` maps each public name to the
    module defining it. A name is imported once, then cached in the package's namespace."""

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
