"""questa-vault: archive Questa AI anonymization results encrypted, restore, audit."""

from __future__ import annotations

from vault._version import __version__

__all__ = ["__version__"]
