"""Every lenient form cut at every position gives what restoring it whole gives.

Exhaustive, not random: each form of ``docs/restore.md`` (and the near misses next to it), in a
few contexts (a backslash, CRLF, CJK and multi-byte text before it; a digit, a link destination
or a backslash after it), is cut

- into two stream chunks at every character, and into single characters (``StreamRestorer``),
- by a file's reads so that the region's cut falls on every character (``restore_bytes``), and
  by reads of 1..8 bytes (multi-byte characters split mid-character),
- by the reads of a pipe at every byte, and one byte at a time (``restore_stream(live=True)``,
  the CLI's ``restore -``),

in strict and lenient mode; output and report must equal the whole restore's.
"""

from __future__ import annotations

import dataclasses
import io

import pytest
from test_lenient import FORMS, MAP

from vault.placeholders import Matcher, invert_map
from vault.restore import RestoreOptions, RestoreReport, restore_bytes, restore_text
from vault.restore._engine import restore_stream
from vault.restore._stream import StreamRestorer

RESOLVER = invert_map(MAP, "job")
# More forms: every opener and closer of the lenient grammar, CRLF and multi-byte characters.
EXTRA = [
    ("html &lsqb;", "&lsqb;PERSON_NAME_1&rsqb;"),
    ("html hex, lower case", "&#x5b;person_name_10&#x5d;"),
    ("html &LT;", "&LT;PERSON_NAME_1&GT;"),
    ("full-width, padded", "［ PERSON_NAME_1 ］"),
    ("curly, padded", "{ PERSON_NAME_1 }"),
    ("bare, CRLF wrap", "PERSON_\r\nNAME_1"),
    ("CRLF for a space", "[PERSON\r\nNAME 1]"),
    ("markdown, CRLF", "\\[PERSON\\_NAME\r\n1\\]"),
    ("bare after CRLF escape", "\\r\\nPERSON_NAME_10"),
    ("glued to CJK, full-width", "城PERSON_NAME_1］"),
    ("exact", "[PERSON_NAME_1]"),
    ("exact, link", "[PERSON_NAME_10](https://x.example)"),
    ("exact after a backslash", "\\[PERSON_NAME_1]"),
    ("escaped link", "\\[PERSON_NAME_1\\](mailto:a@b)"),
    ("unknown number", "[PERSON_NAME_99]"),
    ("bare, longer number", "PERSON_NAME_100"),
    ("one-word label, bare", "DATE_4"),
    ("prose", "see note 6 below"),
    ("one-word, spaced", "[note 6]"),
    ("custom label, bare", "Project X_7"),
    ("non-breaking padding", "[\u00a0PERSON_NAME_1\u00a0]"),
    ("look-alike, full-width", "[ＰＥＲＳＯＮ_ＮＡＭＥ_1]"),
    ("look-alike, zero-width, link", "[PERSON_NAME\u200b_10](https://x.example)"),
    ("look-alike, bidi (reported)", "[PERSON_NAME_\u202e1]"),
    ("look-alike, combining (reported)", "[PERSON_NAME_1\u0301]"),
    ("look-alike, unknown number", "[PERSON_NAME_９９]"),
]
CASES = [(name, text) for name, text, _ in FORMS] + EXTRA
BEFORE = ["", "a ", "\\", "\r\n", "é", "请", "&", "[", "x"]
AFTER = ["", " ", "0", "\\", "\r\n", "(mailto:a@b)", "é", "]"]


# Each context before and after at least twice, with different partners (the whole product
# costs four times as much and found nothing more).
CONTEXTS = [(b, AFTER[i % len(AFTER)]) for i, b in enumerate(BEFORE)] + [
    (BEFORE[(i + 3) % len(BEFORE)], a) for i, a in enumerate(AFTER)
]


def texts(form: str) -> list[str]:
    return [f"{b}{form}{a}" for b, a in CONTEXTS]


def without_source(report: RestoreReport) -> RestoreReport:
    return dataclasses.replace(report, format_reason="", bytes_in=0, bytes_out=0)


@pytest.mark.parametrize("lenient", [False, True], ids=["strict", "lenient"])
@pytest.mark.parametrize(("case", "form"), CASES, ids=[c[0] for c in CASES])
def test_stream_cut_anywhere(case: str, form: str, lenient: bool) -> None:
    for text in texts(form):
        whole, report = restore_text(text, RESOLVER, lenient=lenient)
        for cut in range(len(text) + 1):
            restorer = StreamRestorer(RESOLVER, lenient=lenient)
            out = restorer.feed(text[:cut]) + restorer.feed(text[cut:]) + restorer.close()
            assert out == whole, (text, cut)
            assert without_source(restorer.report) == without_source(report), (text, cut)
        restorer = StreamRestorer(RESOLVER, lenient=lenient)  # one character at a time
        out = "".join(map(restorer.feed, text)) + restorer.close()
        assert out == whole, text
        assert without_source(restorer.report) == without_source(report), text


class _Pipe(io.RawIOBase):
    """A pipe whose reads return at most ``sizes[i]`` bytes (then the rest)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes, self._pos = data, list(sizes), 0

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        n = self._sizes.pop(0) if self._sizes else len(self._data)
        n = min(n, size) if size >= 0 else n
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    read = read1  # type: ignore[assignment]


@pytest.mark.parametrize("lenient", [False, True], ids=["strict", "lenient"])
@pytest.mark.parametrize(("case", "form"), CASES, ids=[c[0] for c in CASES])
def test_pipe_read_edge_anywhere(case: str, form: str, lenient: bool) -> None:
    options = RestoreOptions(format="text", lenient=lenient)
    for text in texts(form):
        data = text.encode()
        whole, report = restore_bytes(data, RESOLVER, options)
        for sizes in [[cut] for cut in range(1, len(data))] + [[1] * len(data)]:
            out = io.BytesIO()
            got = restore_stream(_Pipe(data, sizes), out, RESOLVER, options, live=True)
            assert out.getvalue() == whole, (text, sizes)
            assert without_source(got) == without_source(report), (text, sizes)


@pytest.mark.parametrize("lenient", [False, True], ids=["strict", "lenient"])
@pytest.mark.parametrize(("case", "form"), CASES, ids=[c[0] for c in CASES])
def test_file_region_edge_anywhere(case: str, form: str, lenient: bool) -> None:
    """A file is restored region by region, each ending ``max_span`` characters before the end
    of what was read (or before a ``[`` there): reads of ``max_span + k`` bytes put that edge
    ``k`` bytes into the text."""
    span = Matcher(RESOLVER).max_span
    for text in texts(form):
        data = text.encode() + b" lorem" * 60
        whole, report = restore_bytes(
            data, RESOLVER, RestoreOptions(format="text", lenient=lenient)
        )
        sizes = [span + k for k in range(len(text.encode()) + 2)] + list(range(1, 9))
        for size in sizes:
            options = RestoreOptions(format="text", lenient=lenient, chunk_size=size)
            out, got = restore_bytes(data, RESOLVER, options)
            assert out == whole, (text, size)
            assert got.to_dict() == report.to_dict(), (text, size)
