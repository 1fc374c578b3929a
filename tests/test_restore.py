"""The restore engine on text and JSON: streaming, encodings, errors, format detection, report."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.errors import DocumentError, InputError, UnsupportedFormat
from vault.placeholders import invert_map
from vault.restore import RestoreOptions, detect_format, restore_bytes, restore_stream, restore_text

MAP = {
    "John Doe": "[PERSON_NAME_1]",
    "Jane Roe": "[PERSON_NAME_10]",
    'Say "hi"\\ \n\t\u2028': "[QUOTE_2]",
    "Zoë": "[PERSON_NAME_3]",
    "€5": "[AMOUNT_4]",
}
RESOLVER = invert_map(MAP, "job-1")


def run(data: bytes, **options) -> tuple[bytes, object]:
    return restore_bytes(data, RESOLVER, RestoreOptions(**options))


# -- text ---------------------------------------------------------------------------------------


def test_text_report_counts_types_unknowns_and_unused() -> None:
    text = "[PERSON_NAME_1] met [PERSON_NAME_10] and [PERSON_NAME_1].\nThen [PERSON_NAME_99]!"
    out, report = restore_text(text, RESOLVER)
    assert out == "John Doe met Jane Roe and John Doe.\nThen [PERSON_NAME_99]!"
    assert report.found == 4
    assert report.restored == 3
    assert dict(report.restored_by_type) == {"PERSON_NAME": 3}
    assert report.unknown == 1
    assert [(u.placeholder, u.line, u.column) for u in report.unresolved] == [
        ("[PERSON_NAME_99]", 2, 6)
    ]
    assert report.unused == ("[QUOTE_2]", "[PERSON_NAME_3]", "[AMOUNT_4]")  # map order
    assert not report.complete
    assert report.log_counts() == {
        "found": 4,
        "restored": 3,
        "repaired": 0,
        "unresolved": 1,
        "restored:PERSON_NAME": 3,
    }


def test_report_never_holds_an_original() -> None:
    text = "[PERSON_NAME_1] [QUOTE_2] [PERSON_NAME_3] [AMOUNT_4] [X_9]"
    _, report = restore_text(text, RESOLVER)
    dumped = json.dumps(report.to_dict()) + "\n".join(report.summary())
    for original in MAP:
        assert original not in dumped
        assert json.dumps(original)[1:-1] not in dumped


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 13, 64, 1 << 20])
@pytest.mark.parametrize("lenient", [False, True])
def test_placeholders_split_across_reads_are_found(chunk: int, lenient: bool) -> None:
    line = "a [PERSON_NAME_1]b[PERSON_NAME_10] Zoë? [PERSON_NAME_3][X_1] person_name_1 ü\n"
    data = (line * 5).encode()
    whole, reference = run(data, format="text", lenient=lenient, chunk_size=1 << 20)
    out, report = run(data, format="text", lenient=lenient, chunk_size=chunk)
    assert out == whole
    assert report.restored == reference.restored == (20 if lenient else 15)
    assert report.unresolved == reference.unresolved
    # strict also reports the bare person_name_1 of each line: lenient would repair it
    lines = [1, 2, 3, 4, 5] if lenient else [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [u.line for u in report.unresolved] == lines


def test_one_long_line_streams_in_bounded_pieces() -> None:
    data = ("x" * 997 + "[PERSON_NAME_1]") * 200
    out, report = run(data.encode(), format="text", chunk_size=100)
    assert out.decode() == data.replace("[PERSON_NAME_1]", "John Doe")
    assert report.restored == 200


class CountingReader(io.BytesIO):
    """Remembers the largest read, to show memory stays bounded by the chunk size."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.largest = max(self.largest, len(data))
        return data


def test_reads_stay_at_the_chunk_size() -> None:
    src = CountingReader(("[PERSON_NAME_1] " * 10_000).encode())
    out = io.BytesIO()
    report = restore_stream(src, out, RESOLVER, RestoreOptions(format="text", chunk_size=4096))
    assert src.largest <= 4096
    assert report.restored == 10_000


def test_empty_input() -> None:
    for fmt in ("auto", "text", "csv", "json", "jsonl"):
        out, report = run(b"", format=fmt)
        assert out == b""
        assert report.found == 0


# -- encodings and junk ---------------------------------------------------------------------------


def test_latin1_input_is_written_back_in_latin1() -> None:
    data = "Grüße [PERSON_NAME_3] – ".encode("cp1252") + b"\xa9 [PERSON_NAME_1]"
    out, report = run(data, format="text", encoding="cp1252")
    assert out == "Grüße Zoë – ".encode("cp1252") + b"\xa9 John Doe"
    assert report.encoding == "cp1252"


def test_non_utf8_input_names_the_byte_offset() -> None:
    data = b"ok [PERSON_NAME_1]\ncaf\xe9"
    with pytest.raises(InputError) as info:
        run(data, format="text", chunk_size=4)
    assert str(info.value) == (
        "input is not valid utf-8 at byte offset 22; name its encoding (--encoding), e.g. latin-1"
    )


def test_value_the_encoding_cannot_hold_is_named_by_placeholder() -> None:
    with pytest.raises(InputError) as info:
        run(b"price [AMOUNT_4]", format="text", encoding="latin-1")
    assert str(info.value) == (
        "a restored value cannot be written in iso8859-1, the input's encoding (one of [AMOUNT_4])"
    )
    assert "€" not in str(info.value)


def test_binary_junk_is_refused() -> None:
    with pytest.raises(InputError, match=r"input looks binary \(NUL byte at byte offset 3\)"):
        run(b"abc\x00\x01\x02", format="text")


@pytest.mark.parametrize("bom, encoding", [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")])
def test_utf16_with_bom_is_kept_byte_for_byte(bom: bytes, encoding: str) -> None:
    data = bom + "hi [PERSON_NAME_3]\r\n".encode(encoding)
    out, report = run(data, format="text")
    assert out == bom + "hi Zoë\r\n".encode(encoding)
    assert report.encoding == encoding


def test_utf8_bom_is_kept() -> None:
    out, _ = run(b"\xef\xbb\xbf[PERSON_NAME_1]\n", format="text")
    assert out == b"\xef\xbb\xbfJohn Doe\n"


@pytest.mark.parametrize(
    ("name", "head", "error", "message"),
    [
        ("report.pdf", b"%PDF-1.7\n", UnsupportedFormat, "a restored PDF cannot be written"),
        ("notes.txt", b"%PDF-1.4\n", UnsupportedFormat, "a restored PDF"),  # content wins
        ("letter.docx", b"PK\x03\x04rest", DocumentError, "not a readable zip container"),
        ("sheet.xlsx", b"anything", DocumentError, "not a readable zip container"),
        (None, b"PK\x03\x04", DocumentError, "not a readable zip container"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", UnsupportedFormat, "save the file as"),
        ("a.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", DocumentError, "password-protected"),
        ("a.odt", b"PK", UnsupportedFormat, "save the file as .docx or .xlsx"),
    ],
)
def test_documents_are_routed_by_name_and_content(
    name: str | None, head: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        run(head, name=name)


def test_unknown_encoding_and_format_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        run(b"x", encoding="klingon")
    with pytest.raises(InputError, match="unknown format 'xml'"):
        run(b"x", format="xml")
    with pytest.raises(InputError, match="--neutralize-formulas applies to CSV and XLSX only"):
        run(b"x", format="text", neutralize_formulas=True)


# -- format detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sample", "expected"),
    [
        ("a.csv", "anything", "csv"),
        ("a.TSV", "anything", "csv"),
        ("a.json", "x", "json"),
        ("a.jsonl", "x", "jsonl"),
        ("a.ndjson", "x", "jsonl"),
        ("a.md", "a,b\n1,2\n3,4\n", "text"),
        (None, '{"a": "[X_1]"}', "json"),
        (None, '[{"a": 1}, {"a": 2}]', "json"),
        (None, '{"a": 1}\n{"a": 2}\n', "jsonl"),
        (None, "[PERSON_NAME_1] wrote back.", "text"),
        (None, "[1] a footnote\n", "text"),
        (None, "id,name,city\n1,[PERSON_NAME_1],Rome\n2,x,Oslo\n", "csv"),
        (None, "id;name\n1;a\n2;b\n", "csv"),
        (None, "Dear Bob,\nthanks, really.\nBest\n", "text"),
        # prose never qualifies: one comma a line, "Name: ..." answers, "{" that is no JSON
        (None, "Hi Ann,\nYes, Bob,\nBye, Cy,\nOk, then\n", "text"),
        (None, "Name: [PERSON_NAME_1]\nEmail: [EMAIL_ADDRESS_2]\nPhone: 555\n", "text"),
        (None, "{name} is a template, not JSON\nsecond line\n", "text"),
        (None, "a, b, c\nI think, however, that we should go.\nx, y, z\n", "text"),
        (None, "| a | b |\n|---|---|\n| 1 | 2 |\n", "text"),
        (None, "a\tb\n1\t2\n3\t4\n", "csv"),
        (None, "a, b, c\n1, 2, 3\n4, 5, 6\n", "csv"),
        (None, "", "text"),
        ("notes", "just words", "text"),
    ],
)
def test_detect_format(name: str | None, sample: str, expected: str) -> None:
    assert detect_format(name, sample, True) == expected


# -- JSON -----------------------------------------------------------------------------------------


def test_json_values_are_escaped_inside_strings() -> None:
    doc = {"to": "[PERSON_NAME_1]", "note": "[QUOTE_2] / [PERSON_NAME_3]", "n": [1, 2]}
    text = json.dumps(doc, indent=1)
    out, report = restore_text(text, RESOLVER, format="json")
    assert json.loads(out) == {
        "to": "John Doe",
        "note": 'Say "hi"\\ \n\t\u2028 / Zoë',
        "n": [1, 2],
    }
    assert report.restored == 3


def test_json_placeholder_outside_strings_is_left_and_reported() -> None:
    out, report = restore_text(
        '{"a": [PERSON_NAME_1], "b": "[PERSON_NAME_1]"}', RESOLVER, format="json"
    )
    assert out == '{"a": [PERSON_NAME_1], "b": "John Doe"}'
    assert [(u.placeholder, u.column, u.reason) for u in report.unresolved] == [
        ("[PERSON_NAME_1]", 7, "outside-string")
    ]


def test_jsonl_line_by_line() -> None:
    lines = [{"q": "[PERSON_NAME_1]", "k": ["[QUOTE_2]"]}, {"q": "[X_5] [PERSON_NAME_10]"}]
    data = "".join(json.dumps(x) + "\n" for x in lines).encode()
    out, report = run(data, name="answers.jsonl", chunk_size=7)
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert rows == [{"q": "John Doe", "k": [MAP_INV["[QUOTE_2]"]]}, {"q": "[X_5] Jane Roe"}]
    assert report.format == "jsonl"
    assert [(u.placeholder, u.line) for u in report.unresolved] == [("[X_5]", 2)]


MAP_INV = {v: k for k, v in MAP.items()}


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.text(max_size=12), min_size=1, max_size=6, unique=True),
    keys=st.lists(st.text(max_size=6), min_size=1, max_size=6),
    chunk=st.integers(min_value=1, max_value=40),
)
def test_json_property_valid_in_valid_out(values: list[str], keys: list[str], chunk: int) -> None:
    mapping = {v: f"[V_{i + 1}]" for i, v in enumerate(values)}
    doc = {k: [f"<{p}>" for p in mapping.values()] for k in keys}
    anonymized = json.dumps(doc, ensure_ascii=False).encode()
    out, report = restore_bytes(
        anonymized, invert_map(mapping, "j"), RestoreOptions(format="json", chunk_size=chunk)
    )
    expected = {k: [f"<{v}>" for v in values] for k in keys}
    assert json.loads(out) == expected
    assert report.unresolved_count == 0


class Pipe(io.BytesIO):
    """A non-seekable input, like standard input: lines are counted while restoring."""

    def seekable(self) -> bool:
        return False


@pytest.mark.parametrize("chunk", [1, 4, 9, 1 << 20])
@pytest.mark.parametrize("reader", [io.BytesIO, Pipe])
def test_positions_are_the_same_from_a_pipe_or_a_file(chunk: int, reader: type) -> None:
    text = "ab\n[X_1]\n\ncd [PERSON_NAME_99] é [PERSON_NAME_1] [Y_2]\n[Z_3]"
    out = io.BytesIO()
    report = restore_stream(
        reader(text.encode()), out, RESOLVER, RestoreOptions(format="text", chunk_size=chunk)
    )
    assert [(u.placeholder, u.line, u.column) for u in report.unresolved] == [
        ("[X_1]", 2, 1),
        ("[PERSON_NAME_99]", 4, 4),
        ("[Y_2]", 4, 39),
        ("[Z_3]", 5, 1),
    ]
    assert out.getvalue().decode() == text.replace("[PERSON_NAME_1]", "John Doe")


def test_progress_reports_bytes_read() -> None:
    data = ("[PERSON_NAME_1] " * 1000).encode()
    seen: list[int] = []
    restore_stream(
        io.BytesIO(data),
        io.BytesIO(),
        RESOLVER,
        RestoreOptions(format="text", chunk_size=4096),
        progress=seen.append,
    )
    assert seen == sorted(seen) and seen[-1] == len(data) and len(seen) >= len(data) // 4096


def test_output_has_no_name_on_disk_until_commit(tmp_path) -> None:
    """A process killed before commit leaves no file holding restored plaintext (O_TMPFILE)."""
    import os

    from vault.restore import AtomicOutput

    if not hasattr(os, "O_TMPFILE"):
        import pytest

        pytest.skip("no O_TMPFILE on this system")
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    target = tmp_path / "out.txt"
    with AtomicOutput(target) as out:
        out.file.write(b"restored plaintext")
        assert list(tmp_path.iterdir()) == []
        out.commit()
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert target.read_bytes() == b"restored plaintext"
    assert target.stat().st_mode & 0o777 == 0o600
    with AtomicOutput(target) as out:
        out.file.write(b"never released")
    assert target.read_bytes() == b"restored plaintext"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
