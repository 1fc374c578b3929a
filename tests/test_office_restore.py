"""Restoring inside DOCX and XLSX files and out of PDFs: read back by independent readers
(python-docx, openpyxl, pypdf), every untouched zip member byte for byte, placeholders split
over runs, locations of unresolved ones, and the library API."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from office_kit import (
    docx_runs,
    docx_text,
    make_docx,
    make_pdf,
    make_shared_xlsx,
    make_xlsx,
    xlsx_values,
)

from vault.errors import InputError, UnsafeDocument, UnsupportedFormat
from vault.placeholders import invert_map
from vault.restore import RestoreOptions, restore_bytes

MAP = {
    "Ann & <Bo> Smith": "[PERSON_NAME_1]",
    "ann@example.com": "[EMAIL_ADDRESS_2]",
    " padded ": "[NOTE_3]",
    '=HYPERLINK("http://x")': "[FORMULA_4]",
}
RESOLVER = invert_map(MAP, "job-1")


def restore(data: bytes, name: str, **options: object) -> tuple[bytes, object]:
    return restore_bytes(data, RESOLVER, RestoreOptions(name=name, **options))  # type: ignore[arg-type]


def raw_members(data: bytes) -> list[tuple[str, bytes]]:
    """Each member's raw bytes in the file (local header, compressed data, descriptor)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos = z.infolist()
        ends = sorted(i.header_offset for i in infos)[1:] + [z.start_dir]  # type: ignore[attr-defined]
        return [(i.filename, data[i.header_offset : e]) for i, e in zip(infos, ends)]


def assert_only_changed(before: bytes, after: bytes, changed: set[str]) -> None:
    old, new = raw_members(before), raw_members(after)
    assert [n for n, _ in old] == [n for n, _ in new]  # same members, same order
    for (name, a), (_, b) in zip(old, new):
        if name in changed:
            assert a != b, name
        else:
            assert a == b, f"{name} was not copied byte for byte"
    with zipfile.ZipFile(io.BytesIO(after)) as z:
        assert z.testzip() is None


# ------------------------------------------------------------------------------------------- DOCX


def test_docx_body_table_header_restored_keeping_formatting() -> None:
    data = make_docx(
        [
            ("Dear [PERSON", {"bold": True}),
            ("_NAME_1], write to ", {}),
            ("[EMAIL_ADDRESS_2]", {"italic": True}),
        ],
        "x[NOTE_3]y",
        header="From [PERSON_NAME_1]",
    )
    out, report = restore(data, "letter.docx")
    assert docx_runs(out)[0] == [
        ("Dear Ann & <Bo> Smith", True, None),
        (", write to ", None, None),
        ("ann@example.com", None, True),
    ]
    assert docx_text(out)[:2] == ["Dear Ann & <Bo> Smith, write to ann@example.com", "x padded y"]
    assert docx_text(out)[-1] == "From Ann & <Bo> Smith"
    assert report.restored == 4 and report.complete
    assert report.restored_by_type == {"PERSON_NAME": 2, "EMAIL_ADDRESS": 1, "NOTE": 1}
    assert_only_changed(data, out, {"word/document.xml", "word/header1.xml"})


def test_docx_leading_and_trailing_spaces_are_preserved() -> None:
    data = make_docx([("[NOTE_3]", {"bold": True}), ("tail", {})])
    out, _ = restore(data, "a.docx")
    xml = zipfile.ZipFile(io.BytesIO(out)).read("word/document.xml").decode()
    assert '<w:t xml:space="preserve"> padded </w:t>' in xml
    assert docx_runs(out)[0] == [(" padded ", True, None), ("tail", None, None)]


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=62), max_size=8),
    bold=st.lists(st.booleans(), min_size=9, max_size=9),
)
def test_placeholders_split_anywhere_over_runs_are_restored(
    cuts: list[int], bold: list[bool]
) -> None:
    text = "On [PERSON_NAME_1] and [EMAIL_ADDRESS_2], [PERSON_NAME_1]!"
    points = sorted({0, len(text), *(c for c in cuts if c < len(text))})
    pieces = [text[a:b] for a, b in zip(points, points[1:])]
    runs = [(piece, {"bold": bold[i]}) for i, piece in enumerate(pieces)]
    out, report = restore(make_docx(runs), "split.docx")
    expected = "On Ann & <Bo> Smith and ann@example.com, Ann & <Bo> Smith!"
    assert docx_text(out)[0] == expected
    assert report.restored == 3
    restored_runs = docx_runs(out)[0]
    assert len(restored_runs) == len(pieces)  # no run added or removed
    # Each original sits in the run where its placeholder started, with that run's bold.
    starts = [m.start() for m in re.finditer(r"\[", text)]
    for start in starts:
        k = max(i for i, p in enumerate(points[:-1]) if p <= start)
        assert bool(restored_runs[k][1]) == bold[k]


def test_docx_unknown_placeholders_are_located_by_part_and_paragraph() -> None:
    data = make_docx("fine", "who is [PERSON_NAME_9]?", header="[ZIP_CODE_7]")
    out, report = restore(data, "a.docx")
    assert report.unresolved_count == 2
    assert [(u.placeholder, u.location) for u in report.unresolved] == [
        ("[PERSON_NAME_9]", "word/document.xml paragraph 2"),
        ("[ZIP_CODE_7]", "word/header1.xml paragraph 1"),
    ]
    assert report.to_dict()["unresolved"][0]["location"] == "word/document.xml paragraph 2"
    assert "[PERSON_NAME_9] at word/document.xml paragraph 2" in report.summary()[1]
    assert out == data  # nothing restored: every member copied


def test_docx_lenient_repairs_bracketed_forms() -> None:
    data = make_docx("[person name 1] and ［EMAIL_ADDRESS_2］")
    out, report = restore(data, "a.docx", lenient=True)
    assert docx_text(out)[0] == "Ann & <Bo> Smith and ann@example.com"
    assert report.repaired == 2


# ------------------------------------------------------------------------------------------- XLSX

INLINE_SHEET = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<sheetData>"
    '<row r="1"><c r="A1" t="inlineStr"><is><r><rPr><b/></rPr><t>[PERSON_</t></r>'
    "<r><t>NAME_1] ok</t></r></is></c>"
    '<c r="B1"><f>SUM(C1:C2)</f><v>3</v></c></row>'
    '<row r="7"><c r="B7" t="inlineStr"><is><t>[PERSON_NAME_99]</t></is></c></row>'
    "</sheetData></worksheet>"
)


def with_member(data: bytes, name: str, content: bytes | str) -> bytes:
    """The package with member ``name`` replaced (or added at the end)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info, content if info.filename == name else src.read(info.filename))
        if name not in src.namelist():
            z.writestr(name, content)
    return out.getvalue()


def test_xlsx_shared_strings_restored_numbers_and_formulas_untouched() -> None:
    data = make_shared_xlsx(
        {
            "Sheet1": [["[PERSON_NAME_1]", 42], ["mail [EMAIL_ADDRESS_2]", "=B1*2"]],
            "My sheet": [[], [], [None, None, "[NOTE_3]"]],
        }
    )
    out, report = restore(data, "book.xlsx")
    assert xlsx_values(out) == {
        "Sheet1": {"A1": "Ann & <Bo> Smith", "A2": "mail ann@example.com", "B1": 42, "B2": "=B1*2"},
        "My sheet": {"C3": " padded "},
    }
    assert report.format == "xlsx" and report.restored == 3 and report.complete
    assert_only_changed(data, out, {"xl/sharedStrings.xml"})


def test_xlsx_inline_strings_restored_as_openpyxl_writes_them() -> None:
    data = make_xlsx(
        {"Sheet1": {"A1": "[PERSON_NAME_1]", "B1": 42, "B2": "=B1*2"}, "Two": {"C3": "[NOTE_3]"}}
    )
    out, report = restore(data, "book.xlsx")
    assert xlsx_values(out) == {
        "Sheet1": {"A1": "Ann & <Bo> Smith", "B1": 42, "B2": "=B1*2"},
        "Two": {"C3": " padded "},
    }
    assert report.restored == 2
    assert_only_changed(data, out, {"xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"})


def test_xlsx_rich_text_runs_and_unknown_inline_cells_located() -> None:
    data = with_member(make_xlsx({"Sheet1": {"Z9": "x"}}), "xl/worksheets/sheet1.xml", INLINE_SHEET)
    out, report = restore(data, "book.xlsx")
    values = xlsx_values(out)["Sheet1"]
    assert values["A1"] == "Ann & <Bo> Smith ok"
    assert values["B1"] == "=SUM(C1:C2)"
    assert [(u.placeholder, u.location) for u in report.unresolved] == [
        ("[PERSON_NAME_99]", "Sheet1!B7")
    ]
    assert_only_changed(data, out, {"xl/worksheets/sheet1.xml"})


def test_xlsx_unknown_shared_string_is_located_at_its_cell() -> None:
    data = make_shared_xlsx({"Data 2024": [["x"], [], [], [], [], [], [None, "[PERSON_NAME_9]"]]})
    _, report = restore(data, "book.xlsx")
    assert [u.location for u in report.unresolved] == ["'Data 2024'!B7"]


@pytest.mark.parametrize("neutralize", [False, True])
def test_xlsx_formula_like_values_stay_text(neutralize: bool) -> None:
    data = make_shared_xlsx(
        {"S": [["[FORMULA_4]"], ["-[EMAIL_ADDRESS_2]"], ["=1+1"], ["ok [NOTE_3]"]]}
    )
    out, report = restore(data, "book.xlsx", neutralize_formulas=neutralize)
    values = xlsx_values(out)["S"]
    prefix = "'" if neutralize else ""
    assert values["A1"] == prefix + '=HYPERLINK("http://x")'
    assert values["A2"] == prefix + "-ann@example.com"
    assert values["A3"] == "=1+1"  # a real formula is never touched
    assert values["A4"] == "ok  padded "
    assert report.neutralized == (2 if neutralize else 0)
    sheet = zipfile.ZipFile(io.BytesIO(out)).read("xl/worksheets/sheet1.xml").decode()
    assert sheet.count('t="s"') == 3  # restored cells are still strings, never formulas


def test_neutralize_formulas_is_refused_for_docx() -> None:
    with pytest.raises(InputError, match="applies to CSV and XLSX only"):
        restore(make_docx("x"), "a.docx", neutralize_formulas=True)


# -------------------------------------------------------------------------------------------- PDF


def test_pdf_restores_to_text_pages_separated_in_order() -> None:
    data = make_pdf(
        "Page one for [PERSON_NAME_1].\nSecond line.", "Mail [EMAIL_ADDRESS_2] or [X_9]."
    )
    out, report = restore(data, "scan.pdf", to="text")
    pages = out.decode().split("\f")
    assert pages[0] == "Page one for Ann & <Bo> Smith.\nSecond line."
    assert pages[1].startswith("Mail ann@example.com or [X_9].")
    assert report.format == "pdf" and report.restored == 2
    assert [(u.placeholder, u.location) for u in report.unresolved] == [("[X_9]", "page 2 line 1")]


def test_a_restored_pdf_is_refused_with_what_to_do() -> None:
    with pytest.raises(
        UnsupportedFormat, match=r"write the restored text instead with -o FILE.txt"
    ):
        restore(make_pdf("x [PERSON_NAME_1]"), "scan.pdf")


def _shared_stream_pdf(mib: float, pages: int) -> bytes:
    """A small file whose pages all draw one compressed content stream (a text bomb: the
    extraction would cost about 1.5 s of CPU per MiB for every page)."""
    import zlib

    line = b"BT /F1 12 Tf 72 700 Td ([PERSON_NAME_1] " + b"a" * 60 + b") Tj ET\n"
    packed = zlib.compress(line * int(mib * 2**20 / len(line)), 9)
    kids = " ".join(f"{5 + i} 0 R" for i in range(pages))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream",
    ]
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    )
    objs += [page] * pages
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


@pytest.mark.parametrize(("mib", "pages"), [(1.0, 20), (3.0, 1)])
def test_a_pdf_text_bomb_is_refused_before_any_text_is_extracted(mib: float, pages: int) -> None:
    """Every page counted, shared stream or not: 20 pages x 1 MiB, or one 3 MiB page."""
    import resource

    data = _shared_stream_pdf(mib, pages)
    assert len(data) < 64 * 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    with pytest.raises(UnsafeDocument, match="possible PDF bomb"):
        restore(data, "bomb.pdf", to="text")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_utime - before < 5  # not extracted


def test_a_pdf_within_the_bounds_still_restores() -> None:
    out, report = restore(_shared_stream_pdf(0.01, 3), "small.pdf", to="text")
    assert report.restored > 0 and b"[PERSON_NAME_1]" not in out


# ----------------------------------------------------------------------- any original, any part

XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="[]\ufffe\uffff"),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(originals=st.lists(XML_TEXT, min_size=1, max_size=4, unique=True))
def test_any_original_comes_back_exactly_in_docx_and_xlsx(originals: list[str]) -> None:
    """Escaping (& < > quotes), leading/trailing spaces and any script survive both formats."""
    mapping = {o: f"[X_{i + 1}]" for i, o in enumerate(originals)}
    resolver = invert_map(mapping, "job")
    line = " | ".join(f"<{p}>" for p in mapping.values())
    expected = " | ".join(f"<{o}>" for o in mapping)
    docx_out, _ = restore_bytes(make_docx(line), resolver, RestoreOptions(name="a.docx"))
    assert docx_text(docx_out)[0] == expected
    xlsx_out, _ = restore_bytes(
        make_shared_xlsx({"S": [[line]]}), resolver, RestoreOptions(name="a.xlsx")
    )
    assert xlsx_values(xlsx_out)["S"]["A1"] == expected


def test_footnotes_endnotes_comments_and_text_boxes_are_restored() -> None:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    part = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:footnotes {w}>'
        '<w:footnote w:id="1"><w:p><w:r><w:t>note [PERSON_NAME_1]</w:t></w:r></w:p></w:footnote>'
        "</w:footnotes>"
    ).encode()
    box = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document {w}><w:body>'
        "<w:p><w:r><w:t>[PERSON_</w:t></w:r><w:r><w:pict><w:txbxContent><w:p><w:r>"
        "<w:t>box [EMAIL_ADDRESS_2]</w:t></w:r></w:p></w:txbxContent></w:pict></w:r>"
        "<w:r><w:t>NAME_1] outer</w:t></w:r></w:p></w:body></w:document>"
    ).encode()
    data = make_docx("x")
    for name, content in (
        ("word/footnotes.xml", part),
        ("word/endnotes.xml", part.replace(b"footnote", b"endnote")),
        (
            "word/comments.xml",
            part.replace(b"footnotes", b"comments").replace(b"footnote", b"comment"),
        ),
        ("word/document.xml", box),
    ):
        data = with_member(data, name, content)
    out, report = restore(data, "a.docx")
    z = zipfile.ZipFile(io.BytesIO(out))
    for name in ("word/footnotes.xml", "word/endnotes.xml", "word/comments.xml"):
        assert b"note Ann &amp; &lt;Bo&gt; Smith" in z.read(name), name
    document = z.read("word/document.xml")
    # the text box's paragraph is its own text; the outer paragraph's runs join around it
    assert b"<w:t>box ann@example.com</w:t>" in document
    assert b"<w:t>Ann &amp; &lt;Bo&gt; Smith</w:t>" in document
    assert (
        b"<w:t> outer</w:t>" not in document
        and b'<w:t xml:space="preserve"> outer</w:t>' in document
    )
    assert report.restored == 5 and report.complete


def test_a_large_part_is_rewritten_in_bounded_memory() -> None:
    """The rewriter holds a chunk plus the largest group, never the part (a chunk boundary
    almost always falls inside some string)."""
    import tracemalloc

    from vault.documents import EXCEL_SPEC, rewrite_part

    piece = b"".join(b"<si><t>row %d of [PERSON_NAME_1]</t></si>" % i for i in range(2000))
    data = piece * 40  # ~3 MB, cut at odd places: every boundary falls inside a string

    def chunks():
        yield b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        for at in range(0, len(data), 65_537):
            yield data[at : at + 65_537]
        yield b"</sst>"

    class Sink:
        size = 0

        def write(self, data: bytes) -> None:
            self.size += len(data)

    def edit(group):
        return [t.replace("[PERSON_NAME_1]", "Ann") for t in group.texts]

    sink = Sink()
    tracemalloc.start()
    rewrite_part(chunks(), sink, EXCEL_SPEC, edit, name="big")  # type: ignore[arg-type]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sink.size > 2_000_000
    assert peak < 1_000_000, f"peak {peak} bytes for a {sink.size} byte part"
