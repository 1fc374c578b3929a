"""Bytes in and out of the restore engine: incremental decoding and encoding with clear errors.

The input's encoding is kept for the output, so every byte outside restored values comes back
unchanged: a UTF-8 BOM is decoded as U+FEFF and encoded again, UTF-16 files are read in the byte
order their BOM names (and the BOM kept). Invalid bytes are an error naming the byte offset; a NUL
character means binary input, which is refused.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

from vault.errors import InputError

DEFAULT_ENCODING = "utf-8"


def pick_encoding(head: bytes, encoding: str | None) -> str:
    """The encoding to use: the one given, else UTF-16 by BOM, else UTF-8."""
    if encoding is not None:
        try:
            info = codecs.lookup(encoding)
        except LookupError as exc:
            raise InputError(f"unknown encoding {encoding!r}") from exc
        # codecs also holds bytes-to-bytes and str-to-str transforms (base64, zlib, rot13):
        # they read no text, so they are refused by name like an unknown encoding.
        if not info._is_text_encoding:
            raise InputError(f"{encoding!r} is not a text encoding")
        name = info.name
        # Plain "utf-16"/"utf-32" would drop the BOM on reading and write it in native order.
        if name in ("utf-16", "utf-32"):
            return _by_bom(head) or name
        return name
    return _by_bom(head) or DEFAULT_ENCODING


def _by_bom(head: bytes) -> str | None:
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32-le" if head.startswith(codecs.BOM_UTF32_LE) else "utf-32-be"
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    return None


class Decoder:
    """Incremental decoder that knows the byte offset of the first bad byte."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self.bytes_in = 0

    def decode(self, data: bytes, final: bool = False) -> str:
        pending = len(self._decoder.getstate()[0])
        before = self.bytes_in
        self.bytes_in += len(data)
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            offset = before - pending + exc.start
            hint = "; name its encoding (--encoding), e.g. latin-1"
            raise InputError(
                f"input is not valid {self.encoding} at byte offset {offset}{hint}"
            ) from exc
        except UnicodeError as exc:  # UTF-16/32 without a byte-order mark
            raise InputError(
                f"input is not valid {self.encoding} (no byte-order mark); name its byte "
                "order (--encoding utf-16-le or utf-16-be)"
            ) from exc
        nul = text.find("\x00")
        if nul != -1:
            offset = before - pending + len(text[:nul].encode(self.encoding))
            raise InputError(
                f"input looks binary (NUL byte at byte offset {offset}), not text; "
                "if it is UTF-16 text, name its encoding (--encoding utf-16)"
            )
        return text


class Encoder:
    """Encodes output text in the input's encoding; a value it cannot hold is an error."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._encoder = codecs.getincrementalencoder(encoding)(errors="strict")
        self._utf8 = encoding == "utf-8"
        self.bytes_out = 0

    def encode(self, text: str, explain: Callable[[], list[str]] | None = None) -> bytes:
        """``explain`` lists the placeholders whose values may be at fault, for the message."""
        return self._encode(text, False, explain)

    def finish(self, explain: Callable[[], list[str]] | None = None) -> bytes:
        """The bytes an encoder holds back until the end of the text (idna keeps the last
        label); call once, after the last ``encode``."""
        return b"" if self._utf8 else self._encode("", True, explain)

    def _encode(self, text: str, final: bool, explain: Callable[[], list[str]] | None) -> bytes:
        try:
            data = text.encode("utf-8") if self._utf8 else self._encoder.encode(text, final)
        except UnicodeEncodeError as exc:
            raise InputError(
                f"a restored value cannot be written in {self.encoding}, the input's encoding"
                + _naming(explain() if explain else [])
            ) from exc
        except UnicodeError as exc:  # a codec's own rule, e.g. an idna label over 63 characters
            raise InputError(
                f"the restored text cannot be written in {self.encoding}, the input's encoding"
            ) from exc
        self.bytes_out += len(data)
        return data


def _naming(placeholders: list[str]) -> str:
    names = sorted(placeholders)[:5]
    return f" (one of {', '.join(names)})" if names else ""
