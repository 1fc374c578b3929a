"""The command line's entry point: the ``questa-vault`` console script and ``python -m vault``.

``main`` pauses the cyclic collector before click and the command's modules are imported:
start-up makes objects that live to the end of the process and hardly any garbage cycles, so
the collector's passes over them free almost nothing. ``vault.cli._app.start_up`` resumes it
where the command's own work begins. Importing this module changes nothing.
"""

import gc


def main() -> None:
    """Run the command line (the console script's function)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        from vault.cli import main as run_command
    except KeyboardInterrupt:  # Ctrl-C while the command's modules load: one line, 130
        import sys

        sys.stderr.write("questa-vault: interrupted\n")
        raise SystemExit(130) from None
    except BaseException:
        if collecting:
            gc.enable()
        raise
    run_command(collecting=collecting)


if __name__ == "__main__":
    main()
