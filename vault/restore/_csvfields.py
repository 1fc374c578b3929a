"""The CSV field path: one field at a time, for what the record path in ``csvfmt`` leaves.

Used in lenient mode, with ``--neutralize-formulas``, for dialects that skip initial spaces,
for a value that needs quotes inside a longer unquoted field right after a closing quote, and
for one huge line. In strict mode one possessive regex still skips, in C, every run of fields
that holds no ``[``; lenient mode looks at every field.
"""

from __future__ import annotations

import re

from vault.placeholders import LOOKALIKE_OPENING, Matcher
from vault.restore._formats import CsvDialect

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class FieldPath:
    """Restores whole fields, quoting and neutralizing as ``csvfmt`` describes."""

    def __init__(self, matcher: Matcher, dialect: CsvDialect, *, neutralize: bool) -> None:
        self.matcher = matcher
        self.dialect = dialect
        self.neutralize = neutralize
        self.neutralized = 0
        self.quoted = 0
        q = self._quote = dialect.quotechar
        self._specials = (dialect.delimiter, "\r", "\n")

        def double(value: str) -> str:
            return value.replace(q, q + q)

        self.double = double
        seps = re.escape(dialect.delimiter) + r"\r\n"
        qe = re.escape(q)
        sp = " *" if dialect.skipinitialspace else ""
        # a field with no "[" and no square-bracket look-alike comes back unchanged
        # (strict); a look-alike is reported (``Matcher``)
        b = rf"\[{LOOKALIKE_OPENING}"
        clean_quoted = rf"{sp}{qe}(?:[^{qe}{b}]++|{qe}{qe})*+{qe}[^{seps}{b}]*+"
        clean_bare = rf"(?!{sp}{qe})[^{seps}{b}]++"
        quoted = rf"{sp}{qe}(?:[^{qe}]++|{qe}{qe})*+{qe}[^{seps}]*+"
        bare = rf"(?!{sp}{qe})[^{seps}]*+"
        self._skip: list[re.Pattern[str]] = []
        self._field: list[re.Pattern[str]] = []
        for final in (False, True):
            end = rf"(?=[{seps}]|\Z)" if final else rf"(?=[{seps}])"
            if matcher.lenient:
                skip = rf"[{seps}]*+"
            else:
                skip = rf"(?:[{seps}]++|(?:{clean_quoted}|{clean_bare}){end})*+"
            self._skip.append(re.compile(skip))
            self._field.append(re.compile(rf"(?:{quoted}|{bare}){end}"))

    def process(self, buffer: str, start: int, final: bool, base: int) -> tuple[str, int]:
        skip = self._skip[final].match
        field = self._field[final].match
        pieces: list[str] = []
        pos = last = start
        if base + start == 0 and buffer.startswith("\ufeff"):
            pos = 1  # the BOM is not part of the first field
        n = len(buffer)
        while True:
            skipped = skip(buffer, pos)
            pos = skipped.end() if skipped else pos
            if pos >= n:
                break
            match = field(buffer, pos)
            if match is None:
                if not final:
                    break  # the field may go on in the next chunk
                end = n  # a quoted field left open at the end of the input
            else:
                end = match.end()
            raw = buffer[pos:end]
            new = self._restore_field(raw, base + pos)
            if not new and self._alone(buffer, pos, end, base, final):
                new = self._quote * 2  # an empty lone field would read as no row at all
            if new is not raw:
                pieces.append(buffer[last:pos])
                pieces.append(new)
                last = end
            pos = end
        pieces.append(buffer[last:pos])
        return "".join(pieces), pos

    @staticmethod
    def _alone(buffer: str, pos: int, end: int, base: int, final: bool) -> bool:
        before = buffer[pos - 1] if pos else ""
        after = buffer[end] if end < len(buffer) else ""
        at_start = base + pos == 0 or before in ("\r", "\n", "\ufeff")
        return at_start and (after in ("\r", "\n") or (final and not after))

    def _restore_field(self, raw: str, offset: int) -> str:
        q = self._quote
        lead = len(raw) - len(raw.lstrip(" ")) if self.dialect.skipinitialspace else 0
        if raw.startswith(q, lead):
            new = self.matcher.sub(raw, offset, self.double)
            if new == raw:
                return raw
            if self.neutralize:
                new = self._neutralize(new, lead + 1)
            return new
        new = self.matcher.sub(raw, offset)
        if new == raw:
            return raw
        if self.neutralize:
            new = self._neutralize(new, lead)
        if any(c in new for c in self._specials) or new.count(q) > raw.count(q):
            self.quoted += 1
            # the leading spaces the dialect skips stay outside the quotes
            new = new[:lead] + q + self.double(new[lead:]) + q
        return new

    def _neutralize(self, cell: str, at: int) -> str:
        if cell.startswith(FORMULA_STARTS, at):
            self.neutralized += 1
            return cell[:at] + "'" + cell[at:]
        return cell
