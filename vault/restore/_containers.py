"""The hook from the streaming restore to documents: DOCX/XLSX packages and PDFs.

A document needs random access (a zip's directory is at its end; so is a PDF's), so the input
is first copied into an unnamed temporary file (spooled in memory up to 8 MiB). It holds only
the anonymized input, never an original.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import BinaryIO

from vault.errors import UnsupportedFormat
from vault.placeholders import Resolver
from vault.restore._formats import DocumentKind
from vault.restore._office import restore_package
from vault.restore._pdf import restore_pdf
from vault.restore._report import RestoreReport

_SPOOL = 8 << 20


def restore_document(
    src: BinaryIO,
    head: bytes,
    dst: BinaryIO,
    resolver: Resolver,
    kind: DocumentKind,
    *,
    name: str | None,
    lenient: bool,
    neutralize_formulas: bool,
    to: str | None,
) -> RestoreReport:
    """Restore a document whose first bytes ``head`` were already read from ``src``."""
    label = name or "the input"
    if kind == "package" and to == "text":
        raise UnsupportedFormat(
            f"{label} is a Word or Excel file, restored in place: write it to a .docx or .xlsx "
            "file (text output, -o FILE.txt or --to text, is for PDFs)"
        )
    with tempfile.SpooledTemporaryFile(_SPOOL) as copy:
        copy.write(head)
        shutil.copyfileobj(src, copy, 1 << 20)
        copy.seek(0)
        if kind == "pdf":
            return restore_pdf(
                copy.read(),
                dst,
                resolver,
                name=label,
                lenient=lenient,
                neutralize_formulas=neutralize_formulas,
                to=to,
            )
        return restore_package(
            copy,  # type: ignore[arg-type]
            dst,
            resolver,
            name=label,
            lenient=lenient,
            neutralize_formulas=neutralize_formulas,
        )
