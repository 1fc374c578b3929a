"""Commands of this area are added here (see vault/cli/_app.py for the shared helpers)."""

from __future__ import annotations

from vault.cli._app import cli  # noqa: F401
