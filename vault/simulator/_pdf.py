"""Anonymizing PDF uploads: the text is extracted, anonymized, and re-typeset as a new PDF.

The service returns an anonymized PDF; replacing glyphs inside the original's content streams
is not something a stand-in needs, so the simulator writes a fresh PDF instead: one page per
input page, the page's anonymized text in Helvetica 10 pt, wrapped at spaces (``fpdf2``). The
layout, fonts and images of the input are not kept. Helvetica holds Latin-1 only: any other
character is written as ``?`` (placeholders and the map are unaffected unless a custom label
uses such characters). Text comes from ``pypdf``, page by page, numbered across pages.
"""

from __future__ import annotations

import io
import logging

from fpdf import FPDF
from pypdf import PdfReader

from vault.simulator._anonymize import Anonymized, CustomEntity, Numbering
from vault.simulator._office import UnreadableDocument


def _pages(data: bytes) -> list[str]:
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument
        return [page.extract_text() or "" for page in reader.pages]
    except UnreadableDocument:
        raise
    except Exception as exc:  # pypdf raises many kinds on a damaged file
        raise UnreadableDocument from exc


def typeset(pages: list[str]) -> bytes:
    """A PDF with one page per text (Helvetica 10 pt, A4, wrapped)."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.set_font("Helvetica", size=10)
    for text in pages or [""]:
        pdf.add_page()
        latin = text.encode("latin-1", errors="replace").decode("latin-1")
        if latin.strip():
            pdf.multi_cell(0, 5, latin)
    return bytes(pdf.output())


def anonymize_pdf(
    data: bytes,
    *,
    types: frozenset[str],
    start_index: int = 0,
    custom: tuple[CustomEntity, ...] = (),
) -> Anonymized:
    """Anonymize a PDF upload into a re-typeset PDF; raises ``UnreadableDocument``."""
    numbering = Numbering(types, start_index, custom)
    anonymized: list[str] = []
    for text in _pages(data):
        pieces: list[str] = []
        pos = 0
        for start, end, placeholder in numbering.spans(text):
            pieces += [text[pos:start], placeholder]
            pos = end
        pieces.append(text[pos:])
        anonymized.append("".join(pieces))
    return Anonymized(typeset(anonymized), dict(numbering.mapping), numbering.count)
