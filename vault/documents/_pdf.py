"""The text of a PDF, page by page, in reading order (``pypdf``).

A PDF holds positioned glyphs, not text: the words come back as pypdf reads them from each
page's content stream, which is the reading order of every PDF a word processor or the
service writes. A PDF protected only against editing (an empty user password) is opened; one
that needs a password is refused with a message. pypdf's own limits on stream decompression
guard against a PDF bomb.
"""

from __future__ import annotations

import io
import logging

from vault.errors import DocumentError

PDF_MAGIC = b"%PDF-"


def pdf_pages(data: bytes, name: str) -> list[str]:
    """The text of every page of the PDF ``data``."""
    # pypdf is imported here, not at module load: it is only needed when a PDF is read, and
    # loading it costs more than the rest of a text restore.
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(
                f"{name} is password-protected: remove the password (print or save it without "
                "one) and restore that file"
            )
        return [page.extract_text() or "" for page in reader.pages]
    except (DocumentError, MemoryError):
        raise
    except (PdfReadError, Exception) as exc:  # pypdf raises many kinds on a damaged file
        raise DocumentError(f"{name} is not a readable PDF (corrupt or cut)") from exc
