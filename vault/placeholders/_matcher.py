"""The matcher: put originals back into text, in one left-to-right pass.

Pure text work, no I/O. Design choices (see ``docs/restore.md``):

- Works on a ``Resolver`` (placeholder -> original, see ``resolver``).
- One left-to-right pass. Candidate tokens are found with one compiled regex for the placeholder
  *shape*; each costs one dict lookup, so the cost per token does not grow with the map. Restored
  text is never scanned again, and originals are inserted byte for byte (never through a regex
  replacement template, so ``\\1`` or ``\\g<0>`` in an original stay as written).
- Strict (default): only the exact placeholder strings of the map. ``[PERSON_NAME_1]`` cannot
  match inside ``[PERSON_NAME_10]`` because a candidate is the whole bracketed token.
- A placeholder that is the text of a Markdown link, ``[PERSON_NAME_1](mailto:...)``, keeps its
  link brackets: ``[John Doe](mailto:...)``.
- Lenient (``lenient``): also the forms models write (other brackets, case, padding, escapes,
  line wraps, bare tokens), found by ``LenientScanner`` at a few anchors, never inside an exact
  placeholder; the number must be whole; no edit-distance guessing.
- Strict reports what lenient would repair (reason ``mangled``: try ``--lenient``), found by the
  same scanner, run only when a cheap test of the text between candidates says it may help.
- Messages and problems name placeholders and jobs, never an original.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field
from itertools import accumulate, filterfalse
from typing import TYPE_CHECKING, Literal, cast

from vault._dataclass import dataclass
from vault.placeholders._resolver import MapProblem, Resolver, placeholder_type
from vault.placeholders._tokens import (
    CLOSERS,
    LINK_STARTS,
    LOOKALIKE_CLOSING,
    LOOKALIKE_OPENING,
    OPENERS,
    is_link,
    normalize,
)
from vault.placeholders._tokens import fold as _plain

if TYPE_CHECKING:
    from vault.placeholders._lenient import LenientScanner

# The generic placeholder shape `[LABEL_N]`; bracketed text of this shape that is not in the map
# is reported as unknown (an LLM invented or mangled it). `[Your Name]` or `[option1]` are not.
SHAPE = re.compile(r"\[([A-Za-z][A-Za-z0-9_]*)_(\d{1,18})\]")
_SUFFIX = re.compile(r"_(\d{1,18})\]\Z")
MIN_CANDIDATE = 100  # inner length of the longest bracketed text considered a candidate, at least
MAX_LISTED = 1000  # unresolved occurrences kept with their position (all are counted)

# unknown: not in any map; ambiguous: two originals; outside-string: JSON; mangled: a form that
# --lenient repairs (reported by strict mode with that hint); outside-text: DOCX/XLSX, in a place
# restore does not rewrite (an attribute, a formula, a part that is not text).
Reason = Literal["unknown", "ambiguous", "outside-string", "mangled", "outside-text"]
Escape = Callable[[str], str]


@dataclass
class Tally:
    """What one run found; filled in by ``Matcher``, read by the report."""

    # placeholder -> times restored; only placeholders of the map (the report's count of
    # unused entries relies on it)
    counts: Counter[str] = field(default_factory=Counter)
    # original -> times restored, for callers that count the originals they looked up (when
    # every original has one placeholder); turned into placeholders by ``restored_counts``
    by_original: Counter[str | None] = field(default_factory=Counter)
    repaired: int = 0
    # (start, end) of the first repairs (lenient mode), as the unresolved list is kept
    repaired_at: list[tuple[int, int]] = field(default_factory=list)
    unresolved: list[tuple[str, int, Reason]] = field(default_factory=list)  # (text, offset, why)
    unresolved_count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # unresolved count per reason

    def add_unresolved(self, text: str, offset: int, reason: Reason) -> None:
        self.unresolved_count += 1
        self.reasons[reason] += 1
        if len(self.unresolved) < MAX_LISTED:
            self.unresolved.append((text, offset, reason))


class Matcher:
    """Restores placeholders in text, one left-to-right pass per call; counts into ``tally``.

    ``sub(text, base, escape)`` restores a whole string; ``restore_span`` restores a prefix of a
    growing buffer up to a point where no placeholder can be split, for streaming. ``base`` is the
    absolute character offset of the text, used for the positions of unresolved placeholders.
    ``escape`` turns an original into what is inserted (quote doubling in CSV, JSON escaping).
    """

    def __init__(self, resolver: Resolver, *, lenient: bool = False, links: bool = True) -> None:
        self.resolver = resolver
        self.lenient = lenient
        self.links = links  # Markdown link text keeps its brackets (not in CSV cells)
        self.tally = Tally()
        self._originals = resolver.originals
        self._inner = max(resolver.longest - 2, MIN_CANDIDATE)
        candidate = re.compile(rf"(\[[^\[\]\n]{{1,{self._inner}}}\])")
        self._split = candidate.split
        # The same candidates, found with a class of one excluded character ("]"), which the
        # regex engine skips over several times faster than a set; ``_split_candidates`` checks
        # the tokens and falls back to the exact split when one holds "[" or a line break.
        self._split_loose = re.compile(rf"(\[[^\]]{{1,{self._inner}}}\])").split
        self._candidates = candidate.finditer
        self._candidate_at = candidate.match
        # Escaped originals per escape function; raw lookups use the resolver's own mapping.
        self._tables: dict[Escape, dict[str, str]] = {}
        self._listed = 0
        # Where the last strict scan for mangled forms stopped (absolute offsets): a token that
        # crosses a region's end is reported with that region, and the next region's scan
        # starts after it, as one scan over the whole text would (never inside it).
        self._scanned_from = 0
        self._scanned_to = 0
        self.problems: tuple[MapProblem, ...] = resolver.problems
        if lenient:
            clashes = self._index[1]
            if clashes:
                job = ",".join(self.resolver.job_ids)
                problem = MapProblem("lenient-ambiguous", job, tuple(sorted(clashes)))
                self.problems = (*self.problems, problem)
        # Longest text a candidate can span; the streaming carry keeps this much.
        self.max_span = 2 * self._inner + 48

    # Text between candidates that may hold a form lenient mode repairs: an underscore before a
    # number, or a bracket of any kind closing right after a number. Three searches, each
    # starting with a literal or a set, so that the regex engine skips ordinary text at C
    # speed. The two patterns are compiled at their first use, which binds the compiled search
    # on the instance (most answers need neither; the bracket one alone is 4 M instructions).
    def _number_after_underscore(self, text: str) -> re.Match[str] | None:
        search = re.compile(r"_(?:\r?\n)?\d").search
        self._number_after_underscore = search  # type: ignore[method-assign, assignment]
        return search(text)

    def _bracket_around_number(self, text: str) -> re.Match[str] | None:
        bracket = "|".join(re.escape(o) for o in sorted(OPENERS, key=len, reverse=True))
        close = "|".join(re.escape(c) for c in sorted(CLOSERS, key=len, reverse=True))
        inside = rf"[^\[\]<>{{}}［］\x00]{{1,{2 * self._inner + 8}}}?"
        search = re.compile(
            rf"(?:{bracket}){inside}\d[ \t\u00a0]*(?:{close})", re.IGNORECASE
        ).search
        self._bracket_around_number = search  # type: ignore[method-assign, assignment]
        return search(text)

    def _maybe_mangled(self, text: str) -> bool:
        """Whether text between candidates may hold a form lenient mode repairs: an underscore
        before a number, an escaped candidate, or a bracket of any kind closing after a number;
        or a look-alike, reported (``isascii`` costs nothing: CPython keeps it as a flag)."""
        return (
            (not text.isascii() and _has_alike_bracket(text))
            or ("_" in text and self._number_after_underscore(text) is not None)
            or ("\\" in text and "\\\x00" in text)
            or (
                any(c in text for c in _OPENING_CHARS)
                and self._bracket_around_number(text) is not None
            )
        )

    # -- lenient index and scanner ----------------------------------------------------------------
    @functools.cached_property
    def _index(self) -> tuple[dict[str, str | None], set[str]]:
        index: dict[str, str | None] = {}
        clashes: set[str] = set()
        for placeholder in self._originals:
            key = normalize(_strip(placeholder))
            other = index.get(key)
            if key in index and other != placeholder:
                clashes.update(p for p in (other, placeholder) if p is not None)
                index[key] = None
            else:
                index[key] = placeholder
        return index, clashes

    @functools.cached_property
    def _scanner(self) -> LenientScanner:
        # The scanner's module compiles its patterns at import: loaded by the first restore
        # that scans for mangled forms, not by every strict one (cold start).
        from vault.placeholders._lenient import LenientScanner

        return LenientScanner(self._originals, self._index[0], self._labels, inner=self._inner)

    # -- lookups --------------------------------------------------------------------------------
    @functools.cached_property
    def _labels(self) -> set[str]:
        return {placeholder_type(p) for p in self._originals}

    def _table(self, escape: Escape | None) -> Mapping[str, str]:
        if escape is None:
            return self._originals
        table = self._tables.get(escape)
        if table is None:
            table = self._tables[escape] = {}
        return table

    def _value(self, placeholder: str, escape: Escape | None) -> str:
        value = self._originals[placeholder]
        if escape is not None:
            value = escape(value)
            self._tables[escape][placeholder] = value
        return value

    def _escaped(self, placeholder: str, escape: Escape | None, table: Mapping[str, str]) -> str:
        value = table.get(placeholder)
        return value if value is not None else self._value(placeholder, escape)

    def _looks_like_placeholder(self, token: str) -> bool:
        if SHAPE.fullmatch(token):
            return True
        suffix = _SUFFIX.search(token)
        if suffix is not None and placeholder_type(token) in self._labels:
            return True
        if token.isascii():
            return False
        # A look-alike: what a reader takes for a placeholder but is not one byte for byte
        # (full-width letters or underscore, a zero-width space, a bidi control, a combining
        # mark inside). Reported, never restored here.
        plain = _plain(token)
        return plain != token and (plain in self._originals or self._looks_like_placeholder(plain))

    def _report_repairable(self, token: str, offset: int) -> bool:
        """Report what lenient mode would repair in a strict candidate (the whole token, or a
        bare one inside it), and the look-alikes in it that it would not; whether there was
        any."""
        edits = [e for e in self._scanner.scan(token, 0, len(token)) if e.kind in _REPORTED]
        for edit in edits:
            reason: Reason = "mangled" if edit.kind == "repair" else "unknown"
            self.tally.add_unresolved(token[edit.start : edit.end], offset + edit.start, reason)
        return bool(edits)

    def _miss(
        self, token: str, offset: int, escape: Escape | None, table: Mapping[str, str]
    ) -> str:
        """A strict candidate that is not (yet) in the escaped table: restore or report it."""
        tally = self.tally
        if token in self._originals:
            tally.counts[token] += 1
            return self._value(token, escape)
        if self.lenient:  # a caller's own candidate (office runs): repair what is in it
            return self._lenient_span(token, 0, len(token), offset, escape)[0]
        if token in self.resolver.ambiguous:
            tally.add_unresolved(token, offset, "ambiguous")
        elif self._report_repairable(token, offset):
            pass
        elif self._looks_like_placeholder(token):
            tally.add_unresolved(token, offset, "unknown")
        return token

    # -- strict -----------------------------------------------------------------------------------
    def lookup(
        self, tokens: list[str], offset_of: Callable[[int], int], escape: Escape | None = None
    ) -> list[str]:
        """What to write for each candidate token (its original, or itself when unresolved).

        ``offset_of(i)`` gives the absolute offset of ``tokens[i]``; it is called only for
        tokens that are not plain hits, to place unresolved ones.
        """
        table = self._table(escape)
        try:
            values: list[str | None] = list(map(table.__getitem__, tokens))
        except KeyError:
            values = list(map(table.get, tokens))
        else:
            # The tokens were just hashed by the lookup and sit together in memory: counting
            # them costs less than counting the map's originals, scattered over a large map.
            self.tally.counts.update(tokens)
            return cast(list[str], values)
        counts = self.tally.counts
        filled: list[str] = []
        for i, value in enumerate(values):
            token = tokens[i]
            if value is None:
                value = self._miss(token, offset_of(i), escape, table)
            else:
                counts[token] += 1
            filled.append(value)
        return filled

    def _sub_strict(
        self, buffer: str, start: int, cut: int, base: int, escape: Escape | None
    ) -> tuple[str, int]:
        """Restore ``buffer[start:cut]``; ``base`` is the absolute offset of ``buffer[0]``;
        return (output, where the next region starts).

        One split in C finds the candidates. Only when the text between them may hold a
        mangled form (``_maybe_mangled``, a few fast searches) does lenient mode take the
        scanner's path and strict mode report what it finds; text after ``cut`` is looked
        at only for a mangled token that crosses it."""
        text = buffer if start == 0 and cut == len(buffer) else buffer[start:cut]
        self._listed = len(self.tally.unresolved)
        parts = self._split_candidates(text)
        mangled = self._maybe_mangled(text if len(parts) == 1 else "\x00".join(parts[0::2]))
        crossing = not mangled and self._crossing(buffer, start, cut)
        links = self.links and _has_link_mark(text)
        if self.lenient and (mangled or crossing or links):
            return self._lenient_span(buffer, start, cut, base, escape)
        if len(parts) > 1:
            offset = base + start
            ends: list[int] = []  # running end offsets of the parts, computed on a miss

            def offset_of(i: int) -> int:
                if not ends:
                    ends.extend(accumulate(map(len, parts)))
                return offset + ends[2 * i]

            tokens = parts[1::2]
            parts[1::2] = self.lookup(tokens, offset_of, escape)
            if links:
                originals = self._originals
                at = start
                for i, part in enumerate(parts):
                    at += len(tokens[i // 2]) if i % 2 else len(part)
                    if i % 2 and tokens[i // 2] in originals and is_link(buffer, at):
                        parts[i] = f"[{part}]"
            text = "".join(parts)
        if mangled and not self.lenient:
            self._report_mangled(buffer, start, cut, base)
        elif crossing and not self.lenient:
            lo = max(start, cut - self.max_span)
            self._report_mangled(buffer, lo, cut, base, crossing=True)
        return text, cut

    def _split_candidates(self, text: str) -> list[str]:
        """``self._split(text)``: text and candidates, alternating. The loose pattern finds the
        same tokens wherever none of them holds "[" (after its first character) or a line
        break: the exact pattern then matches at the same brackets with the same ends."""
        parts: list[str] = self._split_loose(text)
        if len(parts) > 1:
            tokens = "".join(parts[1::2])
            if "\n" in tokens or tokens.count("[") != len(parts) // 2:
                return cast(list[str], self._split(text))
        return parts

    def _crossing(self, buffer: str, start: int, cut: int) -> bool:
        """Whether a mangled token may begin before ``cut`` and end after it.

        The zone looked at is ``max_span`` characters either side of ``cut``, widened so that
        its edges never cut a candidate in two: the tail of a cut candidate (``..._12]``) would
        look like a mangled token and send every run through the lenient scanner (whose index
        costs a pass over the whole map), while the whole candidate is skipped by the split.
        A candidate still unfinished at the end of the buffer is left out of the zone, unless a
        backslash before it could make it part of a Markdown-escaped token that begins before
        ``cut`` (the only mangled form holding a ``[`` after its first character)."""
        n = len(buffer)
        if cut >= n:
            return False
        lo, hi = max(start, cut - self.max_span), min(n, cut + self.max_span)
        reach = self._inner + 2  # the longest candidate
        j = buffer.rfind("[", max(start, lo - reach), lo)
        if j != -1:
            inside = self._candidate_at(buffer, j)
            if inside is not None and inside.end() > lo:
                lo = j
        j = buffer.rfind("[", max(lo, hi - reach), hi)
        if j != -1 and buffer.find("]", j, hi) == -1:
            whole = self._candidate_at(buffer, j)
            if whole is not None:
                hi = whole.end()
            elif hi == n and "\n" not in buffer[j:hi] and buffer[j - 1 : j] != "\\":
                hi = j  # unfinished at the end of the buffer: whole in the next region
        zone = self._split(buffer[lo:hi])
        return self._maybe_mangled("\x00".join(zone[0::2]))

    def _report_mangled(
        self, buffer: str, start: int, cut: int, base: int, *, crossing: bool = False
    ) -> None:
        """Strict mode: report the forms lenient mode would repair between the candidates."""
        tally = self.tally
        listed = min(self._listed, len(tally.unresolved))  # this call's, in text order
        # Strict candidates report what is repairable in them themselves (``_miss``).
        spans = [m.span() for m in self._candidates(buffer, start, cut + self.max_span)]
        if base + start < self._scanned_from:
            self._scanned_to = 0  # an unrelated text (offsets went back): no earlier scan
        self._scanned_from = base + start
        edits = self._scanner.scan(buffer, max(start, self._scanned_to - base), cut)
        if edits:
            self._scanned_to = max(self._scanned_to, base + edits[-1].end)
        found: list[tuple[str, int, Reason]] = []
        for edit in edits:
            if crossing and edit.end <= cut:
                continue
            i = bisect_left(spans, (edit.end, -1)) - 1
            if i >= 0 and spans[i][1] > edit.start:
                continue  # overlaps a candidate
            if edit.kind == "repair":
                found.append((buffer[edit.start : edit.end], base + edit.start, "mangled"))
            elif edit.kind == "alike":  # a look-alike lenient does not repair either
                found.append((buffer[edit.start : edit.end], base + edit.start, "unknown"))
        tally.unresolved_count += len(found)
        tally.reasons.update(reason for _, _, reason in found)
        if len(tally.unresolved) > listed or found:
            # The list keeps the first MAX_LISTED in text order: the candidates listed before
            # these (in text order, the later ones dropped when the list was full) and these
            # are merged, then cut (a full list must not keep out a mangled form before them).
            merged = sorted([*tally.unresolved[listed:], *found], key=lambda u: u[1])
            tally.unresolved[listed:] = merged[: MAX_LISTED - listed]

    def _strict_cut(self, buffer: str, start: int) -> int:
        # A candidate holds '[' only at its start, so cutting before the last '[' that might
        # open an unfinished candidate never splits one. The last `max_span` characters are
        # kept back too, so that a mangled token crossing the cut is seen whole (reported).
        end = len(buffer) - self.max_span
        if end <= start:
            # Nothing to restore yet. (A negative ``end`` must not reach ``rfind``, which
            # reads it from the end of the buffer: a cut there kept less than ``max_span``
            # back, so a lenient token such as ``\[PERSON_NAME_1\]`` cut after its
            # backslash was restored from its "[" on, without its escapes.)
            return start
        j = buffer.rfind("[", max(start, end - (self._inner + 2)), end)
        return end if j == -1 else j

    # -- lenient ----------------------------------------------------------------------------------
    def _lenient_span(
        self, buffer: str, start: int, cut: int, base: int, escape: Escape | None
    ) -> tuple[str, int]:
        table = self._table(escape)
        tally = self.tally
        ambiguous = self.resolver.ambiguous
        pieces: list[str] = []
        last = start
        for edit in self._scanner.scan(buffer, start, cut):
            token = buffer[edit.start : edit.end]
            placeholder = edit.placeholder
            if placeholder is None:
                reason: Reason = "ambiguous" if token in ambiguous else "unknown"
                tally.add_unresolved(token, base + edit.start, reason)
                continue
            tally.counts[placeholder] += 1
            if edit.kind == "repair":
                tally.repaired += 1
                if len(tally.repaired_at) < MAX_LISTED:
                    tally.repaired_at.append((base + edit.start, base + edit.end))
            value = self._escaped(placeholder, escape, table)
            pieces.append(buffer[last : edit.start])
            pieces.append(f"[{value}]" if edit.link and self.links else value)
            last = edit.end
        end = max(last, cut)
        pieces.append(buffer[last:end])
        return "".join(pieces), end

    def spans(self, text: str, base: int = 0) -> list[tuple[int, int, str]]:
        """Where ``text`` holds placeholders to restore: (start, end, original), counted like
        ``sub``; for callers that write the originals themselves (JSON strings written with
        escapes are matched on their decoded text)."""
        found: list[tuple[int, int, str]] = []
        if self.lenient:
            tally = self.tally
            for edit in self._scanner.scan(text, 0, len(text)):
                token = text[edit.start : edit.end]
                if edit.placeholder is None:
                    reason: Reason = "ambiguous" if token in self.resolver.ambiguous else "unknown"
                    tally.add_unresolved(token, base + edit.start, reason)
                    continue
                tally.counts[edit.placeholder] += 1
                if edit.kind == "repair":
                    tally.repaired += 1
                    if len(tally.repaired_at) < MAX_LISTED:
                        tally.repaired_at.append((base + edit.start, base + edit.end))
                value = self._originals[edit.placeholder]
                found.append((edit.start, edit.end, f"[{value}]" if edit.link else value))
            return found
        parts: list[str] = self._split(text)
        ends = list(accumulate(map(len, parts)))
        tokens = parts[1::2]
        values = self.lookup(tokens, lambda i: base + ends[2 * i], None)
        for i, (token, value) in enumerate(zip(tokens, values, strict=True)):
            if token in self._originals:
                end = ends[2 * i + 1]
                link = self.links and is_link(text, end) is not None
                found.append((ends[2 * i], end, f"[{value}]" if link else value))
        return found

    # -- public -----------------------------------------------------------------------------------
    def sub(self, text: str, base: int = 0, escape: Escape | None = None) -> str:
        """Restore every placeholder in ``text``."""
        return self._sub_strict(text, 0, len(text), base, escape)[0]

    def restore_span(
        self, buffer: str, start: int, final: bool, base: int, escape: Escape | None = None
    ) -> tuple[str, int]:
        """Restore ``buffer[start:]`` up to a safe point; return (output, end).

        Text before ``start`` is context only (already written). Without ``final`` the end
        stops short of any candidate that more input could still complete; with ``final`` it is
        ``len(buffer)``. ``base`` is the absolute offset of ``buffer[0]``.
        """
        cut = len(buffer) if final else self._strict_cut(buffer, start)
        if cut <= start:
            return "", start
        return self._sub_strict(buffer, start, cut, base, escape)

    def restore_region(
        self, buffer: str, start: int, end: int, base: int, escape: Escape | None = None
    ) -> tuple[str, int]:
        """Restore ``buffer[start:end]`` where ``end`` came from ``safe_end`` (a token that
        starts before it is whole); return (output, where the next region starts)."""
        if end <= start:
            return "", start
        if self.lenient:
            return self._lenient_span(buffer, start, end, base, escape)
        return self._sub_strict(buffer, start, end, base, escape)

    def safe_end(self, buffer: str, start: int) -> int:
        """How far ``buffer[start:]`` can be restored now: short of the earliest place where
        more text could still make (or change) a placeholder. Used by the stream restorer,
        which must hold back no more than that."""
        scanner = self._scanner
        n = len(buffer)
        for at in scanner.hold_starts(buffer, max(start, n - self.max_span)):
            if scanner.could_start(buffer[at:]) or (
                buffer[at] == "[" and self._could_be_placeholder(buffer[at:])
            ):
                return at
        return n

    @functools.cached_property
    def quiet(self) -> Callable[[str], bool]:
        """``quiet(text)``: whether nothing can begin a placeholder in ``text``, whatever
        follows (no bracket of any kind, no label word), so restoring it changes and reports
        nothing and ``safe_end`` would hold nothing of it back. A cheap test, for streaming;
        the text before ``text`` must be released (nothing held back)."""
        return self._scanner.quiet

    @functools.cached_property
    def known_words(self) -> tuple[set[str], set[str]]:
        """The words ``quiet`` has found quiet on their own: anywhere, and also last."""
        return self._scanner.known_words

    @functools.cached_property
    def searched_quiet(self) -> Callable[[str, list[str]], bool]:
        """``searched_quiet(text, text.split())``: ``quiet`` for a caller that tested the
        known words itself."""
        return self._scanner.searched_quiet

    @functools.cached_property
    def unknown_words(self) -> Callable[[list[str]], set[str]]:
        """``unknown_words(text.split())``: the words of a text not yet known to be ``quiet``
        on their own (learnt by ``quiet``)."""
        return self._scanner.unknown_words

    @functools.cached_property
    def plain(self) -> Callable[[str], list[tuple[int, int]] | None]:
        """``plain(text)``: the spans of the bracketed candidates in ``text`` when the text
        around them is ``quiet`` and none of them is followed by "(" or ends the text (then
        nothing can be held back or reported but those candidates); None otherwise."""
        return self._scanner.plain

    def _could_be_placeholder(self, tail: str) -> bool:
        if not tail.isascii():  # a look-alike may be held too (it is reported or repaired)
            plain = _plain(tail)
            if plain != tail and self._could_be_placeholder(plain):
                return True
        close = tail.find("]")
        if close != -1:  # whole: only a Markdown link after it may still matter
            return (
                len(tail) - close - 1 <= _LINK_START_MAX
                and tail[: close + 1] in self._originals
                and any(k.startswith(tail[close + 1 :]) for k in LINK_STARTS)
            )
        if "\n" in tail:
            return False
        return _SHAPE_PREFIX.fullmatch(tail) is not None or self._is_prefix(tail)

    @functools.cached_property
    def _sorted(self) -> list[str]:
        return sorted(self._originals)

    def _is_prefix(self, tail: str) -> bool:
        ordered = self._sorted
        i = bisect_left(ordered, tail)
        return i < len(ordered) and ordered[i].startswith(tail)

    @property
    def originals(self) -> Mapping[str, str]:
        """Placeholder -> original, for callers that look candidates up in bulk."""
        return self._originals

    @property
    def unique_originals(self) -> bool:
        """Whether no two placeholders share an original (then ``count_originals`` works)."""
        return self.resolver.unique_originals

    def count_restored(self, placeholders: Iterable[str]) -> None:
        """Count placeholders a caller restored itself from ``originals``."""
        self.tally.counts.update(placeholders)

    def count_originals(self, values: Iterable[str | None]) -> None:
        """Count originals a caller looked up itself (None for a miss); needs
        ``unique_originals``."""
        self.tally.by_original.update(values)

    def restored_counts(self) -> Counter[str]:
        """Placeholder -> times restored, so far."""
        by_original = self.tally.by_original
        if not by_original:  # a text run: placeholder_of (a pass over the whole map) unasked
            return Counter(self.tally.counts)
        placeholder_of = self.resolver.placeholder_of
        if placeholder_of is None:
            return Counter(self.tally.counts)
        # one C-level pass over what was used (never over the whole map)
        used: dict[str | None, int] = dict(
            zip(
                map(placeholder_of.get, cast(Counter[str], by_original)),
                by_original.values(),
                strict=True,
            )
        )
        used.pop(None, None)
        counts: Counter[str] = Counter(cast(dict[str, int], used))
        for placeholder, n in self.tally.counts.items():
            counts[placeholder] += n
        return counts

    def resolve_miss(self, token: str, offset: int, escape: Escape | None = None) -> str:
        """What to write for a candidate not found in ``originals`` (reports it if unknown)."""
        return self._miss(token, offset, escape, self._table(escape))

    @property
    def candidate_length(self) -> int:
        """Longest inner text of a bracketed candidate (without the brackets)."""
        return self._inner

    def looks_like_candidate(self, text: str) -> bool:
        """Whether ``text`` is a placeholder of the map or has the placeholder shape."""
        return text in self._originals or self._looks_like_placeholder(text)

    def unused(self) -> list[str]:
        """Placeholders of the map never restored so far, in the map's order."""
        return list(filterfalse(self.restored_counts().__contains__, self._originals))


_LINK_START_MAX = max(map(len, LINK_STARTS))  # "]" + a longer text starts no link
_OPENING_CHARS = "[［<{&\\"  # the first characters of every opening bracket form
_REPORTED = ("repair", "alike")  # scanner edits strict mode reports in a candidate


_ALIKE_BRACKETS = LOOKALIKE_OPENING + LOOKALIKE_CLOSING


def _has_alike_bracket(text: str) -> bool:
    """Whether ``text`` holds a square-bracket look-alike: one C-level ``in`` per character
    (about 2 ms per MB of non-ASCII text in all, three times faster than a regex class of
    the same characters)."""
    return any(c in text for c in _ALIKE_BRACKETS)


def _has_link_mark(text: str) -> bool:
    """Whether ``text`` holds ``](`` (a Markdown link after a bracketed text). A search for
    one character runs at memchr speed; one for two characters is tens of times slower, so the
    rare ``(`` is looked for first."""
    return "(" in text and "](" in text


_SHAPE_PREFIX = re.compile(r"\[(?:[A-Za-z][A-Za-z0-9_]*)?")


def _strip(placeholder: str) -> str:
    return placeholder[1:-1] if placeholder[:1] == "[" and placeholder[-1:] == "]" else placeholder


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset (lines end at LF)."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def labels_of(placeholders: Iterable[str]) -> set[str]:
    """The labels (entity types) of some placeholders."""
    return {placeholder_type(p) for p in placeholders}
