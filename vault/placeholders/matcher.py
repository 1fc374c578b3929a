"""The matcher: put originals back into text, in one left-to-right pass.

Pure text work, no I/O. Design choices (see ``docs/restore.md``):

- Works on a ``Resolver`` (placeholder -> original, see ``resolver``).
- One left-to-right pass. Candidate tokens are found with one compiled regex for the placeholder
  *shape*; each costs one dict lookup, so the cost per token does not grow with the map. Restored
  text is never scanned again, and originals are inserted byte for byte (never through a regex
  replacement template, so ``\\1`` or ``\\g<0>`` in an original stay as written).
- Strict (default): only the exact placeholder strings of the map. ``[PERSON_NAME_1]`` cannot
  match inside ``[PERSON_NAME_10]`` because a candidate is the whole bracketed token.
- Lenient: also other letter case, missing brackets, spaces for underscores, Markdown escapes and
  full-width brackets; the number must be whole. The lenient index is built from the map's own
  labels, so custom labels in any case or script work. No edit-distance guessing.
- Messages and problems name placeholders and jobs, never an original.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import accumulate, filterfalse
from typing import Literal, cast

from vault.placeholders.resolver import MapProblem, Resolver, placeholder_type

# The generic placeholder shape `[LABEL_N]`; bracketed text of this shape that is not in the map
# is reported as unknown (an LLM invented or mangled it). `[Your Name]` or `[option1]` are not.
SHAPE = re.compile(r"\[([A-Za-z][A-Za-z0-9_]*)_(\d{1,18})\]")
_SUFFIX = re.compile(r"_(\d{1,18})\]\Z")
_ASCII_LABEL = re.compile(r"[a-z][a-z0-9_]*")
MIN_CANDIDATE = 100  # inner length of the longest bracketed text considered a candidate, at least
MAX_LISTED = 1000  # unresolved occurrences kept with their position (all are counted)

Reason = Literal["unknown", "ambiguous", "outside-string"]
Escape = Callable[[str], str]


def _normalize(token: str) -> str:
    """The lenient key of a token: no brackets or escapes, lower case, `_` for separators."""
    if token.startswith("\\["):
        token = token[2:]
    elif token[:1] in ("[", "［"):
        token = token[1:]
    if token.endswith("\\]"):
        token = token[:-2]
    elif token[-1:] in ("]", "］"):
        token = token[:-1]
    return token.replace("\\_", "_").replace(" ", "_").lower()


def _label_pattern(label: str) -> str:
    return "".join(r"(?:\\?_| )" if c in "_ " else re.escape(c) for c in label)


@dataclass
class Tally:
    """What one run found; filled in by ``Matcher``, read by the report."""

    counts: Counter[str] = field(default_factory=Counter)  # placeholder -> times restored
    # original -> times restored, for bulk callers when every original has one placeholder:
    # counting the looked-up originals (the map's own objects, hashes cached, compared by
    # identity) is several times cheaper than counting freshly split placeholder strings.
    by_original: Counter[str | None] = field(default_factory=Counter)
    repaired: int = 0
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

    def __init__(self, resolver: Resolver, *, lenient: bool = False) -> None:
        self.resolver = resolver
        self.lenient = lenient
        self.tally = Tally()
        self._originals = resolver.originals
        self._inner = max(resolver.longest - 2, MIN_CANDIDATE)
        self._split = re.compile(rf"(\[[^\[\]\n]{{1,{self._inner}}}\])").split
        # Escaped originals per escape function; raw lookups use the resolver's own mapping.
        self._tables: dict[Escape, dict[str, str]] = {}
        self._index: dict[str, str | None] = {}
        self.problems: tuple[MapProblem, ...] = resolver.problems
        if lenient:
            self._build_lenient()
        # Longest text a candidate can span; the streaming carry keeps this much.
        self.max_span = 2 * self._inner + 40

    # -- lenient index and pattern ------------------------------------------------------------
    def _build_lenient(self) -> None:
        clashes: set[str] = set()
        for placeholder in self._originals:
            key = _normalize(placeholder)
            other = self._index.get(key)
            if key in self._index and other != placeholder:
                clashes.update(p for p in (other, placeholder) if p is not None)
                self._index[key] = None
            else:
                self._index[key] = placeholder
        if clashes:
            job = ",".join(self.resolver.job_ids)
            problem = MapProblem("lenient-ambiguous", job, tuple(sorted(clashes)))
            self.problems = (*self.problems, problem)
        open_, close = r"(?:\\?\[|［)", r"(?:\\?\]|］)"
        bracketed = rf"{open_}[^\[\]［］\n]{{1,{2 * self._inner + 8}}}{close}"
        labels = sorted(self._labels, key=len, reverse=True)
        parts = [f"(?P<b>{bracketed})"]
        if labels:
            alternation = "|".join(_label_pattern(label) for label in labels)
            self._bare = re.compile(
                rf"(?:{open_}|(?<!\w))(?:{alternation})(?:\\?_| )\d{{1,18}}(?!\d){close}?",
                re.IGNORECASE,
            )
            parts.append(f"(?P<r>{self._bare.pattern})")
        # A leading class of the characters a candidate can start with lets the regex engine
        # skip other positions quickly (about twice as fast on prose).
        starts = {"[", "\\", "［"} | {
            c for label in labels for c in (label[0].lower(), label[0].upper())
        }
        head = "".join(re.escape(c) for c in sorted(starts))
        self._lenient = re.compile(f"(?=[{head}])(?:{'|'.join(parts)})", re.IGNORECASE)

    # -- lookups --------------------------------------------------------------------------------
    @functools.cached_property
    def _labels(self) -> set[str]:
        return {placeholder_type(p) for p in self._originals}

    @functools.cached_property
    def _lower_labels(self) -> set[str]:
        return {_normalize(label) for label in self._labels}

    def _table(self, escape: Escape | None) -> Mapping[str, str]:
        if escape is None:
            return self._originals
        table = self._tables.get(escape)
        if table is None:
            table = self._tables[escape] = {}
        return table

    def _value(self, placeholder: str, escape: Escape | None, table: Mapping[str, str]) -> str:
        value = self._originals[placeholder]
        if escape is not None:
            value = escape(value)
            self._tables[escape][placeholder] = value
        return value

    def _looks_like_placeholder(self, token: str) -> bool:
        if SHAPE.fullmatch(token):
            return True
        suffix = _SUFFIX.search(token)
        return suffix is not None and placeholder_type(token) in self._labels

    def _lenient_shaped(self, token: str) -> bool:
        label, _, number = _normalize(token).rpartition("_")
        if not number.isdigit() or not label:
            return False
        if label in self._lower_labels:
            return True
        return " " not in token and _ASCII_LABEL.fullmatch(label) is not None

    def _miss(
        self, token: str, offset: int, escape: Escape | None, table: Mapping[str, str]
    ) -> str:
        """A candidate that is not (yet) in the escaped table: restore, repair or report it."""
        tally = self.tally
        if token in self._originals:
            tally.counts[token] += 1
            return self._value(token, escape, table)
        if self.lenient:
            placeholder = self._index.get(_normalize(token))
            if placeholder is not None:
                tally.counts[placeholder] += 1
                tally.repaired += 1
                return table.get(placeholder) or self._value(placeholder, escape, table)
        if token in self.resolver.ambiguous:
            tally.add_unresolved(token, offset, "ambiguous")
            return token
        if not self.lenient:
            if self._looks_like_placeholder(token):
                tally.add_unresolved(token, offset, "unknown")
            return token
        # Lenient: `[the PERSON_NAME_1]` holds a bare placeholder; `[PERSON NAME 99]` is unknown.
        listed, count, reasons = len(tally.unresolved), tally.unresolved_count, tally.reasons.copy()
        restored = self._inside(token, offset, escape, table)
        shaped = self._looks_like_placeholder(token) or self._lenient_shaped(token)
        if restored == token and shaped:
            del tally.unresolved[listed:]
            tally.unresolved_count, tally.reasons = count, reasons
            tally.add_unresolved(token, offset, "unknown")
        return restored

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
            if escape is None and self.resolver.unique_originals:
                self.tally.by_original.update(values)  # see Tally.by_original
            else:
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

    def _sub_strict(self, text: str, base: int, escape: Escape | None) -> str:
        parts: list[str] = self._split(text)
        if len(parts) == 1:
            return text

        ends: list[int] = []  # running end offsets of the parts, computed on the first miss

        def offset_of(i: int) -> int:
            if not ends:
                ends.extend(accumulate(map(len, parts)))
            return base + ends[2 * i]

        parts[1::2] = self.lookup(parts[1::2], offset_of, escape)
        return "".join(parts)

    def _strict_cut(self, buffer: str, start: int) -> int:
        # A candidate holds '[' only at its start, so cutting before the last '[' that might
        # open an unfinished candidate never splits one.
        j = buffer.rfind("[", max(start, len(buffer) - (self._inner + 2)))
        return len(buffer) if j == -1 else j

    # -- lenient ----------------------------------------------------------------------------------
    def _lenient_token(
        self, match: re.Match[str], base: int, escape: Escape | None, table: Mapping[str, str]
    ) -> str:
        token = match.group()
        offset = base + match.start()
        if match.lastgroup == "b":
            value = table.get(token)
            if value is not None:
                self.tally.counts[token] += 1
                return value
            return self._miss(token, offset, escape, table)
        placeholder = self._index.get(_normalize(token))
        if placeholder is not None:
            self.tally.counts[placeholder] += 1
            self.tally.repaired += 1
            return table.get(placeholder) or self._value(placeholder, escape, table)
        if any(c in token for c in "[]［］_"):
            self.tally.add_unresolved(token, offset, "unknown")
        return token

    def _inside(
        self, token: str, offset: int, escape: Escape | None, table: Mapping[str, str]
    ) -> str:
        """Bracketed text that is no placeholder may hold a bare one: `[the PERSON_NAME_1]`."""
        if not self._labels:
            return token
        width = 2 if token[:2] == "\\[" else 1
        inner_base = offset + width
        end = len(token) - (2 if token.endswith("\\]") else 1)

        def repl(m: re.Match[str]) -> str:
            return self._lenient_token(m, inner_base, escape, table)

        return token[:width] + self._bare.sub(repl, token[width:end]) + token[end:]

    def _lenient_span(
        self, buffer: str, start: int, cut: int, base: int, escape: Escape | None
    ) -> tuple[str, int]:
        table = self._table(escape)
        pieces: list[str] = []
        last = start
        for match in self._lenient.finditer(buffer, start):
            if match.start() >= cut:
                break
            pieces.append(buffer[last : match.start()])
            pieces.append(self._lenient_token(match, base, escape, table))
            last = match.end()
        end = max(last, cut)
        pieces.append(buffer[last:end])
        return "".join(pieces), end

    # -- public -----------------------------------------------------------------------------------
    def sub(self, text: str, base: int = 0, escape: Escape | None = None) -> str:
        """Restore every placeholder in ``text``."""
        if not self.lenient:
            return self._sub_strict(text, base, escape)
        return self._lenient_span(text, 0, len(text), base, escape)[0]

    def restore_span(
        self, buffer: str, start: int, final: bool, base: int, escape: Escape | None = None
    ) -> tuple[str, int]:
        """Restore ``buffer[start:]`` up to a safe point; return (output, end).

        Text before ``start`` is context only (already written). Without ``final`` the end
        stops short of any candidate that more input could still complete; with ``final`` it is
        ``len(buffer)``. ``base`` is the absolute offset of ``buffer[0]``.
        """
        if self.lenient:
            cut = len(buffer) if final else len(buffer) - self.max_span
            if cut <= start:
                return "", start
            return self._lenient_span(buffer, start, cut, base, escape)
        cut = len(buffer) if final else self._strict_cut(buffer, start)
        if cut <= start:
            return "", start
        return self._sub_strict(buffer[start:cut], base + start, escape), cut

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
        counts = Counter(self.tally.counts)
        placeholder_of = self.resolver.placeholder_of
        if placeholder_of is not None:
            for original, n in self.tally.by_original.items():
                if original is not None:
                    counts[placeholder_of[original]] += n
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


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset (lines end at LF)."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def labels_of(placeholders: Iterable[str]) -> set[str]:
    """The labels (entity types) of some placeholders."""
    return {placeholder_type(p) for p in placeholders}
