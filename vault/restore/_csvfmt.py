"""Restoring inside CSV/TSV with every byte outside restored fields unchanged.

The file is never parsed and rewritten (a reader/writer round trip changes quoting, line endings
and the final newline). Fields are found with their raw spans and only fields holding a
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

Two paths give the same bytes. The record path (strict, no neutralizing, no initial spaces)
takes whole records and splits them, in C, with one regex into text, quoted fields and
placeholder candidates outside quotes; candidates are looked up in bulk and Python only visits
what needs it: quoted fields holding a ``[``, unknown candidates, and values that need quotes.
The field path (``csvfields``) handles everything else one field at a time.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate, compress, count, repeat
from operator import is_, is_not, not_
from typing import cast

from vault.placeholders import LOOKALIKE_CLOSING, LOOKALIKE_OPENING, Matcher
from vault.restore._csvfields import FieldPath
from vault.restore._formats import CsvDialect


class CsvProcessor:
    """Restores a growing CSV buffer (see ``Processor`` in ``engine``)."""

    def __init__(self, matcher: Matcher, dialect: CsvDialect, *, neutralize: bool) -> None:
        self.matcher = matcher
        self.fields = FieldPath(matcher, dialect, neutralize=neutralize)
        self._records = not (matcher.lenient or neutralize or dialect.skipinitialspace)
        q = self._quote = dialect.quotechar
        self._double = self.fields.double
        seps = re.escape(dialect.delimiter) + r"\r\n"
        qe = re.escape(q)
        width = matcher.candidate_length
        # text | quoted field (a quote at a field start) | candidate outside quotes
        self._split = re.compile(
            rf"({qe}(?<![^{seps}]{qe})(?:[^{qe}]++|{qe}{qe})*+{qe}|\[[^\[\]\r\n{qe}]{{1,{width}}}\])"
        ).split
        self._split_exact = re.compile(rf"(\[[^\[\]\r\n{qe}]{{1,{width}}}\])").split
        # the same, checked (``_split_candidates``): one excluded character is skipped faster
        self._split_loose = re.compile(rf"(\[[^\]]{{1,{width}}}\])").split
        self._split_quoted = re.compile(
            rf"({qe}(?<![^{seps}]{qe})(?:[^{qe}]++|{qe}{qe})*+{qe})"
        ).split
        self._open_quote = re.compile(rf"{qe}(?<![^{seps}]{qe})")
        self._seps = frozenset(dialect.delimiter + "\r\n")
        self._lookalikes = LOOKALIKE_OPENING + LOOKALIKE_CLOSING
        self._last_sep = re.compile(rf"[{seps}](?=[^{seps}]*\Z)").search
        self._first_sep = re.compile(rf"[{seps}]").search
        originals = matcher.originals
        # which originals need quotes, or are empty: one C-level pass over the map each
        # (a Python loop per entry cost more than restoring a few MB). Most maps have no
        # original that needs quotes: a memchr per special character over all of them says
        # so, where a regex search per original cost 800 instructions each.
        values = list(originals.values())
        joined = "\x00".join(values)
        if any(c in joined for c in dialect.delimiter + q + "\r\n"):
            special = re.compile(f"[{re.escape(dialect.delimiter + q)}\r\n]").search
            self._needs_quotes = frozenset(compress(originals, map(special, values)))
        else:
            self._needs_quotes = frozenset()
        self._empty = frozenset(compress(originals, map(not_, values)))
        self._checked = self._needs_quotes | self._empty

    @property
    def neutralized(self) -> int:
        return self.fields.neutralized

    @property
    def quoted(self) -> int:
        return self.fields.quoted

    def process(self, buffer: str, start: int, final: bool, base: int) -> tuple[str, int]:
        if self._records:
            done = self._process_records(buffer, start, final, base)
            if done is not None:
                return done
        return self.fields.process(buffer, start, final, base)

    def _process_records(
        self, buffer: str, start: int, final: bool, base: int
    ) -> tuple[str, int] | None:
        """Whole records at once; None when this stretch needs the field path."""
        prefix = ""
        if base + start == 0 and buffer.startswith("\ufeff"):
            prefix, start = "\ufeff", 1  # the BOM is not part of the first field
        if final:
            cut = len(buffer)
        else:
            cut = max(buffer.rfind("\n"), buffer.rfind("\r")) + 1
            if cut <= start:
                return None  # no whole record yet (or one huge line): the field path cuts
        text = buffer[start:cut]
        if not text.isascii() and any(c in text for c in self._lookalikes):
            return None  # a look-alike may stand anywhere: the field path reports it
        # Without a quote character no quoted field can start: the candidates alone, found by
        # a pattern whose literal first character the regex engine looks for at C speed.
        candidates_only = self._quote not in text or self._quotes_closed_and_plain(text)
        split = self._split_candidates if candidates_only else self._split
        parts: list[str] = split(text)
        ends: list[int] = []

        def offset_of(k: int) -> int:  # absolute offset of parts[k]
            if not ends:
                ends.extend(accumulate(map(len, parts)))
            return base + start + (ends[k - 1] if k else 0)

        # A quoted field still open at the cut starts after the last complete one, and what
        # the split saw inside it is not what it seems: stop before it.
        mids = parts[1::2]
        q = self._quote
        opened = (
            None if candidates_only else self._open_quote_after(parts, mids, buffer, start, cut)
        )
        if opened is not None:
            if final or opened.start() == start:
                return None
            k = bisect_right([offset_of(i + 1) for i in range(len(parts))], opened.start() + base)
            parts = [*parts[:k], buffer[offset_of(k) - base : opened.start()]]
            cut = opened.start()
            ends.clear()
            mids = parts[1::2]
        if not mids:
            return prefix + buffer[start:cut], cut

        plan = self._plan(parts, mids, buffer, start, base, final)
        if plan is None:
            return None
        whole, alone, opens, closes = plan
        matcher = self.matcher
        originals = matcher.originals
        values: list[str | None] = list(map(originals.get, mids))
        if matcher.unique_originals:
            matcher.count_originals(values)  # the whole list, misses (None) too: no filtering
        else:
            matcher.count_restored(compress(mids, map(is_not, values, repeat(None))))
        # Misses: quoted fields (restored inside when they hold a '[') and unknown candidates.
        for i in compress(count(), map(is_, values, repeat(None))):
            m = mids[i]
            if m[0] != q:
                values[i] = matcher.resolve_miss(m, offset_of(2 * i + 1))
            elif "[" in m:
                values[i] = matcher.sub(m, offset_of(2 * i + 1), self._double)
            else:
                values[i] = m
        for i in whole:
            values[i] = q + self._double(cast(str, values[i])) + q
        for i in alone:
            if mids[i] in originals:
                values[i] = q + q
        self.fields.quoted += len(whole) + len(opens)
        parts[1::2] = cast(list[str], values)
        if opens:
            self._quote_fields(parts, opens, closes)
        return prefix + "".join(parts), cut

    def _split_candidates(self, text: str) -> list[str]:
        """Text and candidates outside quotes, alternating; see ``Matcher._split_candidates``
        (here a candidate holds no CR and no quote either)."""
        parts: list[str] = self._split_loose(text)
        if len(parts) > 1:
            tokens = "".join(parts[1::2])
            if (
                "\n" in tokens
                or "\r" in tokens
                or self._quote in tokens
                or tokens.count("[") != len(parts) // 2
            ):
                return cast(list[str], self._split_exact(text))
        return parts

    def _open_quote_after(
        self, parts: list[str], mids: list[str], buffer: str, start: int, cut: int
    ) -> re.Match[str] | None:
        """An opening quote after the last complete quoted field of the split, before ``cut``."""
        q = self._quote
        j = len(mids) - 1
        while j >= 0 and mids[j][0] != q:
            j -= 1
        after_quoted = cut - sum(map(len, parts[2 * j + 2 :])) if j >= 0 else start
        return self._open_quote.search(buffer, after_quoted, cut)

    def _quotes_closed_and_plain(self, text: str) -> bool:
        """Whether the candidates alone can be split out of ``text`` although it holds quotes:
        every quote belongs to a complete quoted field (none is left open at the cut, none is
        literal inside an unquoted field), no quoted field holds a ``[`` (they come back
        unchanged), and no original needs quotes or is empty (``_plan`` needs the quoted
        fields). The quoted fields are found by a pattern with a literal first character, which
        the regex engine skips to at C speed; the full split tries two alternatives at every
        character, which cost more than the rest of a dense table's restore."""
        if self._checked:
            return False
        pieces = self._split_quoted(text)
        return self._quote not in "".join(pieces[0::2]) and "[" not in "".join(pieces[1::2])

    def _plan(
        self, parts: list[str], mids: list[str], buffer: str, start: int, base: int, final: bool
    ) -> tuple[list[int], list[int], set[tuple[int, int]], set[tuple[int, int]]] | None:
        """Which candidates need quotes around them or around their field; None: field path."""
        whole: list[int] = []  # candidates that are a whole field
        alone: list[int] = []  # empty originals alone on their line
        opens: set[tuple[int, int]] = set()  # (part, offset) where a longer field gets quoted
        closes: set[tuple[int, int]] = set()
        if not self._checked or self._checked.isdisjoint(mids):
            return whole, alone, opens, closes
        last = len(mids) - 1
        line_start = base + start == 0 or buffer[start - 1] in "\r\n\ufeff"
        for i in compress(range(len(mids)), map(self._checked.__contains__, mids)):
            m = mids[i]
            before, after = parts[2 * i], parts[2 * i + 2]
            if m in self._needs_quotes:
                if before[-1:] in self._seps and after[:1] in self._seps:
                    whole.append(i)
                    continue
                bounds = self._field_bounds(parts, i)
                if bounds is None:
                    return None  # right after a closing quote: the field path decides
                opens.add(bounds[0])
                closes.add(bounds[1])
            elif (before[-1:] in ("\r", "\n") if before else i == 0 and line_start) and (
                after[:1] in ("\r", "\n") if after else i == last and final
            ):
                alone.append(i)
            elif (not before and i > 0) or (not after and i < last):
                return None  # glued to another candidate: the field may end up empty
        return whole, alone, opens, closes

    def _field_bounds(
        self, parts: list[str], i: int
    ) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """Where the unquoted field around candidate ``i`` starts and ends, as (part, offset).

        None when the candidate follows a quoted field's closing quote (it belongs to that
        field, whose quoting is not changed here).
        """
        k = 2 * i
        while True:
            found = self._last_sep(parts[k])
            if found is not None:
                opening = (k, found.start() + 1)
                break
            if k == 0:
                opening = (0, 0)  # regions start at a field start
                break
            if parts[k - 1][0] == self._quote:
                return None
            k -= 2
        k = 2 * i + 2
        while True:
            found = self._first_sep(parts[k])
            if found is not None:
                return opening, (k, found.start())
            if k + 1 >= len(parts):
                return opening, (k, len(parts[k]))
            k += 2

    def _quote_fields(
        self, parts: list[str], opens: set[tuple[int, int]], closes: set[tuple[int, int]]
    ) -> None:
        """Quote each field from its opening to its closing point, doubling quotes inside."""
        marks: dict[int, list[tuple[int, bool]]] = {}
        for k, offset in opens:
            marks.setdefault(k, []).append((offset, True))
        for k, offset in closes:
            marks.setdefault(k, []).append((offset, False))
        inside: set[int] = set()  # parts that begin inside a field being quoted
        for (k1, _), (k2, _) in zip(sorted(opens), sorted(closes), strict=True):
            inside.update(range(k1 + 1, k2 + 1))
        q, double = self._quote, self._double
        for k in inside | set(marks):
            piece = parts[k]
            within = k in inside
            out: list[str] = []
            last = 0
            for offset, opening in sorted(marks.get(k, ())):
                segment = piece[last:offset]
                out.append(double(segment) if within else segment)
                out.append(q)
                within, last = opening, offset
            segment = piece[last:]
            out.append(double(segment) if within else segment)
            parts[k] = "".join(out)
