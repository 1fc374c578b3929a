"""The restore engine's fast paths give what the plain paths give: outputs, reports, positions.

Every speed rule in ``docs/restore.md`` ("Performance") is checked here against a slower form of
the same computation over random inputs: texts made of placeholders, near misses and the mangled
forms strict mode reports, cut by random read sizes (so that every chunk edge falls everywhere),
restored whole and in pieces; the report's per-type totals against ``placeholder_type`` one by
one; the count of unused entries against the list.
"""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.placeholders import Matcher, _matcher, invert_map, placeholder_type
from vault.restore import RestoreOptions, restore_bytes, restore_text
from vault.restore._csvfmt import CsvProcessor
from vault.restore._formats import CsvDialect
from vault.restore._report import by_type

MAP = {
    "John Doe": "[PERSON_NAME_1]",
    "Jane Roe": "[PERSON_NAME_12]",
    "Zoë Ünal": "[PERSON_NAME_3]",
    "a@b.example": "[EMAIL_ADDRESS_4]",
    "Main St 1": "[ADDRESS_5]",
    'Say "hi", \\ ok': "[NOTE_6]",
    "": "[EMPTY_7]",
}
RESOLVER = invert_map(MAP, "job-1")

# Pieces of text that matter at a chunk edge: hits, near misses, every mangled form strict mode
# reports (bare, other brackets, escapes, wraps, padding), links, multibyte characters, CRLF.
FRAGMENTS = [
    *MAP.values(),
    "[PERSON_NAME_99]",
    "[Your Name]",
    "PERSON_NAME_1",
    "person_name_12",
    "<PERSON_NAME_1>",
    "{EMAIL_ADDRESS_4}",
    "［PERSON_NAME_3］",
    "&#91;PERSON_NAME_1&#93;",
    "\\[PERSON_NAME_12\\]",
    "\\[PERSON_NAME_1]",
    "[ PERSON_NAME_1 ]",
    "[PERSON_NAME_\n1]",
    "[PERSON\r\nNAME_1]",
    "PERSON_NAME_\n12",
    "[PERSON_NAME_1](mailto:x@y.example)",
    "[PERSON_NAME_1](",
    "](",
    "[",
    "]",
    "_1",
    "\\",
    "x" * 40,
    "é",
    "€",
    "𝄞",
    "\r\n",
    "\n",
    " ",
    "word",
    "file_2.txt",
]


@st.composite
def texts(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(FRAGMENTS), max_size=60))
    filler = draw(st.integers(0, 400))
    # long stretches of plain text move the cuts (max_span from the end of each read) around
    return ("lorem ipsum " * (filler // 12)).join(
        ["".join(pieces[i : i + 7]) for i in range(0, len(pieces), 7)] or [""]
    )


def _restore(data: bytes, chunk: int, lenient: bool) -> tuple[bytes, dict[str, object]]:
    options = RestoreOptions(format="text", lenient=lenient, chunk_size=chunk)
    out, report = restore_bytes(data, RESOLVER, options)
    return out, report.to_dict()


@settings(max_examples=300, deadline=None)
@given(texts(), st.integers(1, 700), st.booleans())
def test_read_sizes_change_neither_output_nor_report(text: str, chunk: int, lenient: bool) -> None:
    data = text.encode("utf-8")
    whole = _restore(data, 1 << 20, lenient)
    assert _restore(data, chunk, lenient) == whole
    # restore_text goes straight to the matcher: the same again
    out, report = restore_text(text, RESOLVER, lenient=lenient)
    assert (out.encode("utf-8"), report.to_dict()) == whole


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 100, 1 << 20])
def test_regression_a_mangled_token_across_reads_is_reported_once(chunk: int) -> None:
    """Found by the property above: read one byte at a time, strict mode reported
    ``<PERSON_NAME_1>`` with the region it crossed, then the bare ``PERSON_NAME_1`` inside it
    again with the next region (whose scan started inside the token)."""
    text = "]\r\n<PERSON_NAME_1>[PERSON_NAME_1]é" + "lorem ipsum " * 30 + "[PERSON_NAME_1]"
    out, report = restore_bytes(
        text.encode(), RESOLVER, RestoreOptions(format="text", chunk_size=chunk)
    )
    assert [(u.placeholder, u.line, u.column) for u in report.unresolved] == [
        ("<PERSON_NAME_1>", 2, 1)
    ]
    assert out.count(b"John Doe") == 2


def test_regression_lenient_markdown_escape_across_a_read_edge() -> None:
    """Found by the property above in lenient mode: with less than ``max_span`` read, the
    region's end was computed from a negative index (``rfind`` reads it from the end), so a
    region ended between the backslash and the bracket of ``\\[PERSON_NAME_12\\]`` before the
    token was read whole, and the next region restored it from its "[" on, escapes left."""
    text = (
        "[ADDRESS_5]"
        + "[PERSON_NAME_1]" * 6
        + "(mailto:x@y.example)"
        + "lorem ipsum " * 6
        + "x" * 40
        + "\\[PERSON_NAME_12\\]"
    )
    assert _restore(text.encode(), 65, True) == _restore(text.encode(), 1 << 20, True)


@given(st.text(alphabet="[]\\ab", max_size=600), st.integers(0, 600))
def test_a_region_keeps_max_span_characters_back(buffer: str, start: int) -> None:
    """The rule behind the regression above: a region that is not the last ends at least
    ``max_span`` characters before the end of what was read (so a token that begins before
    its end is whole in the buffer), or nothing is restored yet."""
    matcher = _matcher.Matcher(RESOLVER, lenient=True)
    start = min(start, len(buffer))
    _, end = matcher.restore_span(buffer, start, False, 0)
    assert end == start or len(buffer) - end >= matcher.max_span


def test_a_chunk_edge_inside_a_placeholder_never_wakes_the_lenient_scanner() -> None:
    """A strict run over text with nothing mangled never builds the lenient index (a pass over
    the whole map), wherever the reads cut the placeholders."""
    big = {f"Person {i}": f"[PERSON_NAME_{i}]" for i in range(1, 2001)}
    resolver = invert_map(big, "big")
    rng = random.Random(7)
    words = ["the", "report", "of", *big.values()]
    text = " ".join(rng.choice(words) for _ in range(30_000))
    for chunk in (997, 4096, 65_536):
        built: list[int] = []
        original = _matcher.Matcher._report_mangled

        def spy(self: _matcher.Matcher, *args: object, **kwargs: object) -> None:
            built.append(1)
            original(self, *args, **kwargs)  # type: ignore[arg-type]

        _matcher.Matcher._report_mangled = spy  # type: ignore[method-assign]
        try:
            out, report = restore_bytes(
                text.encode(), resolver, RestoreOptions(format="text", chunk_size=chunk)
            )
        finally:
            _matcher.Matcher._report_mangled = original  # type: ignore[method-assign]
        assert built == [], f"read size {chunk}: the lenient scanner ran on clean text"
        assert report.unresolved_count == 0
        assert b"[PERSON_NAME_" not in out


keys = st.text(alphabet="[]Ab_1²١ \n", max_size=12) | st.builds(
    "[{}_{}]".format, st.sampled_from(["A", "PERSON_NAME", "_", "x_", "A1"]), st.integers(0, 999)
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, st.integers(1, 5), max_size=12))
def test_per_type_totals_equal_placeholder_type_one_by_one(counts: dict[str, int]) -> None:
    expected: dict[str, int] = {}
    for placeholder, n in counts.items():
        kind = placeholder_type(placeholder)
        expected[kind] = expected.get(kind, 0) + n
    got = by_type(counts)
    assert got == expected
    assert list(got) == list(expected)  # first-seen order, as before


@settings(max_examples=100, deadline=None)
@given(texts(), st.booleans())
def test_unused_count_is_the_length_of_the_unused_list(text: str, lenient: bool) -> None:
    _, report = restore_text(text, RESOLVER, lenient=lenient)
    assert report.unused_count == len(report.unused)
    assert list(report.unused) == [p for p in RESOLVER.originals if p not in report.restored_counts]
    summary = "\n".join(report.summary())
    if report.unused:
        assert f"{len(report.unused)} map entr" in summary
    else:
        assert "not used" not in summary


def test_report_figures_are_built_when_first_read() -> None:
    big = {f"Person {i}": f"[PERSON_NAME_{i}]" for i in range(1, 5001)}
    _, report = restore_text("[PERSON_NAME_7] and [PERSON_NAME_7]", invert_map(big, "b"))
    assert "unused" not in report.__dict__ and "restored_by_type" not in report.__dict__
    assert report.unused_count == 4999
    assert "unused" not in report.__dict__  # counted without listing
    assert report.restored_by_type == {"PERSON_NAME": 2}
    assert len(report.unused) == 4999 and report.unused[0] == "[PERSON_NAME_1]"
    assert "Person" not in repr(report)  # the map's keys view is not shown
    assert io.StringIO(str(report.to_dict())).read().count("Person") == 0


# -- CSV: the record path's split in two steps ---------------------------------------------------

CSV_ALPHABET = ['"', '""', ",", ";", "\t", "\r\n", "\n", "\r", "[", "]", "a", " ", "é", "x" * 30]


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    pieces = draw(
        st.lists(st.sampled_from([*CSV_ALPHABET, *MAP.values(), '"[NOTE_6], x"']), max_size=80)
    )
    return "".join(pieces)


@settings(max_examples=400, deadline=None)
@given(csv_texts(), st.sampled_from([",", ";", "\t"]), st.sampled_from(['"', "'"]))
def test_csv_split_without_quotes_equals_the_split_with_both_alternatives(
    text: str, delimiter: str, quote: str
) -> None:
    import re

    from vault.placeholders import Matcher
    from vault.restore._csvfmt import CsvProcessor
    from vault.restore._formats import CsvDialect

    text = text.replace('"', quote)
    processor = CsvProcessor(
        Matcher(RESOLVER, links=False), CsvDialect(delimiter, quote), neutralize=False
    )
    seps = re.escape(delimiter) + r"\r\n"
    qe = re.escape(quote)
    width = processor.matcher.candidate_length
    one = re.compile(
        rf"({qe}(?<![^{seps}]{qe})(?:[^{qe}]++|{qe}{qe})*+{qe}|\[[^\[\]\r\n{qe}]{{1,{width}}}\])"
    )
    assert processor._split(text) == one.split(text)
    if quote not in text:  # the record path then splits out the candidates alone
        assert processor._split_candidates(text) == one.split(text)


@settings(max_examples=200, deadline=None)
@given(csv_texts(), st.integers(1, 64))
def test_csv_read_sizes_change_neither_output_nor_report(text: str, chunk: int) -> None:
    data = text.encode("utf-8")
    options = RestoreOptions(format="csv", chunk_size=1 << 20)
    whole, report = restore_bytes(data, RESOLVER, options)
    small = RestoreOptions(format="csv", chunk_size=chunk)
    out, report_small = restore_bytes(data, RESOLVER, small)
    assert out == whole
    assert report_small.to_dict() == report.to_dict()


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 7, 64, 1 << 20])
def test_regression_bracket_debris_after_a_mangled_token_is_not_a_second_token(chunk: int) -> None:
    """Found by the read-size property: read whole, the text below once reported a second,
    overlapping mangled token at 1:2 (found 3) where 3-byte reads reported one (found 2)."""
    text = "<PERSON_NAME_1>](](]([" + "x" * 80 + "lorem ipsum " * 11 + "[PERSON_NAME_1]"
    data = text.encode("utf-8")
    whole = _restore(data, 1 << 20, False)
    assert _restore(data, chunk, False) == whole
    assert whole[1]["found"] == 2


# "y" * 60 twice makes a bracketed text longer than the longest candidate (100 characters)
SPLIT_PIECES = ["a", " ", "\n", "\r", '"', "[", "]", "[S_1]", "[[S_1]]", "_1", "[a\nb]", "y" * 60]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(SPLIT_PIECES), max_size=40))
def test_loose_candidate_split_equals_the_exact_split(pieces: list[str]) -> None:
    text = "".join(pieces)
    resolver = invert_map({"Ann": "[S_1]"}, "split")
    matcher = Matcher(resolver)
    assert matcher._split_candidates(text) == matcher._split(text)
    table = CsvProcessor(Matcher(resolver, links=False), CsvDialect(), neutralize=False)
    assert table._split_candidates(text) == table._split_exact(text)


def test_regression_a_text_restore_never_builds_the_original_to_placeholder_table() -> None:
    """``Resolver.placeholder_of`` is a pass over the whole map (12-19 ms at 100,000
    entries); only CSV counts originals and needs it. The report of a text run used to ask
    for it anyway."""
    mapping = {f"Person {i}": f"[PERSON_{i}]" for i in range(50)}
    resolver = invert_map(mapping, "j")
    out, report = restore_text("[PERSON_1] and [PERSON_2], [PERSON_1] [NOPE_1]", resolver)
    assert out == "Person 1 and Person 2, Person 1 [NOPE_1]"
    assert report.log_counts()["restored:PERSON"] == 3 and report.unused_count == 48
    report.summary(), report.to_dict()
    assert "placeholder_of" not in resolver.__dict__  # the cached_property never ran
    data, csv_report = restore_bytes(
        b"a,b\r\n[PERSON_1],x\r\n", resolver, RestoreOptions(format="csv")
    )
    assert data == b"a,b\r\nPerson 1,x\r\n" and csv_report.restored == 1
