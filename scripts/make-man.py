#!/usr/bin/env python3
"""Write man pages (roff, section 1) generated from the commands themselves.

    scripts/make-man.py OUTDIR

One page for ``questa-vault`` (global options, the commands in workflow order) and one per
command and sub-command (``questa-vault-user-add.1``), from click's own help texts and
options, so the pages cannot drift from ``--help``. tests/test_man.py runs it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from vault import __version__
from vault.cli import cli


def _roff(text: str) -> str:
    """Escape text for roff: backslashes, and a leading dot or quote on a line."""
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def _help_body(text: str) -> str:
    """click's help text: paragraphs; a \\b block (examples) kept verbatim."""
    out: list[str] = []
    for block in text.strip().split("\n\n"):
        if block.lstrip().startswith("\b"):
            body = block.lstrip()[1:].strip("\n")
            out += [".PP", ".nf", _roff(body), ".fi"]
        else:
            out += [".PP", _roff(" ".join(line.strip() for line in block.splitlines()))]
    return "\n".join(out)


def _options(ctx: click.Context, command: click.Command) -> str:
    out = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        out += [".TP", f"\\fB{_roff(names)}\\fR", _roff(help_text or "")]
    return "\n".join(out)


def page(path: list[str], command: click.Command, parent: click.Context | None) -> str:
    name = " ".join(path)
    ctx = click.Context(command, info_name=path[-1], parent=parent)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    usage = " ".join(command.collect_usage_pieces(ctx))
    short = (command.get_short_help_str(limit=80) or "").rstrip(".")
    parts = [
        f'.TH "{"-".join(path).upper()}" "1" "{date}" "questa-vault {__version__}" "User Commands"',
        ".SH NAME",
        f"{'-'.join(path)} \\- {_roff(short)}",
        ".SH SYNOPSIS",
        f"\\fB{_roff(name)}\\fR {_roff(usage)}",
        ".SH DESCRIPTION",
        _help_body(command.help or ""),
    ]
    options = _options(ctx, command)
    if options:
        parts += [".SH OPTIONS", options]
    if isinstance(command, click.Group):
        subs = command.list_commands(ctx)
        parts += [".SH COMMANDS"]
        for sub in subs:
            sub_command = command.get_command(ctx, sub)
            if sub_command is not None:
                parts += [".TP", f"\\fB{sub}\\fR", _roff(sub_command.get_short_help_str(80))]
        parts += [".SH SEE ALSO", ", ".join(f"{'-'.join([*path, s])}(1)" for s in subs)]
    return "\n".join(parts) + "\n"


def write_pages(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def walk(path: list[str], command: click.Command, parent: click.Context | None) -> None:
        target = outdir / f"{'-'.join(path)}.1"
        target.write_text(page(path, command, parent), encoding="utf-8")
        written.append(target)
        if isinstance(command, click.Group):
            ctx = click.Context(command, info_name=path[-1], parent=parent)
            for sub in command.list_commands(ctx):
                sub_command = command.get_command(ctx, sub)
                if sub_command is not None:
                    walk([*path, sub], sub_command, ctx)

    walk(["questa-vault"], cli, None)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: scripts/make-man.py OUTDIR", file=sys.stderr)
        return 2
    for path in write_pages(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
