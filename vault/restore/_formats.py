"""Which format an input is in, and (for CSV) its dialect.

``auto`` decides by the file name's extension first, then by content: a DOCX, XLSX or PDF is a
*document* (``document_kind``; restored by ``office`` and ``pdf``), the legacy binary and
OpenDocument formats are refused; text starting like JSON is JSON (or JSON Lines when several
lines each hold a document); lines with the same number of delimiters are CSV; anything else is
text. The CSV delimiter is the one that splits the sample into rows of one consistent width;
the quote character is ``"`` unless given.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from itertools import islice
from pathlib import PurePath
from typing import Literal

from vault._dataclass import dataclass
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
# Delimiters that make an input CSV by content (":" only by --delimiter: "Name: ..." is prose).
_CONTENT_DELIMITERS = (",", "\t", ";", "|")
SAMPLE = 64 * 1024  # characters looked at to decide the format and the delimiter


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


@dataclass(frozen=True)
class Detection:
    """The format chosen for an input and why (shown with ``-v`` and in the report)."""

    format: Format
    reason: str
    delimiter: str | None = None  # for CSV by content: the delimiter that decided it


def detect_format(name: str | None, sample: str, complete: bool) -> Format:
    """The format of an input named ``name`` (or None) whose first characters are ``sample``
    (``complete``: the whole input). See ``decide``; undecided counts as text."""
    decided = decide(name, sample, complete or len(sample) >= SAMPLE)
    return decided.format if decided is not None else "text"


def decide(name: str | None, sample: str, complete: bool) -> Detection | None:
    """The format by extension, else by content; None while more input could change it.

    Content rules (prose never qualifies): JSON when the whole input (or the fixed first
    ``SAMPLE`` characters, cut short) is one JSON object or array; JSON Lines when every line is
    one; delimited when every one of at least three records splits into the same number of
    fields (three or more for a comma, else two), no field reads like a sentence and it is no
    Markdown table. A decision depends only on the first ``SAMPLE`` characters, never on read sizes:
    while ``sample`` is shorter and not ``complete``, the answer is None unless no more text
    can change it (text as soon as every rule has failed on a complete line).
    """
    if name is not None:
        suffix = PurePath(name).suffix.lower()
        by_ext = _BY_EXTENSION.get(suffix)
        if by_ext is not None:
            return Detection(by_ext, f"by the file name's extension {suffix}")
    if len(sample) > SAMPLE:
        sample, complete = sample[:SAMPLE], False
    final = complete or len(sample) >= SAMPLE
    stripped = sample.lstrip("\ufeff \t\r\n")
    if not stripped:
        return Detection("text", "by content: empty") if final else None
    json_like = _json_like(stripped, complete, final)
    if json_like is not None and json_like.format != "text":
        return json_like
    delimited = _delimited(sample, complete, final)
    if delimited is not None and delimited.format == "csv":
        return delimited
    if json_like is None or delimited is None:
        return None
    return Detection("text", "by content: neither JSON nor delimited")


def _json_like(text: str, complete: bool, final: bool) -> Detection | None:
    """json/jsonl, text (ruled out), or None (undecided)."""
    if text[0] not in "{[":
        return Detection("text", "")
    whole = _json_state(text, complete)
    if whole == "valid":
        return Detection("json", "by content: one JSON document")
    if whole == "open":
        return Detection("json", "by content: JSON (its first part)") if final else None
    lines = text.splitlines()
    if not complete:
        lines = lines[:-1]  # maybe cut
    lines = [line for line in lines if line.strip()]
    if not all(_is_json_container(line) for line in lines):
        return Detection("text", "")
    if not final:
        return None
    if len(lines) >= 2:
        return Detection("jsonl", f"by content: JSON Lines ({len(lines)} lines looked at)")
    return Detection("text", "")


def _json_state(text: str, complete: bool) -> str:
    """'valid' (one JSON object/array), 'open' (could still become one) or 'invalid'."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        rest = text[exc.pos :].strip()
        cut_short = (
            exc.msg.startswith(("Unterminated string", "Invalid \\uXXXX"))
            or not rest
            or any(word.startswith(rest) for word in ("true", "false", "null"))
            or re.fullmatch(r"-?[0-9.eE+-]*", rest) is not None
        )
        return "open" if cut_short and not complete else "invalid"
    except ValueError:
        return "invalid"
    if not isinstance(value, (dict, list)):
        return "invalid"
    return "valid" if complete else "open"  # more text may follow it (JSON Lines)


def _is_json_container(line: str) -> bool:
    try:
        value = json.loads(line)
    except ValueError:
        return False
    return isinstance(value, (dict, list))


def _records(sample: str, complete: bool, delimiter: str) -> list[list[str]]:
    """The complete records of the sample read with ``delimiter`` (a cut last line dropped)."""
    if not complete:
        cut = max(sample.rfind("\n"), sample.rfind("\r"))
        sample = sample[:cut] if cut != -1 else ""
    import csv  # only when the content decides: not for a .txt answer (cold start)

    try:
        rows = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
    except csv.Error:
        return []
    if not complete and rows and sample.count('"') % 2:
        rows = rows[:-1]  # a quoted field still open at the cut
    return rows[:200]


def _sentence(field: str) -> bool:
    return len(field.split()) >= 4 and field.rstrip()[-1:] in ".!?:"


def _delimited(sample: str, complete: bool, final: bool) -> Detection | None:
    """csv, text (ruled out) or None (undecided)."""
    best: tuple[int, str, int] | None = None
    open_ = False
    for delimiter in _CONTENT_DELIMITERS:
        rows = _records(sample, complete, delimiter)
        width = len(rows[0]) if rows else 0
        minimum = 3 if delimiter == "," else 2  # one comma a line is common in prose
        if rows and (
            width < minimum
            or any(len(row) != width for row in rows)
            or any(_sentence(f) for row in rows for f in row)
            or (delimiter == "|" and rows[0][0].strip() == "" == rows[0][-1].strip())
        ):
            continue  # ruled out for good: more lines cannot make these consistent
        if len(rows) < 3 or not final:
            open_ = True
            continue
        if best is None or width > best[0]:
            best = (width, delimiter, len(rows))
    if best is not None:
        width, delimiter, count = best
        shown = "TAB" if delimiter == "\t" else repr(delimiter)
        reason = f"by content: {width} fields split by {shown} in each of {count} records"
        return Detection("csv", reason, delimiter)
    if open_ and not final:
        return None
    return Detection("text", "")


def _rows(sample: str, complete: bool, delimiter: str) -> list[int]:
    """Row widths of the sample read with ``delimiter`` (the last, maybe cut, line dropped)."""
    if len(sample) > SAMPLE:
        sample, complete = sample[:SAMPLE], False
    if not complete:
        cut = max(sample.rfind("\n"), sample.rfind("\r"))
        sample = sample[:cut] if cut != -1 else ""
    import csv

    try:
        # the first 200 rows only (the reader is lazy; non-strict, it raises only for a field
        # over its size limit, which a sample cannot hold)
        rows = csv.reader(io.StringIO(sample), delimiter=delimiter)
        return list(islice((len(row) for row in rows if row), 200))
    except csv.Error:
        return []


def _consistency(widths: list[int]) -> tuple[int, int]:
    """(rows of the most common width, that width) when the width is above one."""
    if not widths:
        return 0, 0
    width, rows = Counter(widths).most_common(1)[0]
    return (rows, width) if width > 1 else (0, 0)


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
    fixed = sample[:SAMPLE]
    spaced = (f"{chosen} {quote}" in fixed and f"{chosen}{quote}" not in fixed) or _spaced(
        fixed, chosen, quote
    )
    return CsvDialect(chosen, quote, spaced)


def _spaced(sample: str, delimiter: str, quote: str) -> bool:
    """Whether every delimiter outside quotes is followed by a space (``a, b, c``): then the
    dialect skips initial spaces, and a field quoted when restored keeps its space outside the
    quotes, so the cell reads the same."""
    if delimiter in " \t":
        return False
    q = re.escape(quote)
    bare = re.sub(rf"{q}(?:[^{q}]|{q}{q})*{q}", "", sample)
    return f"{delimiter} " in bare and re.search(rf"{re.escape(delimiter)}(?! )", bare) is None
