"""Anonymization with the service's numbering rules, for text and CSV (documents build on it).

Rules (questa-api.md, Placeholders):
- placeholders are ``[LABEL_N]``; one counter per request shared by all types, starting at
  ``start_index + 1``, numbered in order of appearance;
- custom entities match case-insensitively as plain substrings and win over overlapping
  detections; among overlapping custom matches the longest wins, then the earliest;
- a repeated original (the exact text as found) reuses its placeholder; the map is
  original -> placeholder and the entity count counts every occurrence.

CSV files are rewritten in place: only text inside fields changes, every other byte (dialect,
quoting, line endings, BOM, final newline) stays. A detection never spans a delimiter, a quote,
a backslash or a line break, so each original is literally the cell text it came from and each
placeholder is written where it stood. DOCX and Excel files are anonymized by ``office``, PDFs
by ``pdf``, through the same ``Numbering``; one they cannot read comes back unchanged
(``scan_opaque``).
"""

from __future__ import annotations

import bisect
import csv
import re
from collections.abc import Sequence
from dataclasses import field

from vault._dataclass import dataclass
from vault.simulator._detect import PRIORITY, detect

# Characters a CSV detection may never span: every common delimiter, both quote characters,
# the backslash escape, and line breaks.
CSV_BARRIERS = frozenset(",;\t|:\"'\\\r\n")
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class CustomEntity:
    """A user-defined phrase and the label of its placeholder (``[LABEL_N]``)."""

    original: str
    label: str


@dataclass(frozen=True)
class Anonymized:
    """The outcome of one anonymization request."""

    content: bytes
    mapping: dict[str, str] = field(default_factory=dict)  # original -> placeholder
    entity_count: int = 0


@dataclass(frozen=True)
class _Span:
    """A detected value's place in the text and its entity label."""

    start: int
    end: int
    label: str


class CsvLabelError(ValueError):
    """A custom label holds a character that would change the CSV's structure."""


def anonymize_text(
    text: str,
    *,
    types: frozenset[str],
    start_index: int = 0,
    custom: Sequence[CustomEntity] = (),
    barriers: frozenset[str] = frozenset(),
) -> tuple[str, dict[str, str], int]:
    """Return (anonymized text, map original -> placeholder, entity count)."""
    numbering = Numbering(types, start_index, custom)
    pieces: list[str] = []
    pos = 0
    for start, end, placeholder in numbering.spans(text, barriers):
        pieces.append(text[pos:start])
        pieces.append(placeholder)
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces), numbering.mapping, numbering.count


class Numbering:
    """One request's placeholders: the shared counter and the map, over one or many texts.

    A document's paragraphs, strings or pages are numbered through one ``Numbering``, in the
    order they are given, exactly as one text would be.
    """

    def __init__(
        self, types: frozenset[str], start_index: int = 0, custom: Sequence[CustomEntity] = ()
    ) -> None:
        self.types = types
        self.custom = custom
        self.counter = start_index
        self.mapping: dict[str, str] = {}  # original -> placeholder
        self.count = 0  # entities found, every occurrence

    def spans(
        self, text: str, barriers: frozenset[str] = frozenset()
    ) -> list[tuple[int, int, str]]:
        """(start, end, placeholder) of each entity of ``text``, in order, numbered."""
        found: list[tuple[int, int, str]] = []
        for span in _select(text, self.types, self.custom, barriers):
            original = text[span.start : span.end]
            placeholder = self.mapping.get(original)
            if placeholder is None:
                self.counter += 1
                placeholder = f"[{span.label}_{self.counter}]"
                self.mapping[original] = placeholder
            found.append((span.start, span.end, placeholder))
        self.count += len(found)
        return found


def anonymize_csv(
    data: bytes,
    *,
    types: frozenset[str],
    start_index: int = 0,
    custom: Sequence[CustomEntity] = (),
) -> Anonymized:
    """Anonymize inside the fields of a CSV file, keeping every other byte."""
    text, encoding = decode(data)
    delimiter, quotechar = sniff(text)
    structural = {delimiter, quotechar, '"', "\\", "\r", "\n"}
    for entity in custom:
        if structural & set(entity.label):
            raise CsvLabelError
    result, mapping, count = anonymize_text(
        text, types=types, start_index=start_index, custom=custom, barriers=CSV_BARRIERS
    )
    return Anonymized(result.encode(encoding), mapping, count)


def scan_opaque(
    data: bytes, *, start_index: int = 0, custom: Sequence[CustomEntity] = ()
) -> Anonymized:
    """A document the simulator cannot read: the bytes unchanged, and a map of the custom
    entities found in them (decoded as UTF-8, undecodable bytes skipped)."""
    _, mapping, count = anonymize_text(
        data.decode("utf-8", errors="ignore"),
        types=frozenset(),
        start_index=start_index,
        custom=custom,
    )
    return Anonymized(data, mapping, count)


def decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (a BOM stays in the text), else latin-1, which maps every byte to a character."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def sniff(text: str) -> tuple[str, str]:
    """The delimiter and quote character of a CSV text (``,`` and ``"`` when unsure)."""
    sample = text[:_SNIFF_BYTES]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|:")
        return dialect.delimiter, dialect.quotechar or '"'
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        counts = {d: first.count(d) for d in ",;\t|:"}
        best = max(counts, key=lambda d: counts[d])
        return (best if counts[best] else ","), '"'


def _select(
    text: str,
    types: frozenset[str],
    custom: Sequence[CustomEntity],
    barriers: frozenset[str],
) -> list[_Span]:
    """The spans to replace, sorted by position and pairwise disjoint."""
    barrier_re = re.compile("[" + re.escape("".join(sorted(barriers))) + "]") if barriers else None

    def crosses(start: int, end: int) -> bool:
        return barrier_re is not None and barrier_re.search(text, start, end) is not None

    # Custom entities first: longest, then earliest, then the order they were given.
    candidates: list[tuple[int, int, int, CustomEntity]] = []
    for order, entity in enumerate(custom):
        finder = re.compile(f"(?=({re.escape(entity.original)}))", re.IGNORECASE)
        for match in finder.finditer(text):
            start, end = match.start(1), match.end(1)
            if end > start and not crosses(start, end):
                candidates.append((-(end - start), start, order, entity))
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    starts: list[int] = []
    ends: list[int] = []
    chosen = _greedy_custom(candidates, starts, ends)

    # Then detections, earliest first, longest first at the same start, around the custom spans.
    detections = sorted(
        (d for d in detect(text, types) if not crosses(d.start, d.end)),
        key=lambda d: (d.start, d.start - d.end, PRIORITY[d.entity_type]),
    )
    taken: list[_Span] = []
    last_end = 0
    ci = 0
    for d in detections:
        if d.start < last_end:
            continue
        while ci < len(starts) and ends[ci] <= d.start:
            ci += 1
        if ci < len(starts) and starts[ci] < d.end:
            continue
        taken.append(_Span(d.start, d.end, d.entity_type))
        last_end = d.end
    return sorted(chosen + taken, key=lambda s: s.start)


def _greedy_custom(
    candidates: list[tuple[int, int, int, CustomEntity]], starts: list[int], ends: list[int]
) -> list[_Span]:
    """Take candidates in order unless they overlap one already taken.

    ``starts``/``ends`` are filled with the taken spans sorted by start (they are disjoint).
    """
    chosen: list[_Span] = []
    for neg_len, start, _, entity in candidates:
        end = start - neg_len
        i = bisect.bisect_right(starts, start)
        if i > 0 and ends[i - 1] > start:
            continue
        if i < len(starts) and starts[i] < end:
            continue
        starts.insert(i, start)
        ends.insert(i, end)
        chosen.append(_Span(start, end, entity.label))
    return chosen
