"""The command line's entry point: the ``questa-vault`` console script and ``python -m vault``.

Imported only to run the command. Before anything else is imported it pauses the cyclic
collector: start-up (click, the command's modules, its options) makes objects that live to the
end of the process and no garbage cycles, so the collector's passes over them free nothing.
``vault.cli._app.start_up`` resumes it where the command's own work begins.
"""

import gc

_collecting = gc.isenabled()
gc.disable()

from vault.cli import main as _main  # noqa: E402 - imported with the collector paused


def main() -> None:
    """Run the command line (the console script's function)."""
    _main(collecting=_collecting)


if __name__ == "__main__":
    main()
