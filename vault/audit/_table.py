"""The one table printer: every aligned listing (``jobs``, ``user list``, ``config``, ``log``,
the audit's job table and its deep cross-check) is a ``Table`` of ``Column``s.

A column has a fixed width (a longer cell is cut, or widens its line), or none: then it is as
wide as its widest cell (``Table.sized`` reads the rows first; listings of users, settings or
log entries), or, for the last column, free (not padded; a wrapped cell goes on to
continuation lines indented under it). The whole row layout compiles, once, into one
``str.format`` pattern, so a row costs one C-level call and a 100,000-job audit streams its
lines as they are made (``Table.lines`` is a generator). A line longer than the table's
``width`` is shortened with an ellipsis.

Cells are text or integers; escaping for a terminal is the caller's (``vault.cli._terminal``).
rich's ``Table`` was measured first: about 1 ms per row, minutes for a 100,000-job listing,
and it re-measures every cell to fit the terminal; these listings need neither
(``docs/architecture.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from typing import Any, Literal

from vault._dataclass import dataclass


@dataclass(frozen=True)
class Column:
    """One column of a ``Table``: its heading, width and alignment."""

    heading: str
    width: int | None = None  # None: the widest cell (``Table.sized``), or free when last
    align: Literal["<", ">"] = "<"
    cut: bool = False  # a longer text cell is cut to the width (else it widens its line)
    gap: str = " "  # before this column (not before the first)


def fit(line: str, width: int) -> str:
    """``line`` shortened to ``width`` characters, the last one an ellipsis, if longer."""
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


@dataclass(frozen=True)
class Table:
    """A plain-text table's layout: its columns, and how long its lines may be."""

    columns: tuple[Column, ...]
    width: int | None = None  # lines longer than this end in an ellipsis
    strip: bool = False  # trailing spaces removed (a padded last column)

    @classmethod
    def sized(
        cls,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        *,
        width: int | None = None,
        strip: bool = True,
    ) -> Table:
        """A table whose columns without a width are as wide as their widest cell or heading."""
        widths = [
            c.width
            if c.width is not None
            else max([len(c.heading), *(len(row[i]) for row in rows)])
            for i, c in enumerate(columns)
        ]
        return cls(
            tuple(replace(c, width=w) for c, w in zip(columns, widths, strict=True)),
            width=width,
            strip=strip,
        )

    @cached_property
    def _format(self) -> Callable[..., str]:
        parts: list[str] = []
        last = len(self.columns) - 1
        for n, c in enumerate(self.columns):
            gap = c.gap.replace("{", "{{").replace("}", "}}") if n else ""
            if c.width is None:
                if n != last:
                    raise ValueError(f"column {c.heading!r} needs a width (or Table.sized)")
                spec = ""
            else:
                spec = f"{c.align}{c.width}" + (f".{c.width}" if c.cut else "")
            parts.append(gap + "{:" + spec + "}")
        return "".join(parts).format

    @cached_property
    def indent(self) -> int:
        """Where the last column starts: continuation lines are indented this far."""
        return len(self._format(*(c.heading for c in self.columns[:-1]), ""))

    def _finish(self, line: str) -> str:
        if self.strip:
            line = line.rstrip()
        if self.width is not None and len(line) > self.width:
            line = fit(line, self.width)
        return line

    def heading(self) -> str:
        return self._finish(self._format(*(c.heading for c in self.columns)))

    def line(self, cells: Sequence[Any]) -> str:
        """One row as a line (its cells in column order)."""
        return self._finish(self._format(*cells))

    def lines(
        self,
        rows: Iterable[Sequence[Any]],
        *,
        wrap: Callable[[Any], Sequence[str]] | None = None,
    ) -> Iterator[str]:
        """The heading, then each row; with ``wrap``, the last cell becomes ``wrap(cell)``'s
        lines: the first in the row, the others indented under the last column."""
        yield self.heading()
        form = self._format
        finish = self._finish if self.strip or self.width is not None else None
        if wrap is None:
            for row in rows:
                text = form(*row)
                yield text if finish is None else finish(text)
            return
        indent = " " * self.indent
        for row in rows:
            first, *more = wrap(row[-1])
            text = form(*row[:-1], first)
            yield text if finish is None else finish(text)
            for line in more:
                yield indent + line if finish is None else finish(indent + line)
