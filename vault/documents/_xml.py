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
from dataclasses import field
from typing import IO
from xml.parsers import expat

from vault._dataclass import dataclass
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
    # Elements inside a group that end a text as the reader sees it (a tab, a line break): a
    # placeholder is never joined across one.
    breaks: frozenset[str] = frozenset()
    # Every element that holds only character data is a group of one text (document properties:
    # ``dc:title``, ``vt:lpwstr``); ``groups`` and ``texts`` are then not used.
    leaves: bool = False


GROUP_BYTES = 16 << 20  # XML of one paragraph or string held at once, at most


@dataclass
class Group:
    """The texts of one group, as the ``Edit`` callback sees them."""

    index: int  # 0-based position among the part's groups
    cell: str | None  # the enclosing cell's reference (``B7``), when the spec names one
    start: int = 0  # input offset of the group's start tag
    texts: list[str] = field(default_factory=list)
    # Per text, which *segment* it belongs to: texts of one element kind (``w:t``, ``w:instrText``,
    # ``w:delText``) between two breaks. A placeholder is only joined across one segment's texts.
    segments: list[int] = field(default_factory=list)
    _keys: dict[tuple[str, int], int] = field(default_factory=dict)
    _breaks: int = 0
    _last: tuple[str, int] = ("", -1)
    _segment: int = 0
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
    def __init__(
        self, spec: PartSpec, edit: Edit, out: IO[bytes] | None, name: str, group_bytes: int
    ) -> None:
        self.spec = spec
        self.group_bytes = group_bytes
        self.text_name = ""
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
        if spec.leaves:
            self._leaf(attrs)
        elif name == spec.cell:
            self.cell = attrs.get("r")
        elif name in spec.groups:
            self.stack.append(Group(self.count, self.cell, self.last))
            self.count += 1
        elif name in spec.texts:
            if self.stack and not self.skipping:
                self.text_name = name
                self.text_start = self.last
                self.text_preserve = attrs.get(_XML_SPACE) == "preserve"
                self.parts = []
                self.parser.CharacterDataHandler = self.parts.append
        elif name in spec.skip:
            self.skipping += 1
        elif name in spec.breaks and self.stack:
            self.stack[-1]._breaks += 1

    def _leaf(self, attrs: dict[str, str]) -> None:
        """Properties: each element is a group of its own text until a child element shows
        that it is not a leaf (its character data is then not text)."""
        if self.text_start >= 0:
            self.stack.pop()
        self.stack.append(Group(self.count, None, self.last))
        self.count += 1
        self.text_start = self.last
        self.text_preserve = attrs.get(_XML_SPACE) == "preserve"
        self.parts = []
        self.parser.CharacterDataHandler = self.parts.append

    def _close_text(self, group: Group) -> None:
        parts = self.parts
        group.texts.append(parts[0] if len(parts) == 1 else "".join(parts))
        key = (self.text_name, group._breaks)
        if key != group._last:  # a new kind of text, or text after a break
            group._last = key
            group._segment = group._keys.setdefault(key, len(group._keys))
        group.segments.append(group._segment)
        group._items.append((self.text_start, self.parser.CurrentByteIndex, self.text_preserve))
        self.text_start = -1
        self.parser.CharacterDataHandler = None

    def _end(self, name: str) -> None:
        spec = self.spec
        if spec.leaves:
            if self.text_start >= 0:
                group = self.stack.pop()
                self._close_text(group)
                self._finish(group)
        elif self.text_start >= 0 and name in spec.texts:
            self._close_text(self.stack[-1])
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
        if self.stack and self.parser.CurrentByteIndex - self.stack[0].start > self.group_bytes:
            raise UnsafeDocument(
                f"{self.name}: one paragraph or string is larger than "
                f"{self.group_bytes >> 20} MiB of XML, which is refused (a hostile document?)"
            )
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
    chunks: Iterable[bytes],
    out: IO[bytes] | None,
    spec: PartSpec,
    edit: Edit,
    *,
    name: str,
    group_bytes: int = GROUP_BYTES,
) -> PartResult:
    """Stream one part's bytes through ``edit``; write the result to ``out`` (None: only read).

    ``name`` names the part in errors. Raises ``DocumentError`` / ``UnsafeDocument``, the latter
    also for a group (paragraph, string) whose XML exceeds ``group_bytes``: memory holds one
    group, so a hostile document with one huge paragraph is refused instead of held.
    """
    rewriter = _Rewriter(spec, edit, out, name, group_bytes)
    first = True
    for chunk in chunks:
        if first and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
            rewriter.utf8 = False
        first = False
        rewriter.feed(chunk)
    rewriter.feed(b"", final=True)
    return rewriter.result


# Bytes after which a part may hold a bracketed token: a bracket (also full-width), a character
# reference, a percent-encoded bracket (URLs). Parts without any are not parsed by ``scan_part``.
_MAYBE_BRACKET = re.compile(rb"\[|\xef\xbc\xbb|&#|%5[bB]")


def may_hold_brackets(chunks: Iterable[bytes]) -> bool:
    """Whether a part's bytes may hold a bracketed token (read at zlib speed, not parsed)."""
    tail = b""
    for chunk in chunks:
        if _MAYBE_BRACKET.search(tail + chunk[:8]) or _MAYBE_BRACKET.search(chunk):
            return True
        tail = chunk[-8:]
    return False


def _local(name: str) -> str:
    return name.rpartition("}")[2]


class _Scanner:
    """Hands every attribute value, and the character data outside ``spec``'s text elements, to
    ``found(text, where)`` (``where``: the element's local name, ``name@attribute``)."""

    def __init__(
        self,
        spec: PartSpec | None,
        found: Callable[[str, str], None],
        may: Callable[[str], bool],
    ) -> None:
        self.spec = spec
        self.found = found
        self.may = may
        self.names: list[str] = []
        self.parts: list[str] = []
        self.cell = ""  # the latest cell reference seen (``c r="B7"``), to locate a formula
        self.held = 0
        self.groups = 0
        self.skipping = 0
        self.in_text = 0
        parser = safe_parser()
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._data
        self.parser = parser

    def _data(self, text: str) -> None:
        if not self.in_text:
            self.parts.append(text)
            self.held += len(text)
            if self.held > GROUP_BYTES:
                raise UnsafeDocument(
                    f"one text is larger than {GROUP_BYTES >> 20} MiB, which is refused "
                    "(a hostile document?)"
                )

    def _flush(self) -> None:
        if self.parts:
            text = "".join(self.parts)
            self.parts.clear()
            self.held = 0
            if self.names and self.may(text):
                where = _local(self.names[-1])
                self.found(text, f"{where} of cell {self.cell}" if where == "f" else where)

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self._flush()
        local = _local(name)
        if local == "c" and "r" in attrs:
            self.cell = attrs["r"]
        for key, value in attrs.items():
            if self.may(value):
                self.found(value, f"{local}@{_local(key)}")
        self.names.append(name)
        spec = self.spec
        if spec is None:
            return
        if spec.leaves:
            self.in_text = 1
        elif name in spec.groups:
            self.groups += 1
        elif name in spec.skip:
            self.skipping += 1
        elif name in spec.texts and self.groups and not self.skipping:
            self.in_text += 1

    def _end(self, name: str) -> None:
        self._flush()
        self.names.pop()
        spec = self.spec
        if spec is None or spec.leaves:
            return
        if name in spec.groups:
            self.groups -= 1
        elif name in spec.skip:
            self.skipping -= 1
        elif name in spec.texts and self.in_text:
            self.in_text -= 1


def scan_part(
    chunks: Iterable[bytes],
    spec: PartSpec | None,
    found: Callable[[str, str], None],
    may: Callable[[str], bool],
    *,
    name: str,
) -> None:
    """Call ``found(text, where)`` for each attribute value and each piece of character data
    outside the text elements ``spec`` rewrites (all of a part when ``spec`` is None) for which
    ``may(text)`` holds: what a restore of the part leaves as it was."""
    scanner = _Scanner(spec, found, may)
    for chunk in chunks:
        parse(scanner.parser, chunk, False, name)
    parse(scanner.parser, b"", True, name)
