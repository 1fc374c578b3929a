"""Inert text for the terminal: the one escaping function every human-readable output uses.

Server-chosen text (entity labels, error messages, file names) and restored originals may
carry control characters: ESC sequences that retitle, clear or reset a terminal, OSC 52
clipboard writes, BEL, backspaces, and bidirectional overrides that make text read
differently from its bytes. Every human-readable line goes through ``inert`` (one field, every
control character escaped) or ``inert_lines`` (line breaks kept) before it is printed; a
terminal then shows ``\\x1b`` or ``\\u202e`` instead of obeying them.

Escaped: C0 (U+0000-U+001F), DEL (U+007F), C1 (U+0080-U+009F), the bidi embeddings and
overrides U+202A-U+202E and isolates U+2066-U+2069, and lone surrogates (U+D800-U+DFFF).
``str.translate`` with one table, then the UTF-8 codec for surrogates: C-level passes, so even a
100,000-row table costs little.

JSON output keeps its data exactly: JSON already escapes C0, and ``inert_json`` writes DEL, C1
and the bidi controls as ``\\uXXXX`` escapes, which decode to the same characters.
"""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO, cast

import click

_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F),
             *range(0x2066, 0x206A)]  # fmt: skip


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_FIELD = {code: _escape(code) for code in _CONTROLS}
_LINES = {code: _escape(code) for code in _CONTROLS if code != 0x0A}
_TEXT = {code: _escape(code) for code in _CONTROLS if code not in (0x09, 0x0A)}
_JSON = {code: f"\\u{code:04x}" for code in _CONTROLS if code >= 0x7F}


def _unpaired(text: str) -> str:
    """``text`` with each lone surrogate (U+D800-U+DFFF) written as its ``\\udXXX`` escape.

    Such text is not Unicode and no UTF-8 output can take it: a hostile service's ``"\\ud800"``
    in a map would otherwise end every listing holding it. UTF-8 encodes every other code
    point, so the codec's ``backslashreplace`` escapes exactly these, in one C-level pass over
    non-ASCII text only (ASCII is a flag CPython keeps). In the tables instead, the 2,048
    escapes cost every command 10 M instructions at import."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def inert(text: str) -> str:
    """One field (a cell, a name, a message): every control character escaped."""
    return _unpaired(text.translate(_FIELD))


def inert_lines(text: str) -> str:
    """Lines of human output: line breaks kept, every other control character escaped."""
    return _unpaired(text.translate(_LINES))


def inert_text(text: str) -> str:
    """Restored text shown on a terminal: line breaks, tabs and CRLF kept."""
    if "\r\n" not in text:
        return _unpaired(text.translate(_TEXT))
    return _unpaired("\r\n".join(part.translate(_TEXT) for part in text.split("\r\n")))


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """``click.echo`` for human output: ``inert_lines`` first."""
    click.echo(inert_lines(message), err=err, nl=nl)


def terminal_safe(stream: BinaryIO, *, raw: bool) -> BinaryIO:
    """``stream`` itself, or, when it is a terminal and ``raw`` was not asked for, an
    ``InertStream`` over it: files and pipes get the exact bytes, a terminal an inert view."""
    isatty = getattr(stream, "isatty", None)
    if raw or isatty is None or not isatty():
        return stream
    return cast(BinaryIO, InertStream(stream))


RAW_HELP = (
    "On a terminal, write the exact bytes, control characters included (by default they "
    "are shown escaped; files and pipes always get the exact bytes)."
)


def inert_json(text: str) -> str:
    """JSON text with DEL, C1 and the bidi controls written as ``\\uXXXX`` escapes (they can
    only occur inside JSON strings, where the escape means the same character)."""
    return _unpaired(text.translate(_JSON))


class InertStream(io.RawIOBase):
    """A binary stream for a terminal: bytes are decoded as UTF-8 (undecodable bytes shown
    as ``\\xNN``), made inert (``inert_text``) and written to ``target`` as UTF-8."""

    def __init__(self, target: BinaryIO) -> None:
        super().__init__()
        self._target = target
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")
        self._cr = False  # a CR at the end of the last piece: it may start a CRLF

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._emit(self._decoder.decode(bytes(data)))
        return len(data)

    def _emit(self, text: str, final: bool = False) -> None:
        if self._cr:
            text = "\r" + text
            self._cr = False
        if text.endswith("\r") and not final:
            text, self._cr = text[:-1], True
        if text:
            self._target.write(inert_text(text).encode("utf-8"))

    def flush(self) -> None:
        self._emit(self._decoder.decode(b"", final=True), final=True)
        self._target.flush()


def reason(exc: BaseException) -> str:
    """Why reading or writing failed, in words ("No such file or directory"), not a class name."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return type(exc).__name__
