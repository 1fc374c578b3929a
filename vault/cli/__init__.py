"""The command line (tier L4): the only place that prints, prompts, reads the environment or
exits. Each command module adds its commands to the group defined in ``_app``, which imports
a module only when one of its commands runs (``_app.COMMANDS``)."""

from __future__ import annotations

import sys

from vault.cli._app import cli, run

__all__ = ["cli", "main", "run"]


def main() -> None:
    """Entry point of the ``questa-vault`` command."""
    sys.exit(run(sys.argv[1:]))
