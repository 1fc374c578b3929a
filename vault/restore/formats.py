"""Which format an input is in, and (for CSV) its dialect.

``auto`` decides by the file name's extension first, then by content: a DOCX, XLSX or PDF is a
*document* (``document_kind``; restored by ``office`` and ``pdf``), the legacy binary and
OpenDocument formats are refused; text starting like JSON is JSON (or JSON Lines when several
lines each hold a document); lines with the same number of delimiters are CSV; anything else is
text. The CSV delimiter is the one that splits the sample into rows of one consistent width;
the quote character is ``"`` unless given.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from vault.errors import InputError, UnsupportedFormat

Format = Literal["text", "csv", "json", "jsonl"]
DocumentKind = Literal["package", "pdf"]  # package: DOCX or XLSX (told apart by their parts)
FORMATS: tuple[str, ...] = ("auto", "text", "csv", "json", "jsonl", "docx", "xlsx", "pdf")

UNSUPPORTED = (
    "restoring inside .doc/.xls/.odt/.ods files is not supported: save the file as .docx or "
    ".xlsx and restore that"
)
_UNSUPPORTED_EXT = {".doc", ".xls", ".odt", ".ods", ".ppt", ".pptx"}
_PACKAGE_EXT = {".docx", ".docm", ".xlsx", ".xlsm", ".dotx", ".xltx"}
_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BY_EXTENSION: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".txt": "text",
    ".md": "text",
    ".markdown": "text",
    ".text": "text",
}
_DELIMITERS = (",", "\t", ";", "|", ":")
_SAMPLE = 64 * 1024  # characters looked at to guess the format and the delimiter


@dataclass(frozen=True)
class CsvDialect:
    """What the CSV engine needs to know to find fields: delimiter, quote, leading spaces."""

    delimiter: str = ","
    quotechar: str = '"'
    skipinitialspace: bool = False


def document_kind(name: str | None, head: bytes, fmt: str) -> DocumentKind | None:
    """Whether the input is a DOCX/XLSX package or a PDF (by ``--format``, extension, content).

    Raises ``UnsupportedFormat`` for the legacy and OpenDocument formats. An OLE file named
    .docx/.xlsx is a package: that is how Office stores a password-protected one.
    """
    if fmt in ("docx", "xlsx"):
        return "package"
    if fmt == "pdf":
        return "pdf"
    if fmt != "auto":
        return None
    suffix = PurePath(name).suffix.lower() if name is not None else ""
    if suffix in _PACKAGE_EXT or head.startswith(_ZIP_MAGIC):
        return "package"
    if suffix == ".pdf" or head.startswith(_PDF_MAGIC):
        return "pdf"
    if suffix in _UNSUPPORTED_EXT or head.startswith(_OLE_MAGIC):
        raise UnsupportedFormat(UNSUPPORTED)
    return None


def detect_format(name: str | None, sample: str, complete: bool) -> Format:
    """The format of an input named ``name`` (or None) whose first characters are ``sample``.

    ``complete`` says whether ``sample`` is the whole input.
    """
    if name is not None:
        by_ext = _BY_EXTENSION.get(PurePath(name).suffix.lower())
        if by_ext is not None:
            return by_ext
    stripped = sample.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{") or _json_array_start(stripped):
        return _json_or_lines(stripped, complete)
    if _looks_like_csv(sample, complete):
        return "csv"
    return "text"


def _json_array_start(text: str) -> bool:
    rest = text[1:].lstrip(" \t\r\n")
    return text.startswith("[") and rest[:1] in ("{", "[", '"', "]")


def _json_or_lines(text: str, complete: bool) -> Format:
    if complete:
        try:
            json.loads(text)
        except ValueError:
            pass
        else:
            return "json"
    lines = [line for line in text.splitlines() if line.strip()]
    if not complete:
        lines = lines[:-1]
    lines = lines[:20]
    if len(lines) >= 2 and all(_is_json(line) for line in lines):
        return "jsonl"
    return "json"


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _rows(sample: str, complete: bool, delimiter: str) -> list[int]:
    """Row widths of the sample read with ``delimiter`` (the last, maybe cut, line dropped)."""
    if len(sample) > _SAMPLE:
        sample, complete = sample[:_SAMPLE], False
    if not complete:
        cut = max(sample.rfind("\n"), sample.rfind("\r"))
        sample = sample[:cut] if cut != -1 else ""
    try:
        return [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row][
            :200
        ]
    except csv.Error:
        return []


def _consistency(widths: list[int]) -> tuple[int, int]:
    """(rows of the most common width, that width) when the width is above one."""
    if not widths:
        return 0, 0
    width, rows = Counter(widths).most_common(1)[0]
    return (rows, width) if width > 1 else (0, 0)


def _looks_like_csv(sample: str, complete: bool) -> bool:
    for delimiter in _DELIMITERS:
        widths = _rows(sample, complete, delimiter)
        rows, _ = _consistency(widths)
        if len(widths) >= 3 and rows == len(widths):
            return True
    return False


def detect_dialect(
    name: str | None,
    sample: str,
    complete: bool,
    *,
    delimiter: str | None = None,
    quotechar: str | None = None,
) -> CsvDialect:
    """The dialect: what is given, else TAB for .tsv/.tab, else the most consistent delimiter."""
    quote = quotechar if quotechar is not None else '"'
    if delimiter is not None:
        chosen = delimiter
    elif name is not None and PurePath(name).suffix.lower() in (".tsv", ".tab"):
        chosen = "\t"
    else:
        best = (0, 0)
        chosen = ","
        for candidate in _DELIMITERS:
            score = _consistency(_rows(sample, complete, candidate))
            if score > best:
                best, chosen = score, candidate
    for what, char in (("delimiter", chosen), ("quote character", quote)):
        if len(char) != 1 or char in "\r\n":
            raise InputError(f"the CSV {what} must be one character (not a line break)")
    if chosen == quote:
        raise InputError("the CSV delimiter and quote character must differ")
    spaced = f"{chosen} {quote}" in sample and f"{chosen}{quote}" not in sample
    return CsvDialect(chosen, quote, spaced)
