"""Restoring inside CSV/TSV with every byte outside restored fields unchanged.

The file is never parsed and rewritten (a reader/writer round trip changes quoting, line endings
and the final newline). Instead fields are found with their raw spans and only fields holding a
placeholder are rewritten:

- A quoted field stays quoted; quotes inside restored values are doubled.
- An unquoted field whose restored value now holds the delimiter, the quote, CR or LF is quoted
  (the whole field, quotes doubled); otherwise it stays unquoted. A field that becomes empty
  and is alone on its line is written ``""`` (as ``csv.writer`` does), or the row would vanish.
- ``neutralize``: a restored cell starting with ``=``, ``+``, ``-``, ``@``, TAB or CR gets a
  leading ``'`` so spreadsheets do not run it as a formula.

Field syntax follows Python's ``csv`` module (non-strict): a field is quoted only when the quote
is its first character (after spaces when the dialect skips initial spaces); after the closing
quote, characters up to the next delimiter belong to the field; a quote in the middle of an
unquoted field is literal. Lines end at CR, LF or CRLF outside quotes.

Speed: in strict mode one possessive regex skips, in C, every run of fields that holds no ``[``;
Python sees only the fields that may hold a placeholder. Lenient mode looks at every field.
"""

from __future__ import annotations

import re

from vault.placeholders import Matcher
from vault.restore.formats import CsvDialect

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class CsvProcessor:
    """Restores a growing CSV buffer field by field (see ``Processor`` in ``engine``)."""

    def __init__(self, matcher: Matcher, dialect: CsvDialect, *, neutralize: bool) -> None:
        self.matcher = matcher
        self.dialect = dialect
        self.neutralize = neutralize
        self.neutralized = 0
        self.quoted = 0
        q = dialect.quotechar
        self._quote = q
        self._specials = (dialect.delimiter, "\r", "\n")
        self._double = lambda value: value.replace(q, q + q)
        seps = re.escape(dialect.delimiter) + r"\r\n"
        qe = re.escape(q)
        sp = " *" if dialect.skipinitialspace else ""
        clean_quoted = rf"{sp}{qe}(?:[^{qe}\[]++|{qe}{qe})*+{qe}[^{seps}\[]*+"
        clean_bare = rf"(?!{sp}{qe})[^{seps}\[]++"
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
            new = self.matcher.sub(raw, offset, self._double)
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
            new = q + new.replace(q, q + q) + q
        return new

    def _neutralize(self, cell: str, at: int) -> str:
        if cell.startswith(FORMULA_STARTS, at):
            self.neutralized += 1
            return cell[:at] + "'" + cell[at:]
        return cell
