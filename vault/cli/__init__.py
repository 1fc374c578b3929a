"""The command line (tier L4): the only place that prints, prompts, reads the environment or
exits. Each command module adds its commands to the group defined in ``_app``, which imports
a module only when one of its commands runs (``_app.COMMANDS``)."""

from __future__ import annotations

import gc
import sys

from vault.cli._app import cli, run, start_up

__all__ = ["cli", "main", "run"]


def main(*, collecting: bool | None = None) -> None:
    """Run the command line and exit (``vault.__main__`` calls it for the console script).
    ``collecting``: whether the cyclic collector ran before the caller paused it (default: as
    it is now); it waits for the command's own work (``_app.start_up``)."""
    with start_up(collecting):
        code = run(sys.argv[1:])
    # The command is done and the process ends: put every object out of the cyclic
    # collector's reach (gc.freeze), so that the interpreter's collections at exit do not
    # walk the objects of every imported module again (5-10 % of a short command's
    # instructions).
    # Nothing is lost: the commands close their files and connections themselves, what is
    # still referenced at exit is freed by reference counting as before, and only objects
    # in reference cycles are left to the end of the process.
    gc.freeze()
    sys.exit(code)
