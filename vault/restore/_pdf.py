"""Restore a PDF to text: its pages' text in reading order, placeholders put back.

Writing a restored *PDF* is refused: a PDF holds positioned glyphs in fonts that are usually
subsets holding only the characters the file uses, so an original longer than its placeholder,
or with letters the subset lacks, cannot be put back without re-typesetting the page, which is
not faithful. The text goes out as UTF-8, pages separated by a form feed (as ``pdftotext``
does); unresolved placeholders are located as ``page N line L``.
"""

from __future__ import annotations

from typing import BinaryIO

from vault.documents import pdf_pages
from vault.errors import InputError, UnsupportedFormat
from vault.placeholders import MAX_LISTED, Matcher, Resolver
from vault.restore._report import RestoreReport, UnresolvedPlaceholder, report_of

PAGE_BREAK = "\f"
PDF_REFUSED = (
    "a restored PDF cannot be written faithfully (its fonts and layout only fit the "
    "placeholders): write the restored text instead with -o FILE.txt (or .md), or --to text"
)


def restore_pdf(
    data: bytes,
    dst: BinaryIO,
    resolver: Resolver,
    *,
    name: str,
    lenient: bool = False,
    neutralize_formulas: bool = False,
    to: str | None = None,
) -> RestoreReport:
    """Write the restored text of the PDF ``data`` to ``dst`` (only with ``to="text"``)."""
    if to != "text":
        raise UnsupportedFormat(PDF_REFUSED)
    if neutralize_formulas:
        raise InputError("--neutralize-formulas applies to CSV and XLSX only")
    pages = pdf_pages(data, name)
    matcher = Matcher(resolver, lenient=lenient)
    starts: list[int] = []
    restored_pages: list[str] = []
    offset = 0
    for text in pages:
        starts.append(offset)
        restored_pages.append(matcher.sub(text, offset))
        offset += len(text) + len(PAGE_BREAK)
    out = PAGE_BREAK.join(restored_pages)
    if out and not out.endswith("\n"):
        out += "\n"
    encoded = out.encode("utf-8")
    dst.write(encoded)

    tally = matcher.tally
    unresolved = []
    for token, at, reason in tally.unresolved[:MAX_LISTED]:
        page = max(i for i, s in enumerate(starts) if s <= at)
        line = pages[page].count("\n", 0, at - starts[page]) + 1
        unresolved.append(
            UnresolvedPlaceholder(token, 0, 0, reason, location=f"page {page + 1} line {line}")
        )
    return report_of(
        matcher, tally, unresolved, format="pdf", bytes_in=len(data), bytes_out=len(encoded)
    )
