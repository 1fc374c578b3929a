"""Streaming rewrite of the text inside one XML part, leaving every other byte as it was.

The part is parsed with the standard library's expat parser, fed in chunks, so memory stays at
a chunk plus the largest *group*: a Word paragraph, an Excel shared or inline string. Expat
reports, for every event, its byte offset in the input; the part's own bytes are copied to the
output, and only the content of a text element whose text changes is replaced. Nothing is
re-serialized, so namespaces, prefixes, attribute order, whitespace and unknown markup stay.

A group's text elements (``w:t`` runs, ``t`` rich-text runs) are handed to an ``Edit``
callback together; it returns the new text of each element (or None when nothing changes).
That is how a placeholder split over several runs by formatting, spell-check or revision marks
is found and rewritten.

Safety, the policy of ``defusedxml``: a DOCTYPE, an entity declaration or an external entity
reference is refused before anything is expanded or fetched (``UnsafeDocument``); no Office part
has a DTD. Parts not in UTF-8 are refused when they would have to change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO
from xml.parsers import expat

from vault.errors import DocumentError, UnsafeDocument

_XML_SPACE = "http://www.w3.org/XML/1998/namespace}space"
# A start tag from its "<": attribute values may hold ">" inside quotes.
_TAG = re.compile(rb"<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class PartSpec:
    """Which elements of a part hold text (names as ``namespace}local``)."""

    groups: frozenset[str]  # one unit of text: a paragraph, a shared or inline string
    texts: frozenset[str]  # the text elements inside a group
    skip: frozenset[str] = frozenset()  # containers whose text elements do not count (rPh)
    cell: str | None = None  # the element whose ``r`` attribute locates a group (a cell)


@dataclass
class Group:
    """The texts of one group, as the ``Edit`` callback sees them."""

    index: int  # 0-based position among the part's groups
    cell: str | None  # the enclosing cell's reference (``B7``), when the spec names one
    start: int = 0  # input offset of the group's start tag
    texts: list[str] = field(default_factory=list)
    _items: list[tuple[int, int, bool]] = field(default_factory=list)  # (start, end, preserve)


Edit = Callable[[Group], "list[str] | None"]


@dataclass
class PartResult:
    """What the rewrite of one part changed."""

    changed_groups: int = 0
    invalid_characters: int = 0  # characters XML cannot hold, written as U+FFFD


def _refuse_dtd(*_: object) -> None:
    raise _Refused


def _refuse_external(
    context: str, base: str | None, system_id: str | None, public_id: str | None
) -> int:
    raise _Refused


class _Refused(Exception):
    """Raised inside expat callbacks; turned into ``UnsafeDocument``."""


def safe_parser() -> expat.XMLParserType:
    """An expat parser (namespaces as ``uri}local``) that refuses DTDs and entities."""
    parser = expat.ParserCreate(None, "}")
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_external
    return parser


def parse(parser: expat.XMLParserType, chunk: bytes, final: bool, name: str) -> None:
    """Feed ``chunk``; expat's errors and refusals become ``DocumentError``/``UnsafeDocument``."""
    try:
        parser.Parse(chunk, final)
    except _Refused:
        raise UnsafeDocument(
            f"{name}: XML with a DTD or entity declarations is refused (external "
            "entities and entity expansion are never processed)"
        ) from None
    except expat.ExpatError as exc:
        raise DocumentError(
            f"{name}: not well-formed XML (line {exc.lineno}, column {exc.offset})"
        ) from None


class _Rewriter:
    def __init__(self, spec: PartSpec, edit: Edit, out: IO[bytes] | None, name: str) -> None:
        self.spec = spec
        self.edit = edit
        self.out = out
        self.name = name
        self.buf = bytearray()
        self.base = 0  # input offset of buf[0]
        self.last = 0  # input offset of the latest start tag seen
        self.stack: list[Group] = []
        self.text_start = -1
        self.text_preserve = False
        self.parts: list[str] = []
        self.skipping = 0
        self.count = 0
        self.cell: str | None = None
        self.edits: list[tuple[int, int, bytes]] = []
        self.result = PartResult()
        self.utf8 = True
        parser = safe_parser()
        parser.XmlDeclHandler = self._decl
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        self.parser = parser

    def _decl(self, version: str, encoding: str | None, standalone: int) -> None:
        if encoding is not None and encoding.lower().replace("-", "") != "utf8":
            self.utf8 = False

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        spec = self.spec
        self.last = self.parser.CurrentByteIndex
        if name == spec.cell:
            self.cell = attrs.get("r")
        elif name in spec.groups:
            self.stack.append(Group(self.count, self.cell, self.last))
            self.count += 1
        elif name in spec.texts:
            if self.stack and not self.skipping:
                self.text_start = self.last
                self.text_preserve = attrs.get(_XML_SPACE) == "preserve"
                self.parts = []
                self.parser.CharacterDataHandler = self.parts.append
        elif name in spec.skip:
            self.skipping += 1

    def _end(self, name: str) -> None:
        spec = self.spec
        if self.text_start >= 0 and name in spec.texts:
            group = self.stack[-1]
            parts = self.parts
            group.texts.append(parts[0] if len(parts) == 1 else "".join(parts))
            group._items.append((self.text_start, self.parser.CurrentByteIndex, self.text_preserve))
            self.text_start = -1
            self.parser.CharacterDataHandler = None
        elif name in spec.groups and self.stack:
            self._finish(self.stack.pop())
        elif name in spec.skip:
            self.skipping -= 1

    def _finish(self, group: Group) -> None:
        if not group.texts:
            return
        new = self.edit(group)
        if new is None:
            return
        changed = False
        for old, text, (start, end, preserve) in zip(group.texts, new, group._items, strict=True):
            if text == old:
                continue
            changed = True
            if self.out is None:
                continue
            if not self.utf8:
                raise DocumentError(f"{self.name}: only UTF-8 XML parts can be rewritten")
            if _NOT_XML.search(text):
                text, bad = _NOT_XML.subn("\ufffd", text)
                self.result.invalid_characters += bad
            tag = _TAG.match(self.buf, start - self.base)
            if tag is None or tag.group().endswith(b"/>"):
                raise DocumentError(f"{self.name}: unexpected markup around a text element")
            if "&" in text or "<" in text or ">" in text:
                text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            body = text.encode("utf-8")
            if not preserve and text and (text[0].isspace() or text[-1].isspace()):
                opening = tag.group()[:-1] + b' xml:space="preserve">'
                self.edits.append((start, end, opening + body))
            else:
                self.edits.append((start + len(tag.group()), end, body))
        if changed:
            self.result.changed_groups += 1

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if self.out is not None:
            self.buf += chunk
        parse(self.parser, chunk, final, self.name)
        if final:
            self._flush(self.base + len(self.buf))
        else:
            # Everything before the outermost open group is final (edits only ever fall inside
            # a group), so memory stays at a chunk plus the largest group.
            self._flush(self.stack[0].start if self.stack else self.last)

    def _flush(self, upto: int) -> None:
        out = self.out
        if out is None:
            return
        pos = self.base
        buf = self.buf
        if self.edits:
            self.edits.sort()
            for start, end, data in self.edits:
                out.write(buf[pos - self.base : start - self.base])
                out.write(data)
                pos = end
            self.edits.clear()
        if upto > pos:
            out.write(buf[pos - self.base : upto - self.base])
            pos = upto
        del buf[: pos - self.base]
        self.base = pos


def rewrite_part(
    chunks: Iterable[bytes], out: IO[bytes] | None, spec: PartSpec, edit: Edit, *, name: str
) -> PartResult:
    """Stream one part's bytes through ``edit``; write the result to ``out`` (None: only read).

    ``name`` names the part in errors. Raises ``DocumentError`` / ``UnsafeDocument``.
    """
    rewriter = _Rewriter(spec, edit, out, name)
    first = True
    for chunk in chunks:
        if first and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
            rewriter.utf8 = False
        first = False
        rewriter.feed(chunk)
    rewriter.feed(b"", final=True)
    return rewriter.result
