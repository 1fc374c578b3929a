"""Restore inside Word (DOCX) and Excel (XLSX) files, in place.

The package is read with ``vault.documents`` (limits against zip bombs, encrypted files
refused, XML parsed without DTDs or entities). Each part that can hold text is streamed through
the XML rewriter: the runs of a paragraph (or of a shared/inline string) are joined, the
placeholders found in the joined text, and each original written into the run where its
placeholder starts, so it keeps that run's formatting; the rest of a placeholder split over
later runs is removed from them. A part in which nothing changes, and every other member, is
copied byte for byte in the input's order.

Candidates are bracketed tokens, as in text: strict matching restores the map's exact
placeholders; ``lenient`` also repairs bracketed forms (case, spaces, escapes, full-width
brackets), but not bare placeholders without brackets. Values stay text: a restored cell keeps
its string type, and with ``neutralize_formulas`` a cell whose restored text starts like a
formula gets a leading ``'``. Unresolved placeholders are located as ``part paragraph N`` or
``Sheet1!B7``.

Outside paragraphs and cells: document properties and Excel comments are restored as text,
external hyperlink targets in ``_rels/*.rels`` with the original percent-encoded as a URL needs.
Every other place (attributes, formulas, headers, unknown parts) is only scanned: each XML
member of the output is searched, and each placeholder left there is reported as unresolved
(``outside-text``) with its part, so nothing is left silently.
"""

from __future__ import annotations

import html
import io
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import field
from functools import partial
from typing import BinaryIO
from urllib.parse import quote, unquote

from vault._dataclass import dataclass
from vault.documents import (
    DEFAULT_LIMITS,
    EXCEL_SPEC,
    WORD_SPEC,
    Group,
    PartSpec,
    SafeZip,
    Sheet,
    ZipLimits,
    ZipRewriter,
    checked_xml_text,
    has_macros,
    is_rels,
    is_xml_member,
    kind_of,
    may_hold_brackets,
    quote_sheet,
    rewrite_part,
    scan_part,
    shared_string_cells,
    shared_strings_part,
    sheet_markers,
    sheet_spec,
    sheets,
    text_parts,
    word_location,
    word_parts,
)
from vault.errors import InputError
from vault.placeholders import MAX_LISTED, Matcher, Reason, Resolver, Tally
from vault.restore._report import RestoreReport, UnresolvedPlaceholder, report_of

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MACRO_WARNING = (
    "the file holds macros (VBA): they were copied unchanged and never run; open the restored "
    "file with macros disabled unless you trust their source"
)


@dataclass
class _Run:
    """State of one package restore: the matcher, counts and where unresolved ones are."""

    matcher: Matcher
    neutralize: bool
    candidate: re.Pattern[str]
    where: list[str] = field(default_factory=list)
    shared_index: list[int] = field(default_factory=list)  # shared string per ``where`` entry
    neutralized: int = 0
    invalid: int = 0
    bytes_in: int = 0
    hits: Counter[str] = field(default_factory=Counter)  # restored, counted into the matcher

    def count(self) -> None:
        """Hand the placeholders restored so far to the matcher's tally."""
        self.matcher.count_restored(self.hits.elements())
        self.hits.clear()

    def _resolve_apart(self, token: str) -> tuple[str, Tally]:
        """The matcher's answer for a candidate not in the map, counted in a scratch tally
        (the matcher's own offsets do not apply to a document's parts)."""
        matcher = self.matcher
        real = matcher.tally
        scratch = Tally()
        matcher.tally = scratch
        try:
            return matcher.resolve_miss(token, 0), scratch
        finally:
            matcher.tally = real

    def _count(self, scratch: Tally) -> None:
        self.matcher.tally.counts.update(scratch.counts)
        self.matcher.tally.repaired += scratch.repaired

    def probe(self, token: str, location: str) -> str | None:
        """A candidate not in the map: its repair (lenient), or None; what the matcher reports
        about it is listed at ``location``."""
        value, scratch = self._resolve_apart(token)
        self._count(scratch)
        for text, _, reason in scratch.unresolved:
            self.unresolved(text, reason, location)
        return None if value == token else value

    def probe_quietly(self, token: str) -> str | None:
        """A candidate's repair (lenient) counted as restored, or None; never reported here
        (what stays is reported by the scan of the output)."""
        value, scratch = self._resolve_apart(token)
        if value == token:
            return None
        self._count(scratch)
        return value

    def may_hold(self, text: str) -> bool:
        """Whether ``text`` may hold a candidate (a bracket, full-width too, or ``%5B``)."""
        return "[" in text or "%5" in text or (self.matcher.lenient and "［" in text)

    def unresolved(self, text: str, reason: Reason, location: str) -> None:
        tally = self.matcher.tally
        listed = len(tally.unresolved)
        tally.add_unresolved(text, len(self.where), reason)
        if len(tally.unresolved) > listed:
            self.where.append(location)
            self.shared_index.append(-1)

    def left(self, token: str, location: str) -> None:
        """A candidate that stays in the output where restore does not write: report it when it
        is (or would be repaired into) a placeholder of the map, as the matcher reports others."""
        if token in self.matcher.originals:
            self.unresolved(token, "outside-text", location)
            return
        matcher = self.matcher
        real = matcher.tally
        scratch = Tally()
        matcher.tally = scratch
        try:
            value = matcher.resolve_miss(token, 0)
        finally:
            matcher.tally = real
        if value != token:  # lenient would repair it, but nothing here is rewritten
            self.unresolved(token, "outside-text", location)
            return
        for text, _, reason in scratch.unresolved:
            self.unresolved(text, reason, location)

    def edit_for(
        self, locate: Callable[[Group], str], shared: bool = False
    ) -> Callable[[Group], list[str] | None]:
        originals = self.matcher.originals
        hits = self.hits
        lenient = self.matcher.lenient
        candidate = self.candidate

        def replace(joined: str, group: Group) -> list[tuple[int, int, str]]:
            spans: list[tuple[int, int, str]] = []
            for m in candidate.finditer(joined):
                token = m.group()
                value = originals.get(token)
                if value is None:
                    listed = len(self.where)
                    value = self.probe(token, locate(group))
                    if shared:
                        self.shared_index[listed:] = [group.index] * (len(self.where) - listed)
                    if value is None:
                        continue
                else:
                    hits[token] += 1
                spans.append((m.start(), m.end(), value))
            return spans

        def edit_texts(texts: list[str], group: Group) -> list[str] | None:
            joined = texts[0] if len(texts) == 1 else "".join(texts)
            if "[" not in joined and not (lenient and "［" in joined):
                return None
            spans = replace(joined, group)
            if not spans:
                return None
            return [_fill(joined, spans)] if len(texts) == 1 else distribute(joined, texts, spans)

        def edit(group: Group) -> list[str] | None:
            segments = group.segments
            if len(segments) < 2 or max(segments) == 0:
                texts = edit_texts(group.texts, group)
            else:  # field codes, deleted text, text after a tab: each joined on its own
                texts = list(group.texts)
                changed = False
                for segment in range(max(segments) + 1):
                    at = [i for i, s in enumerate(segments) if s == segment]
                    new = edit_texts([group.texts[i] for i in at], group)
                    if new is not None:
                        changed = True
                        for i, text in zip(at, new, strict=True):
                            texts[i] = text
                if not changed:
                    return None
            if texts is None:
                return None
            if self.neutralize and "".join(texts).startswith(FORMULA_START):
                first = next(i for i, t in enumerate(texts) if t)
                texts[first] = "'" + texts[first]
                self.neutralized += 1
            return texts

        return edit


def _fill(joined: str, spans: list[tuple[int, int, str]]) -> str:
    pieces: list[str] = []
    pos = 0
    for start, end, value in spans:
        pieces.append(joined[pos:start])
        pieces.append(value)
        pos = end
    pieces.append(joined[pos:])
    return "".join(pieces)


def distribute(joined: str, texts: list[str], spans: list[tuple[int, int, str]]) -> list[str]:
    """New text of each run: a value goes where its span starts; the span's rest is dropped."""
    out: list[str] = []
    pos = 0
    si = 0
    for text in texts:
        a, b = pos, pos + len(text)
        cur = a
        pieces: list[str] = []
        while si < len(spans):
            s, e, value = spans[si]
            if s >= b:
                break
            if s >= a:
                pieces.append(joined[cur:s])
                pieces.append(value)
            if e > b:
                cur = b
                break
            cur = max(cur, e)
            si += 1
        pieces.append(joined[cur:b])
        out.append("".join(pieces))
        pos = b
    return out


def _candidate(matcher: Matcher) -> re.Pattern[str]:
    inner = matcher.candidate_length
    if matcher.lenient:
        return re.compile(rf"(?:\\?\[|［)[^\[\]［］\n]{{1,{2 * inner + 8}}}(?:\\?\]|］)")
    return re.compile(rf"\[[^\[\]\n]{{1,{inner}}}\]")


def restore_package(
    src: BinaryIO,
    dst: BinaryIO,
    resolver: Resolver,
    *,
    name: str,
    lenient: bool = False,
    neutralize_formulas: bool = False,
    limits: ZipLimits = DEFAULT_LIMITS,
) -> RestoreReport:
    """Restore the DOCX or XLSX ``src`` (seekable) into ``dst``; return the report."""
    zipped = SafeZip(src, name, limits)
    kind = kind_of(zipped)
    if neutralize_formulas and kind != "xlsx":
        raise InputError("--neutralize-formulas applies to CSV and XLSX only")
    matcher = Matcher(resolver, lenient=lenient)
    run = _Run(matcher, neutralize_formulas, _candidate(matcher))
    plans: dict[str, tuple[PartSpec, Callable[[Group], str], bool]] = {}
    sheet_list = sheets(zipped) if kind == "xlsx" else []
    unbracketed: set[str] = set()
    if kind == "docx":
        for part in word_parts(zipped):
            plans[part] = (WORD_SPEC, _word_locator(part), False)
    else:
        strings = shared_strings_part(zipped)
        if strings is not None:
            plans[strings] = (EXCEL_SPEC, _string_locator(strings), True)
        for sheet in sheet_list:
            inline, brackets = sheet_markers(zipped, sheet.part)
            if inline:
                plans[sheet.part] = (sheet_spec(sheet), _cell_locator(sheet.name), False)
            elif not brackets:
                unbracketed.add(sheet.part)  # copied, and nothing to scan: read once
    for part, spec in text_parts(zipped, kind).items():
        plans[part] = (spec, _part_locator(part), False)

    writer = ZipRewriter(zipped, dst)
    for index, info in enumerate(zipped.infos):
        part = info.filename
        plan = plans.get(part)
        run.bytes_in += info.file_size
        if plan is None:
            if is_rels(part):
                rels = _restore_rels(zipped, part, run)
                if rels is not None:
                    writer.replace(index, io.BytesIO(rels))
                    _scan(_bytes_chunks(rels), None, part, run, name)
                    continue
            writer.copy(index)
            if is_xml_member(part) and part not in unbracketed:
                _scan(partial(zipped.chunks, part), None, part, run, name)
            continue
        spec, locate, shared = plan
        with tempfile.TemporaryFile() as scratch:
            result = rewrite_part(
                zipped.chunks(part),
                scratch,
                spec,
                run.edit_for(locate, shared),
                name=f"{name}: {part}",
            )
            run.count()
            run.invalid += result.invalid_characters
            if result.changed_groups:
                writer.replace(index, scratch)
                _scan(partial(_file_chunks, scratch), spec, part, run, name)
            else:
                writer.copy(index)
                _scan(partial(zipped.chunks, part), spec, part, run, name)
    writer.finish()

    warnings: list[str] = []
    if has_macros(zipped):
        warnings.append(MACRO_WARNING)
    if run.invalid:
        warnings.append(
            f"{run.invalid} character(s) of restored values cannot be held by XML and were "
            "written as U+FFFD"
        )
    if kind == "xlsx" and any(i >= 0 for i in run.shared_index):
        _cells_of_shared(zipped, sheet_list, run)
    return _report(kind, matcher, run, tuple(warnings), writer.offset)


def _bytes_chunks(data: bytes) -> Callable[[], Iterator[bytes]]:
    return lambda: iter((data,))


def _file_chunks(file: BinaryIO) -> Iterator[bytes]:
    file.seek(0)
    while data := file.read(1 << 20):
        yield data


def _scan(
    chunks: Callable[[], Iterable[bytes]],
    spec: PartSpec | None,
    part: str,
    run: _Run,
    name: str,
) -> None:
    """Report the placeholders the output's ``part`` still holds outside the text restore
    rewrites (attribute values, formulas, field results, parts restore does not read)."""
    if not may_hold_brackets(chunks()):
        return
    candidate = run.candidate

    def found(text: str, where: str) -> None:
        location = f"{part} {where}"
        for m in candidate.finditer(text):
            run.left(m.group(), location)
        if "%5" in text:  # a percent-encoded placeholder in a URL
            for m in candidate.finditer(_unquote_brackets(text)):
                run.left(m.group(), location)

    scan_part(chunks(), spec, found, run.may_hold, name=f"{name}: {part}")


_PCT = re.compile(r"%([0-9A-Fa-f]{2})")


def _unquote_brackets(text: str) -> str:
    """Only the percent-encoded placeholders of a URL decoded (a ``[`` written raw or as
    ``%5B``), the rest left as written, so what is found is a whole token."""
    return re.sub(r"%5[bB]([^%\[\]]*(?:%[0-9A-Fa-f]{2}[^%\[\]]*)*?)%5[dD]", _decoded, text)


def _decoded(m: re.Match[str]) -> str:
    return "[" + unquote(m.group(1)) + "]"


# Characters a URL may hold as they are (RFC 3986 reserved and unreserved, and ``%``): an
# original put into a link target keeps them, so an original that is itself a URL stays one;
# everything else (space, non-ASCII as UTF-8, ``"<>\\^`{|}``) is percent-encoded.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~-._"
_RELATIONSHIP = re.compile(r"<(?:[\w.-]+:)?Relationship\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
_ATTRIBUTE = re.compile(r"([\w.:-]+)\s*=\s*(\"[^\"]*\"|'[^']*')")


def _restore_rels(zipped: SafeZip, part: str, run: _Run) -> bytes | None:
    """A relationships part with the placeholders of its external targets (hyperlinks)
    restored, percent-encoded as a URL needs; None when nothing changes. Internal targets
    (part names) are never changed; what is left is reported by the scan."""
    data = zipped.read(part)
    if not may_hold_brackets((data,)):
        return None
    text = checked_xml_text(data, zipped.name, part)
    changed = False

    def relationship(m: re.Match[str]) -> str:
        nonlocal changed
        tag = m.group()
        attrs = {a.group(1): a for a in _ATTRIBUTE.finditer(tag)}
        mode, target = attrs.get("TargetMode"), attrs.get("Target")
        if mode is None or target is None or html.unescape(mode.group(2)[1:-1]) != "External":
            return tag
        quoted = target.group(2)
        value = html.unescape(quoted[1:-1])
        new = _restore_url(value, run, f"{part} Relationship@Target")
        if new == value:
            return tag
        changed = True
        escaped = (
            new.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(quoted[0], "&quot;" if quoted[0] == '"' else "&apos;")
        )
        start, end = target.span(2)
        return tag[:start] + quoted[0] + escaped + quoted[0] + tag[end:]

    out = _RELATIONSHIP.sub(relationship, text)
    return out.encode("utf-8") if changed else None


def _restore_url(value: str, run: _Run, location: str) -> str:
    decoded = _unquote_brackets(value) if "%5" in value else value
    pieces: list[str] = []
    pos = 0
    for m in run.candidate.finditer(decoded):
        token = m.group()
        original = run.matcher.originals.get(token)
        if original is None:
            original = run.probe_quietly(token)
            if original is None:
                continue
        else:
            run.hits[token] += 1
        pieces.append(decoded[pos : m.start()])
        pieces.append(quote(original, safe=_URL_SAFE))
        pos = m.end()
    if not pieces:
        return value
    pieces.append(decoded[pos:])
    run.count()
    return "".join(pieces)


def _part_locator(part: str) -> Callable[[Group], str]:
    return lambda group: part


def _word_locator(part: str) -> Callable[[Group], str]:
    return lambda group: word_location(part, group.index)


def _string_locator(part: str) -> Callable[[Group], str]:
    return lambda group: f"{part} string {group.index}"


def _cell_locator(sheet: str) -> Callable[[Group], str]:
    prefix = quote_sheet(sheet)
    return lambda group: f"{prefix}!{group.cell or '?'}"


def _cells_of_shared(zipped: SafeZip, sheet_list: list[Sheet], run: _Run) -> None:
    """Replace ``sharedStrings.xml string N`` by the first cell showing string N."""
    wanted = {i for i in run.shared_index if i >= 0}
    cells = shared_string_cells(zipped, sheet_list, wanted)
    for k, index in enumerate(run.shared_index):
        if index >= 0 and index in cells:
            run.where[k] = cells[index]


def _report(
    kind: str,
    matcher: Matcher,
    run: _Run,
    warnings: tuple[str, ...],
    bytes_out: int,
) -> RestoreReport:
    tally = matcher.tally
    unresolved = (
        UnresolvedPlaceholder(text, 0, 0, reason, location=run.where[offset])
        for text, offset, reason in tally.unresolved[:MAX_LISTED]
    )
    return report_of(
        matcher,
        tally,
        unresolved,
        format=kind,
        neutralized=run.neutralized,
        bytes_in=run.bytes_in,
        bytes_out=bytes_out,
        warnings=warnings,
    )
