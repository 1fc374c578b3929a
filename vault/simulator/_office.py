"""Anonymizing Word (DOCX) and Excel (XLSX) uploads, as the service returns them.

Parts are parsed with ``lxml`` (no DTD loaded, no entity resolved, no network; a part with a
DOCTYPE is refused), changed in the tree and serialized back; every other zip member is copied.
This is independent of the vault's own streaming restore (``vault.documents``), so the two check
each other in end-to-end tests.

Word: each paragraph (``w:p``) of the body, tables, headers, footers, footnotes, endnotes and
comments is one text: its runs' ``w:t`` are joined, anonymized with the request's numbering,
and each placeholder is written into the run where its original starts (keeping that run's
formatting); the rest of the original is removed from the runs it spilled into. Excel: each
shared string (``si``) and inline string (``is``) likewise; formulas and numbers are not text and
stay as they are. Numbering follows the parts in that order, then document order.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from lxml import etree

from vault.simulator._anonymize import Anonymized, CustomEntity, Numbering

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_WORD_PARTS = ("document", "header", "footer", "footnotes", "endnotes", "comments")
_WORD_PART = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml\Z")
_SHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml\Z")
_MAX_UNPACKED = 256 << 20  # an upload expanding past this is refused (zip bomb)


class UnreadableDocument(ValueError):
    """The upload is not a readable DOCX/XLSX (or is refused as unsafe)."""


def _parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _parse(data: bytes) -> Any:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise UnreadableDocument from exc
    if root.getroottree().docinfo.doctype:
        raise UnreadableDocument
    return root


def _serialize(root: Any) -> bytes:
    tree = root.getroottree()
    standalone = tree.docinfo.standalone
    if standalone is None:
        return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))
    return bytes(
        etree.tostring(tree, xml_declaration=True, encoding="UTF-8", standalone=standalone)
    )


def _spread(texts: list[str], spans: list[tuple[int, int, str]]) -> list[str]:
    """Each placeholder into the run where its original starts; the original's rest removed."""
    joined = "".join(texts)
    out: list[str] = []
    pos = 0
    k = 0
    for text in texts:
        end = pos + len(text)
        cur = pos
        pieces: list[str] = []
        while k < len(spans) and spans[k][0] < end:
            start, stop, placeholder = spans[k]
            if start >= pos:
                pieces += [joined[cur:start], placeholder]
            if stop > end:
                cur = end
                break
            cur = max(cur, stop)
            k += 1
        pieces.append(joined[cur:end])
        out.append("".join(pieces))
        pos = end
    return out


def _anonymize_runs(runs: list[Any], numbering: Numbering) -> None:
    texts = [t.text or "" for t in runs]
    spans = numbering.spans("".join(texts))
    if not spans:
        return
    for element, old, new in zip(runs, texts, _spread(texts, spans), strict=True):
        if new != old:
            element.text = new
            if new != new.strip():
                element.set(_XML_SPACE, "preserve")


def _word_paragraphs(root: Any) -> Iterator[list[Any]]:
    for paragraph in root.iter(f"{W}p"):
        yield [
            t for t in paragraph.iter(f"{W}t") if next(t.iterancestors(f"{W}p"), None) is paragraph
        ]


def _excel_strings(root: Any) -> Iterator[list[Any]]:
    for group in root.iter(f"{S}si", f"{S}is"):
        yield [t for t in group.iter(f"{S}t") if next(t.iterancestors(f"{S}rPh"), None) is None]


def _word_order(name: str) -> tuple[int, str]:
    stem = _WORD_PART.match(name)
    kind = stem.group(1).rstrip("0123456789") if stem else ""
    return (_WORD_PARTS.index(kind) if kind in _WORD_PARTS else 99, name)


def anonymize_package(
    data: bytes,
    *,
    types: frozenset[str],
    start_index: int = 0,
    custom: tuple[CustomEntity, ...] = (),
) -> Anonymized:
    """Anonymize a DOCX or XLSX upload; raises ``UnreadableDocument``."""
    try:
        source = zipfile.ZipFile(io.BytesIO(data))
        infos = source.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableDocument from exc
    if sum(i.file_size for i in infos) > _MAX_UNPACKED or any(i.flag_bits & 1 for i in infos):
        raise UnreadableDocument
    names = [i.filename for i in infos]
    if "word/document.xml" in names:
        parts = sorted((n for n in names if _WORD_PART.match(n)), key=_word_order)
        groups = _word_paragraphs
    elif "xl/workbook.xml" in names:
        strings = [n for n in names if n.lower() == "xl/sharedstrings.xml"]
        parts = strings + sorted(n for n in names if _SHEET_PART.match(n))
        groups = _excel_strings
    else:
        raise UnreadableDocument
    numbering = Numbering(types, start_index, custom)
    changed: dict[str, bytes] = {}
    try:
        for name in parts:
            root = _parse(source.read(name))
            before = numbering.count
            for runs in groups(root):
                _anonymize_runs(runs, numbering)
            if numbering.count != before:
                changed[name] = _serialize(root)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for info in infos:
                content = changed.get(info.filename)
                if content is None:
                    content = source.read(info.filename)
                target.writestr(info, content, compress_type=info.compress_type)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError) as exc:
        raise UnreadableDocument from exc
    return Anonymized(out.getvalue(), dict(numbering.mapping), numbering.count)
