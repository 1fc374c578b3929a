"""The text of an archived DOCX, XLSX or PDF as a list of strings, for counting placeholders.

Word: one string per paragraph; Excel: one per shared or inline string; PDF: one per page.
Read under the same limits and XML protections as a restore.
"""

from __future__ import annotations

import io

from vault.documents._ooxml import (
    EXCEL_SPEC,
    WORD_SPEC,
    kind_of,
    may_hold_inline_strings,
    shared_strings_part,
    sheet_spec,
    sheets,
    word_parts,
)
from vault.documents._pdf import PDF_MAGIC, pdf_pages
from vault.documents._xml import Group, rewrite_part
from vault.documents._zip import DEFAULT_LIMITS, SafeZip, ZipLimits


def document_texts(data: bytes, name: str, limits: ZipLimits = DEFAULT_LIMITS) -> list[str]:
    """The texts of a PDF (pages) or a DOCX/XLSX (paragraphs, strings)."""
    if data.startswith(PDF_MAGIC):
        return pdf_pages(data, name)
    zipped = SafeZip(io.BytesIO(data), name, limits)
    texts: list[str] = []

    def collect(group: Group) -> None:
        if len(group.segments) < 2 or max(group.segments) == 0:
            texts.append("".join(group.texts))
            return
        # field codes, deleted text, text after a tab: never joined with the runs around them
        for segment in range(max(group.segments) + 1):
            texts.append(
                "".join(t for t, s in zip(group.texts, group.segments, strict=True) if s == segment)
            )

    if kind_of(zipped) == "docx":
        parts = [(part, WORD_SPEC) for part in word_parts(zipped)]
    else:
        strings = shared_strings_part(zipped)
        parts = [(strings, EXCEL_SPEC)] if strings is not None else []
        parts += [
            (sheet.part, sheet_spec(sheet))
            for sheet in sheets(zipped)
            if may_hold_inline_strings(zipped, sheet.part)
        ]
    for part, spec in parts:
        rewrite_part(zipped.chunks(part), None, spec, collect, name=f"{name}: {part}")
    return texts
