"""What is where in a Word (DOCX) or Excel (XLSX) package.

Word: the paragraphs (``w:p``, runs ``w:t``) of the body, headers, footers, footnotes, endnotes
and comments. Excel: the shared strings (``si``) and the inline strings (``is``) of every sheet;
a rich-text string's runs (``r/t``) count, its phonetic hints (``rPh``) do not. Both the
transitional and the strict OOXML namespaces are recognised. The small parts that describe the
package (the workbook's sheet list and its relationships) are read with ``defusedxml``.
"""

from __future__ import annotations

import posixpath
import re
from typing import Literal

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from vault._dataclass import dataclass
from vault.documents._xml import PartSpec, may_hold_brackets, parse, safe_parser
from vault.documents._zip import SafeZip
from vault.errors import DocumentError, UnsafeDocument

Kind = Literal["docx", "xlsx"]

_W = (
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
)
_S = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
_R = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_M = (
    "http://schemas.openxmlformats.org/officeDocument/2006/math",
    "http://purl.oclc.org/ooxml/officeDocument/math",
)

# A paragraph's text elements: runs, field codes (``instrText``: a HYPERLINK field's target),
# tracked deletions, deleted field codes, and equation runs (``m:t``). Each kind is its own
# segment (see ``Group.segments``); a tab, line break or carriage return ends a segment.
WORD_SPEC = PartSpec(
    groups=frozenset(f"{ns}}}p" for ns in _W),
    texts=frozenset(
        [f"{ns}}}{local}" for ns in _W for local in ("t", "instrText", "delText", "delInstrText")]
        + [f"{ns}}}t" for ns in _M]
    ),
    breaks=frozenset(f"{ns}}}{local}" for ns in _W for local in ("tab", "br", "cr", "ptab")),
)
# Document properties (title, author, company, custom properties): every leaf element's text.
PROPS_SPEC = PartSpec(groups=frozenset(), texts=frozenset(), leaves=True)
# Excel's legacy comments (``xl/comments1.xml``): each comment's ``text`` is one string of runs,
# as in shared strings.
COMMENTS_SPEC = PartSpec(
    groups=frozenset(f"{ns}}}text" for ns in _S),
    texts=frozenset(f"{ns}}}t" for ns in _S),
    skip=frozenset(f"{ns}}}rPh" for ns in _S),
)
EXCEL_SPEC = PartSpec(
    groups=frozenset(f"{ns}}}{local}" for ns in _S for local in ("si", "is")),
    texts=frozenset(f"{ns}}}t" for ns in _S),
    skip=frozenset(f"{ns}}}rPh" for ns in _S),
    cell=None,
)
SHEET_SPEC = PartSpec(
    groups=EXCEL_SPEC.groups,
    texts=EXCEL_SPEC.texts,
    skip=EXCEL_SPEC.skip,
    cell=f"{_S[0]}}}c",
)
STRICT_SHEET_SPEC = PartSpec(
    groups=EXCEL_SPEC.groups,
    texts=EXCEL_SPEC.texts,
    skip=EXCEL_SPEC.skip,
    cell=f"{_S[1]}}}c",
)

_WORD_PART = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml\Z")
_PROPS_PART = re.compile(r"docProps/(core|app|custom)\.xml\Z")
_EXCEL_COMMENTS = re.compile(r"xl/(comments/)?comments?\d*\.xml\Z", re.IGNORECASE)
_THREADED = re.compile(r"xl/threadedComments/[^/]+\.xml\Z", re.IGNORECASE)
_RELS = re.compile(r"(.*/)?_rels/[^/]*\.rels\Z")
_XML_MEMBER = re.compile(r".*\.(xml|rels|vml)\Z", re.IGNORECASE)
_MACROS = re.compile(r"(^|/)vbaProject\.bin\Z|(^|/)vbaData\.xml\Z", re.IGNORECASE)


def kind_of(zipped: SafeZip) -> Kind:
    """DOCX or XLSX, from the package's parts (never from the file name alone)."""
    if zipped.has("word/document.xml"):
        return "docx"
    if zipped.has("xl/workbook.xml"):
        return "xlsx"
    raise DocumentError(f"{zipped.name} is a zip file but neither a Word nor an Excel document")


def has_macros(zipped: SafeZip) -> bool:
    return any(_MACROS.search(name) for name in zipped.names())


def word_parts(zipped: SafeZip) -> list[str]:
    return [name for name in zipped.names() if _WORD_PART.match(name)]


def text_parts(zipped: SafeZip, kind: Kind) -> dict[str, PartSpec]:
    """The parts besides paragraphs and cells whose text is restored: document properties, and
    in a workbook its comments (legacy and threaded)."""
    found: dict[str, PartSpec] = {}
    for name in zipped.names():
        if _PROPS_PART.match(name):
            found[name] = PROPS_SPEC
        elif kind == "xlsx" and _EXCEL_COMMENTS.match(name):
            found[name] = COMMENTS_SPEC
        elif kind == "xlsx" and _THREADED.match(name):
            found[name] = PROPS_SPEC
    return found


def is_rels(name: str) -> bool:
    """A relationships part (``word/_rels/document.xml.rels``): hyperlink targets live there."""
    return _RELS.match(name) is not None


def is_xml_member(name: str) -> bool:
    """A member that is XML (parts, relationships, legacy VML drawings)."""
    return _XML_MEMBER.match(name) is not None


@dataclass(frozen=True)
class Sheet:
    """One worksheet of a workbook: its name, its part in the package, and whether the
    package is Strict OOXML."""

    name: str  # as the user sees it: ``Sheet1``
    part: str  # ``xl/worksheets/sheet1.xml``
    strict: bool


def _xml(zipped: SafeZip, name: str) -> object:
    try:
        return fromstring(zipped.read(name))
    except DefusedXmlException as exc:
        raise UnsafeDocument(
            f"{zipped.name}: {name} holds a DTD or entities, which are refused"
        ) from exc
    except ParseError as exc:
        raise DocumentError(f"{zipped.name}: {name} is not well-formed XML") from exc


def sheets(zipped: SafeZip) -> list[Sheet]:
    """The workbook's sheets, in the workbook's order, with the part each one lives in."""
    workbook = "xl/workbook.xml"
    targets: dict[str, str] = {}
    rels = "xl/_rels/workbook.xml.rels"
    if zipped.has(rels):
        root = _xml(zipped, rels)
        for rel in root.iter(f"{{{_PKG_REL}}}Relationship"):  # type: ignore[attr-defined]
            target = rel.get("Target", "")
            path = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join("xl", target))
            )
            targets[rel.get("Id", "")] = path
    found: list[Sheet] = []
    root = _xml(zipped, workbook)
    for strict, ns in enumerate(_S):
        for sheet in root.iter(f"{{{ns}}}sheet"):  # type: ignore[attr-defined]
            rid = next((sheet.get(f"{{{r}}}id") for r in _R if sheet.get(f"{{{r}}}id")), None)
            part = targets.get(rid or "")
            if part is not None and zipped.has(part):
                found.append(Sheet(sheet.get("name", part), part, bool(strict)))
    return found


def sheet_spec(sheet: Sheet) -> PartSpec:
    return STRICT_SHEET_SPEC if sheet.strict else SHEET_SPEC


def shared_strings_part(zipped: SafeZip) -> str | None:
    for name in ("xl/sharedStrings.xml", "xl/sharedstrings.xml"):
        if zipped.has(name):
            return name
    return None


def may_hold_inline_strings(zipped: SafeZip, part: str) -> bool:
    """Whether a sheet has inline strings at all (read at zlib speed, no XML parsing)."""
    return sheet_markers(zipped, part)[0]


def sheet_markers(zipped: SafeZip, part: str) -> tuple[bool, bool]:
    """Whether a sheet may hold inline strings, and whether it may hold a bracketed token at
    all (``may_hold_brackets``), in one read at zlib speed."""
    tail = b""
    inline = brackets = False
    for chunk in zipped.chunks(part):
        if not inline and (b"inlineStr" in tail + chunk[:16] or b"inlineStr" in chunk):
            inline = True
        if not brackets and may_hold_brackets((tail + chunk,)):
            brackets = True
        if inline and brackets:
            break
        tail = chunk[-16:]
    return inline, brackets


def quote_sheet(name: str) -> str:
    """A sheet name as a cell reference writes it: ``Sheet1``, ``'My sheet'``."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
        return name
    return "'" + name.replace("'", "''") + "'"


def word_location(part: str, paragraph: int) -> str:
    return f"{part} paragraph {paragraph + 1}"


class _CellScan:
    """Finds the cells of one sheet that show given shared strings (``t="s"``, ``<v>N</v>``)."""

    def __init__(self, sheet: Sheet, wanted: set[int], found: dict[int, str]) -> None:
        ns = _S[1] if sheet.strict else _S[0]
        self.cell_tag, self.value_tag = f"{ns}}}c", f"{ns}}}v"
        self.prefix = quote_sheet(sheet.name)
        self.wanted, self.found = wanted, found
        self.cell: str | None = None
        self.parts: list[str] = []
        self.parser = safe_parser()
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == self.cell_tag:
            self.cell = attrs.get("r") if attrs.get("t") == "s" else None
        elif tag == self.value_tag and self.cell is not None:
            self.parts = []
            self.parser.CharacterDataHandler = self.parts.append

    def end(self, tag: str) -> None:
        if tag == self.value_tag and self.cell is not None:
            self.parser.CharacterDataHandler = None
            text = "".join(self.parts).strip()
            if text.isdigit() and int(text) in self.wanted:
                self.found.setdefault(int(text), f"{self.prefix}!{self.cell}")


def shared_string_cells(
    zipped: SafeZip, sheet_list: list[Sheet], wanted: set[int]
) -> dict[int, str]:
    """The first cell (``Sheet1!B7``) showing each shared string of ``wanted``."""
    found: dict[int, str] = {}
    for sheet in sheet_list:
        scan = _CellScan(sheet, wanted, found)
        label = f"{zipped.name}: {sheet.part}"
        for chunk in zipped.chunks(sheet.part):
            parse(scan.parser, chunk, False, label)
            if len(found) == len(wanted):
                return found
        parse(scan.parser, b"", True, label)
    return found


def checked_xml_text(data: bytes, name: str, part: str) -> str:
    """A small XML part as text, after ``defusedxml`` has parsed it: ``UnsafeDocument`` for a
    DTD or entities (nothing expanded or fetched), ``DocumentError`` for XML that is not
    well-formed UTF-8."""
    try:
        fromstring(data)  # refuses DTDs and entities before anything is used
        return data.decode("utf-8")
    except DefusedXmlException as exc:
        raise UnsafeDocument(f"{name}: {part} holds a DTD or entities, which are refused") from exc
    except (ParseError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{name}: {part} is not well-formed UTF-8 XML") from exc
