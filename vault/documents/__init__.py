"""Office documents and PDFs as containers of text (tier L1: imports only ``vault.errors``).

``_zip``: zip containers read under limits (zip bombs, encryption) and written back with only
some members changed. ``_xml``: the streaming rewrite of text inside one XML part, with DTDs and
entities refused. ``_ooxml``: which parts and elements of a DOCX/XLSX hold text. ``_pdf``: the
text of a PDF's pages. ``_extract``: all the text of a document, for the audit's cross-check.
Restoring (``vault.restore._office``) and auditing build on these; the simulator does not, so
that it stays an independent stand-in of the service.
"""

from __future__ import annotations

from vault.documents._extract import document_texts
from vault.documents._ooxml import (
    EXCEL_SPEC,
    WORD_SPEC,
    Kind,
    Sheet,
    checked_xml_text,
    has_macros,
    is_rels,
    is_xml_member,
    kind_of,
    may_hold_inline_strings,
    quote_sheet,
    shared_string_cells,
    shared_strings_part,
    sheet_markers,
    sheet_spec,
    sheets,
    text_parts,
    word_location,
    word_parts,
)
from vault.documents._pdf import PDF_MAGIC, pdf_pages
from vault.documents._xml import (
    GROUP_BYTES,
    Edit,
    Group,
    PartResult,
    PartSpec,
    may_hold_brackets,
    rewrite_part,
    scan_part,
)
from vault.documents._zip import (
    DEFAULT_LIMITS,
    OLE_MAGIC,
    ZIP_MAGIC,
    SafeZip,
    ZipLimits,
    ZipRewriter,
    refuse_ole,
)

__all__ = [
    "DEFAULT_LIMITS",
    "EXCEL_SPEC",
    "GROUP_BYTES",
    "OLE_MAGIC",
    "PDF_MAGIC",
    "WORD_SPEC",
    "ZIP_MAGIC",
    "Edit",
    "Group",
    "Kind",
    "PartResult",
    "PartSpec",
    "SafeZip",
    "Sheet",
    "ZipLimits",
    "ZipRewriter",
    "checked_xml_text",
    "document_texts",
    "has_macros",
    "is_rels",
    "is_xml_member",
    "kind_of",
    "may_hold_brackets",
    "may_hold_inline_strings",
    "pdf_pages",
    "quote_sheet",
    "refuse_ole",
    "rewrite_part",
    "scan_part",
    "shared_string_cells",
    "shared_strings_part",
    "sheet_markers",
    "sheet_spec",
    "sheets",
    "text_parts",
    "word_location",
    "word_parts",
]
