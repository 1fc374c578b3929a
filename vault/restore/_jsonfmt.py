"""Restoring inside JSON and JSON Lines: originals go into strings JSON-escaped.

Only the insides of string literals are restored, each original escaped the way ``json.dumps``
escapes it (quotes, backslashes, control characters; other characters kept as they are), so a
valid document stays valid. Everything else is copied unchanged. A placeholder outside any
string (``{"a": [PERSON_NAME_1]}``, not valid JSON) is left alone and reported as unresolved,
reason ``outside-string``.

A string written with escapes is matched on its decoded text, so a placeholder written with
``\\u`` escapes (``\\u005bPERSON_NAME_1\\u005d``) is restored; only the escaped placeholder's
own characters are replaced, every other escape stays as written.
"""

from __future__ import annotations

import json
import re

from vault.placeholders import LOOKALIKE_OPENING, Matcher


def json_escape(value: str) -> str:
    """``value`` as it is written inside a JSON string literal.

    U+2028 and U+2029 are escaped too: valid JSON either way, but line-splitting readers of
    JSON Lines (and JavaScript before ES2019) break on them raw.
    """
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    if "\u2028" in escaped or "\u2029" in escaped:
        escaped = escaped.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return escaped


_PIECE = re.compile(r"\\u[0-9a-fA-F]{4}|\\.|[^\\]+", re.DOTALL)
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def _decode(source: str) -> tuple[str, list[int]]:
    """A JSON string's inside decoded, and the source offset of each decoded character (plus
    the end). Lone or bad escapes decode to themselves."""
    chars: list[str] = []
    starts: list[int] = []
    for piece in _PIECE.finditer(source):
        text, at = piece.group(), piece.start()
        if text[0] != "\\":
            chars.append(text)
            starts.extend(range(at, at + len(text)))
        elif text[1:2] == "u" and len(text) == 6:
            chars.append(chr(int(text[2:], 16)))
            starts.append(at)
        else:
            chars.append(_SIMPLE.get(text[1:], text[1:]))
            starts.append(at)
    starts.append(len(source))
    return "".join(chars), starts


class JsonProcessor:
    """Restores a growing JSON or JSON Lines buffer string by string."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        width = matcher.candidate_length
        self._width = width + 2
        # A string with no "[" (nor a square-bracket look-alike, reported) comes back
        # unchanged; one with a \u escape may hide a placeholder.
        string_clean = rf'"(?:[^"\\\[{LOOKALIKE_OPENING}]++|\\[^u])*+"'
        self._string = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL).match
        self._candidate = re.compile(rf'\[[^\[\]\n"]{{1,{width}}}\]').match
        self._key_after = re.compile(r"[ \t\r\n]*:").match  # a string that is an object key
        self.keys_restored = 0  # object keys a placeholder was restored in (a warning)
        self._skip: list[re.Pattern[str]] = []
        for final in (False, True):
            # A '[' outside strings stops the skipping only when a placeholder may start there.
            tail = "" if final else r"|\Z"
            bracket = rf'\[(?![^\[\]\n"]{{0,{width}}}(?:_\d{{1,18}}\]{tail}))'
            strings = "" if matcher.lenient else f"|{string_clean}"
            self._skip.append(re.compile(rf'(?:[^"\[]++|{bracket}{strings})*+', re.DOTALL))

    def _escaped_string(self, raw: str, offset: int) -> str:
        """Restore a string literal that holds escapes, matching on its decoded text."""
        closed = len(raw) >= 2 and raw.endswith('"')
        inside = raw[1:-1] if closed else raw[1:]
        decoded, starts = _decode(inside)
        spans = self.matcher.spans(decoded, offset + 1)
        if not spans:
            return raw
        pieces = ['"']
        last = 0
        for begin, end, value in spans:
            pieces.append(inside[last : starts[begin]])
            pieces.append(json_escape(value))
            last = starts[end]
        pieces.append(inside[last:])
        pieces.append('"' if closed else "")
        return "".join(pieces)

    def process(self, buffer: str, start: int, final: bool, base: int) -> tuple[str, int]:
        skip = self._skip[final].match
        matcher = self.matcher
        pieces: list[str] = []
        pos = last = start
        n = len(buffer)
        while True:
            skipped = skip(buffer, pos)
            pos = skipped.end() if skipped else pos
            if pos >= n:
                break
            if buffer[pos] == '"':
                match = self._string(buffer, pos)
                if match is None:
                    if not final:
                        break  # the string goes on in the next chunk
                    end = n  # a string left open at the end of the input
                else:
                    end = match.end()
                raw = buffer[pos:end]
                if "\\" in raw:
                    new = self._escaped_string(raw, base + pos)
                else:
                    new = matcher.sub(raw, base + pos, json_escape)
                if new != raw:
                    if self._key_after(buffer, end) is not None:
                        self.keys_restored += 1
                    pieces.append(buffer[last:pos])
                    pieces.append(new)
                    last = end
                pos = end
                continue
            candidate = self._candidate(buffer, pos)
            if candidate is None:
                if not final and n - pos <= self._width:
                    break  # more input may complete it
                pos += 1
                continue
            token = candidate.group()
            if matcher.looks_like_candidate(token):
                matcher.tally.add_unresolved(token, base + pos, "outside-string")
                pos = candidate.end()
            else:
                pos += 1
        pieces.append(buffer[last:pos])
        return "".join(pieces), pos
