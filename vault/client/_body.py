"""Reading an answer's body: bounded in size, and a large base64 result decoded in place.

- ``aread_body`` reads the (decoded) body in chunks into one ``bytearray`` and
  stops with ``ResponseTooLarge`` the moment it passes the limit, so a hostile or broken server
  cannot make the client hold more than the limit (a compressed body counts decompressed).
- ``loads`` parses JSON. A status answer carries the job's file as one base64 string; parsed
  the ordinary way it exists as body bytes, decoded text, the string value and the decoded
  file at once (about 5 times the file). For a large body ``loads`` finds that string's span
  in the raw bytes at the top level, parses the rest with the span cut out, and hands the
  span on as ``Base64Span`` (a view of the body, not a copy); ``binascii.a2b_base64`` decodes
  it straight from the view. Peak: the body (4/3 of the file) plus the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from vault._dataclass import dataclass
from vault.errors import ResponseTooLarge

DEFAULT_MAX_RESPONSE = 512 * 1024 * 1024
SPLICE_FROM = 1024 * 1024  # bodies smaller than this are parsed the ordinary way

# A JSON string (the unrolled form: linear, no nested repetition) or a bracket.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]]', re.S)
_SPACE = b" \t\r\n"


@dataclass(frozen=True)
class Base64Span:
    """The raw bytes of a JSON string value (without its quotes, free of escapes)."""

    data: memoryview


def _too_large(what: str, limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"{what}: the answer is larger than the {limit / 1024 / 1024:g} MiB allowed "
        "(--max-response); nothing was stored"
    )


def expected_size(headers: Mapping[str, str]) -> int | None:
    """The body's decoded size when the headers promise it (a Content-Length and no
    Content-Encoding), else None."""
    if headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
        return None
    try:
        size = int(headers.get("content-length", ""))
    except ValueError:
        return None
    return size if size >= 0 else None


class _Body:
    """The body being read: allocated once at its promised size when known (a growing
    bytearray over-allocates by an eighth, which a 64 MiB answer notices)."""

    def __init__(self, limit: int, what: str, expected: int | None) -> None:
        if expected is not None and expected > limit:
            raise _too_large(what, limit)
        self.limit, self.what = limit, what
        self.data = bytearray(expected) if expected else bytearray()
        self.exact = bool(expected)
        self.filled = 0

    def add(self, chunk: bytes) -> None:
        end = self.filled + len(chunk)
        if end > self.limit:
            raise _too_large(self.what, self.limit)
        if self.exact and end <= len(self.data):
            self.data[self.filled : end] = chunk
        else:
            del self.data[self.filled :]  # more than promised: grow as usual
            self.data += chunk
            self.exact = False
        self.filled = end

    def done(self) -> bytearray:
        del self.data[self.filled :]  # less than promised (httpx refuses that anyway)
        return self.data


async def aread_body(
    chunks: AsyncIterator[bytes], limit: int, what: str, expected: int | None = None
) -> bytearray:
    body = _Body(limit, what, expected)
    async for chunk in chunks:
        body.add(chunk)
    return body.done()


def _skip_space(body: bytearray, pos: int) -> int:
    while pos < len(body) and body[pos] in _SPACE:
        pos += 1
    return pos


def _top_level_string(body: bytearray, key: bytes) -> tuple[int, int] | None:
    """The span (inside the quotes) of the first top-level string value under ``key``
    (given with its quotes), or None. Only tokenizes: validity is left to ``json.loads``."""
    depth = 0
    for match in _TOKEN.finditer(body):
        start, end = match.span()
        first = body[start]
        if first in b"{[":
            depth += 1
        elif first in b"}]":
            depth -= 1
        elif depth == 1 and end - start == len(key) and body[start:end] == key:
            colon = _skip_space(body, end)
            if colon < len(body) and body[colon] == ord(":"):
                value = _skip_space(body, colon + 1)
                string = _TOKEN.match(body, value)
                if string is not None and body[value] == ord('"'):
                    v_start, v_end = string.span()
                    if body.find(b"\\", v_start, v_end) != -1:  # escapes: leave them to json
                        return None
                    return v_start + 1, v_end - 1
    return None


def loads(body: bytearray, *, big_string: str | None = None, splice_from: int = SPLICE_FROM) -> Any:
    """The body's JSON; with ``big_string``, a large top-level string under that key comes back
    as ``Base64Span`` (see the module docstring). ``ValueError``/``RecursionError`` when the
    body is not JSON."""
    if big_string is None or len(body) < splice_from:
        return json.loads(body)
    span = _top_level_string(body, json.dumps(big_string).encode())
    if span is None:
        return json.loads(body)
    start, end = span
    rest = body[: start - 1] + b"null" + body[end + 1 :]
    data = json.loads(rest)
    del rest
    if isinstance(data, dict) and big_string in data and data[big_string] is None:
        data[big_string] = Base64Span(memoryview(body)[start:end])
    return data
