"""The text of a PDF, page by page, in reading order (``pypdf``).

A PDF holds positioned glyphs, not text: the words come back as pypdf reads them from each
page's content stream, which is the reading order of every PDF a word processor or the
service writes. A PDF protected only against editing (an empty user password) is opened; one
that needs a password is refused with a message. pypdf's own limits on stream decompression
guard against a decompression bomb; text extraction runs at Python speed (about 1.5 s of CPU
per MiB of content, worse than linear within one stream), and every page may point at the same
stream, so the decoded content is also bounded before any text is extracted: at most
``MAX_PAGE_CONTENT`` per page and ``MAX_TOTAL_CONTENT`` for the whole file, each page counted
even when it shares its stream with another (``UnsafeDocument`` otherwise).
"""

from __future__ import annotations

import io
import logging

from vault.errors import DocumentError, UnsafeDocument

PDF_MAGIC = b"%PDF-"
MAX_PAGES = 10_000
MAX_PAGE_CONTENT = 2 << 20  # decoded content-stream bytes of one page (text is far smaller)
MAX_TOTAL_CONTENT = 16 << 20  # ... of every page together (a few thousand pages of text)


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
        pages = reader.pages
        if len(pages) > MAX_PAGES:
            raise UnsafeDocument(f"{name} has more than {MAX_PAGES:,} pages: refused")
        total = 0
        for number, page in enumerate(pages, 1):
            contents = page.get_contents()
            size = 0 if contents is None else len(contents.get_data())
            total += size
            if size > MAX_PAGE_CONTENT or total > MAX_TOTAL_CONTENT:
                raise UnsafeDocument(
                    f"{name} holds more page content than a text document does (page {number}: "
                    f"{total >> 20} MiB so far; at most {MAX_PAGE_CONTENT >> 20} MiB a page, "
                    f"{MAX_TOTAL_CONTENT >> 20} MiB in all): refused as a possible PDF bomb"
                )
        return [page.extract_text() or "" for page in pages]
    except (DocumentError, MemoryError):
        raise
    except (PdfReadError, Exception) as exc:  # pypdf raises many kinds on a damaged file
        raise DocumentError(f"{name} is not a readable PDF (corrupt or cut)") from exc
