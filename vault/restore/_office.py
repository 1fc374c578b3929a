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
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

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
    has_macros,
    kind_of,
    may_hold_inline_strings,
    quote_sheet,
    rewrite_part,
    shared_string_cells,
    shared_strings_part,
    sheet_spec,
    sheets,
    word_location,
    word_parts,
)
from vault.errors import InputError
from vault.placeholders import MAX_LISTED, Matcher, Resolver
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

    def edit_for(
        self, locate: Callable[[Group], str], shared: bool = False
    ) -> Callable[[Group], list[str] | None]:
        matcher = self.matcher
        originals = matcher.originals
        tally = matcher.tally
        hits = self.hits
        lenient = matcher.lenient

        def edit(group: Group) -> list[str] | None:
            joined = "".join(group.texts)
            if "[" not in joined and not (lenient and "［" in joined):
                return None
            spans: list[tuple[int, int, str]] = []
            for m in self.candidate.finditer(joined):
                token = m.group()
                value = originals.get(token)
                if value is None:
                    listed = len(tally.unresolved)
                    value = matcher.resolve_miss(token, len(self.where))
                    if len(tally.unresolved) > listed:
                        self.where.append(locate(group))
                        self.shared_index.append(group.index if shared else -1)
                    if value == token:
                        continue
                else:
                    hits[token] += 1
                spans.append((m.start(), m.end(), value))
            if not spans:
                return None
            texts = (
                [_fill(joined, spans)]
                if len(group.texts) == 1
                else distribute(joined, group.texts, spans)
            )
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
    if kind == "docx":
        for part in word_parts(zipped):
            plans[part] = (WORD_SPEC, _word_locator(part), False)
    else:
        strings = shared_strings_part(zipped)
        if strings is not None:
            plans[strings] = (EXCEL_SPEC, _string_locator(strings), True)
        for sheet in sheet_list:
            if may_hold_inline_strings(zipped, sheet.part):
                plans[sheet.part] = (sheet_spec(sheet), _cell_locator(sheet.name), False)

    writer = ZipRewriter(zipped, dst)
    for index, info in enumerate(zipped.infos):
        plan = plans.get(info.filename)
        run.bytes_in += info.file_size
        if plan is None:
            writer.copy(index)
            continue
        spec, locate, shared = plan
        with tempfile.TemporaryFile() as scratch:
            result = rewrite_part(
                zipped.chunks(info.filename),
                scratch,
                spec,
                run.edit_for(locate, shared),
                name=f"{name}: {info.filename}",
            )
            run.count()
            run.invalid += result.invalid_characters
            if result.changed_groups:
                writer.replace(index, scratch)
            else:
                writer.copy(index)
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
