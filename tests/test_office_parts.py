"""Placeholders outside paragraph runs and cell strings: hyperlink targets, document properties,
field codes, tracked deletions, Excel comments are restored; whatever is left anywhere in the
output (attributes, formulas, headers, parts restore does not read) is reported as unresolved
with its part, never passed silently. The oracle is independent of the code under test: every
member of the output is decoded (XML character references, percent-encoded URLs) and searched
for the map's placeholders."""

from __future__ import annotations

import html
import io
import re
import zipfile
from pathlib import Path
from urllib.parse import unquote

import docx
import pytest
from conftest import invoke
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml.shared import OxmlElement, qn
from hypothesis import given, settings
from hypothesis import strategies as st
from office_kit import make_docx, make_shared_xlsx
from test_office_cli import ENV, JOB, vault  # noqa: F401 (the fixture)
from test_office_restore import with_member

from vault.documents import PartSpec, rewrite_part
from vault.errors import UnsafeDocument
from vault.placeholders import invert_map
from vault.restore import RestoreOptions, restore_bytes

MAP = {
    "Ann & <Bo> Smith": "[PERSON_NAME_1]",
    "ann@example.com": "[EMAIL_ADDRESS_2]",
    "Zoë Müller": "[PERSON_NAME_3]",
}
RESOLVER = invert_map(MAP, "job-1")
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
PLACEHOLDER = re.compile(r"\[(?:PERSON_NAME_1|EMAIL_ADDRESS_2|PERSON_NAME_3)\]")


def restore(data: bytes, name: str, **options: object):  # type: ignore[no-untyped-def]
    return restore_bytes(data, RESOLVER, RestoreOptions(name=name, **options))  # type: ignore[arg-type]


def left_in(data: bytes) -> dict[str, int]:
    """Placeholders of the map in each member, decoded the way a reader decodes them."""
    found: dict[str, int] = {}
    z = zipfile.ZipFile(io.BytesIO(data))
    for name in z.namelist():
        text = html.unescape(z.read(name).decode("utf-8", "replace"))
        n = len(PLACEHOLDER.findall(unquote(text)))
        if n:
            found[name] = n
    return found


def document(body: str) -> bytes:
    xml = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document {W}><w:body>'
    return (xml + body + "</w:body></w:document>").encode()


def linked_docx(*targets: str) -> bytes:
    d = docx.Document()
    p = d.add_paragraph("Mail ")
    for target in targets:
        rid = d.part.relate_to(target, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
        h = OxmlElement("w:hyperlink")
        h.set(qn("r:id"), rid)
        r = OxmlElement("w:r")
        t = OxmlElement("w:t")
        t.text = "link"
        r.append(t)
        h.append(r)
        p._p.append(h)
    d.core_properties.title = "Report on [PERSON_NAME_1]"
    d.core_properties.author = "[PERSON_NAME_3]"
    d.core_properties.keywords = "[EMAIL_ADDRESS_2]"
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def test_docx_hyperlink_targets_and_properties_are_restored() -> None:
    data = linked_docx(
        "mailto:[EMAIL_ADDRESS_2]",
        "https://x.example/u/[PERSON_NAME_1]?q=1",
        "https://x.example/%5BPERSON_NAME_3%5D",
    )
    out, report = restore(data, "a.docx")
    assert report.complete and report.restored == 6, report.to_dict()
    assert left_in(out) == {}
    d = docx.Document(io.BytesIO(out))
    targets = sorted(r.target_ref for r in d.part.rels.values() if r.is_external)
    # a URL cannot hold a space, <, > or non-ASCII raw: they are percent-encoded (UTF-8);
    # what a URL may hold (& : / ? = @) stays, so an original that is a URL stays one
    assert targets == [
        "https://x.example/Zo%C3%AB%20M%C3%BCller",
        "https://x.example/u/Ann%20&%20%3CBo%3E%20Smith?q=1",
        "mailto:ann@example.com",
    ]
    props = d.core_properties
    assert (props.title, props.author, props.keywords) == (
        "Report on Ann & <Bo> Smith",
        "Zoë Müller",
        "ann@example.com",
    )


def test_docx_field_codes_and_tracked_deletions_are_restored_each_on_its_own() -> None:
    body = (
        "<w:p><w:r><w:t>a</w:t></w:r>"
        '<w:r><w:instrText xml:space="preserve"> HYPERLINK "mailto:[EMAIL_</w:instrText></w:r>'
        "<w:r><w:instrText>ADDRESS_2]&quot; </w:instrText></w:r>"
        "<w:r><w:t>[PERSON_NAME_1]</w:t></w:r>"
        '<w:del w:id="1" w:author="x"><w:r><w:delText>[PERSON_NAME_3]</w:delText></w:r></w:del>'
        "</w:p>"
    )
    out, report = restore(
        with_member(make_docx("x"), "word/document.xml", document(body)), "a.docx"
    )
    xml = zipfile.ZipFile(io.BytesIO(out)).read("word/document.xml").decode()
    assert report.complete and report.restored == 3
    assert ' HYPERLINK "mailto:ann@example.com</w:instrText>' in xml
    assert '<w:instrText xml:space="preserve">" </w:instrText>' in xml
    assert "<w:t>Ann &amp; &lt;Bo&gt; Smith</w:t>" in xml
    assert "<w:delText>Zoë Müller</w:delText>" in xml


@pytest.mark.parametrize("brk", ["<w:tab/>", "<w:br/>", "<w:cr/>"])
def test_a_tab_or_break_inside_is_not_a_placeholder(brk: str) -> None:
    """Word shows `[PERSON_<tab>NAME_1]`: text with a tab inside, not the placeholder; the
    runs on either side of it are not joined, and nothing is restored or reported."""
    body = f"<w:p><w:r><w:t>[PERSON_</w:t></w:r><w:r>{brk}<w:t>NAME_1] and [PERSON_</w:t></w:r>"
    body += "<w:r><w:t>NAME_3]</w:t></w:r></w:p>"
    out, report = restore(
        with_member(make_docx("x"), "word/document.xml", document(body)), "a.docx"
    )
    xml = zipfile.ZipFile(io.BytesIO(out)).read("word/document.xml").decode()
    assert f"<w:t>[PERSON_</w:t></w:r><w:r>{brk}<w:t>NAME_1] and Zoë Müller</w:t>" in xml
    assert report.restored == 1 and report.complete


# Places a restore does not rewrite: each must be reported, with the part, never left silently.
DOCX_LEFT = {
    "word/document.xml": document(
        '<w:p><w:fldSimple w:instr=" HYPERLINK &quot;mailto:[EMAIL_ADDRESS_2]&quot; ">'
        "<w:r><w:t>mail</w:t></w:r></w:fldSimple></w:p>"
        '<w:p><w:r><w:drawing><wp:docPr xmlns:wp="urn:wp" id="1" name="p" descr="[PERSON_NAME_1]"/>'
        "</w:drawing></w:r></w:p>"
    ),
    "word/comments.xml": (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<w:comments {W}>'
        '<w:comment w:id="0" w:author="[PERSON_NAME_3]" w:initials="ZM">'
        "<w:p><w:r><w:t>see [PERSON_NAME_1]</w:t></w:r></w:p></w:comment></w:comments>"
    ).encode(),
    "customXml/item1.xml": b"<root><who>&#91;PERSON_NAME_1&#93;</who></root>",
}


def test_every_placeholder_left_in_a_docx_is_reported_with_its_part() -> None:
    data = make_docx("Dear [PERSON_NAME_1]")
    for name, content in DOCX_LEFT.items():
        data = with_member(data, name, content)
    out, report = restore(data, "a.docx")
    left = left_in(out)
    assert sum(left.values()) == report.unresolved_count == 4, (left, report.to_dict())
    where = sorted(u.location for u in report.unresolved)
    assert where == [
        "customXml/item1.xml who",
        "word/comments.xml comment@author",
        "word/document.xml docPr@descr",
        "word/document.xml fldSimple@instr",
    ]
    assert {u.reason for u in report.unresolved} == {"outside-text"}
    assert not report.complete
    comments = zipfile.ZipFile(io.BytesIO(out)).read("word/comments.xml")
    assert b"<w:t>see Ann &amp; &lt;Bo&gt; Smith</w:t>" in comments


def xlsx_with_parts() -> bytes:
    data = make_shared_xlsx({"S": [["[PERSON_NAME_1]", 7]]})
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    comments = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<comments {ns}><authors>'
        "<author>[PERSON_NAME_3]</author></authors><commentList>"
        '<comment ref="A1" authorId="0"><text><r><t>ask [PERSON_</t></r><r><rPr><b/></rPr>'
        "<t>NAME_1]</t></r></text></comment></commentList></comments>"
    ).encode()
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    sheet = sheet.replace(
        "</sheetData>",
        '<row r="3"><c r="B3" t="str"><f>"Hi "&amp;"[PERSON_NAME_1]"</f><v>Hi</v></c></row>'
        "</sheetData>",
    )
    sheet = sheet.replace(
        "</worksheet>",
        "<headerFooter><oddHeader>&amp;L[EMAIL_ADDRESS_2]</oddHeader></headerFooter></worksheet>",
    )
    data = with_member(data, "xl/comments1.xml", comments)
    data = with_member(data, "xl/worksheets/sheet1.xml", sheet.encode())
    props = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<cp:coreProperties xmlns:cp="urn:cp" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>[PERSON_NAME_1]</dc:title>'
        "<dc:creator>[PERSON_NAME_3]</dc:creator></cp:coreProperties>"
    )
    return with_member(data, "docProps/core.xml", props.encode())


def test_xlsx_comments_and_properties_restored_formulas_and_headers_reported() -> None:
    out, report = restore(xlsx_with_parts(), "a.xlsx")
    z = zipfile.ZipFile(io.BytesIO(out))
    assert b"<t>ask Ann &amp; &lt;Bo&gt; Smith</t></r><r><rPr><b/></rPr><t></t>" in z.read(
        "xl/comments1.xml"
    )
    core = z.read("docProps/core.xml").decode()
    assert "<dc:title>Ann &amp; &lt;Bo&gt; Smith</dc:title>" in core
    assert "<dc:creator>Zoë Müller</dc:creator>" in core
    left = left_in(out)
    assert sum(left.values()) == report.unresolved_count == 3, (left, report.to_dict())
    assert sorted(u.location for u in report.unresolved) == [
        "xl/comments1.xml author",
        "xl/worksheets/sheet1.xml f of cell B3",
        "xl/worksheets/sheet1.xml oddHeader",
    ]


def test_lenient_reports_a_repairable_form_it_cannot_write() -> None:
    data = with_member(make_docx("x"), "customXml/item1.xml", b"<r a='[person_name_1]'/>")
    _, strict = restore(data, "a.docx")
    _, lenient = restore(data, "a.docx", lenient=True)
    assert [(u.placeholder, u.reason) for u in strict.unresolved] == [
        ("[person_name_1]", "mangled")
    ]
    assert [(u.placeholder, u.reason, u.location) for u in lenient.unresolved] == [
        ("[person_name_1]", "outside-text", "customXml/item1.xml r@a")
    ]


PLACES = st.sampled_from(
    [
        ("t", "<w:p><w:r><w:t>{}</w:t></w:r></w:p>", True),
        ("instr", "<w:p><w:r><w:instrText>{}</w:instrText></w:r></w:p>", True),
        ("del", "<w:p><w:r><w:delText>{}</w:delText></w:r></w:p>", True),
        ("attr", '<w:p><w:pPr><w:pStyle w:val="{}"/></w:pPr></w:p>', False),
        ("sdt", '<w:sdt><w:sdtPr><w:alias w:val="{}"/></w:sdtPr></w:sdt>', False),
        ("body", "<w:p><w:customXml w:element='x'>{}</w:customXml></w:p>", False),
    ]
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(PLACES, st.sampled_from(sorted(MAP.values()))), min_size=1, max_size=6))
def test_each_placeholder_is_restored_or_reported_wherever_it_is(
    placed: list[tuple[tuple[str, str, bool], str]],
) -> None:
    body = "".join(template.format(p) for (_, template, _), p in placed)
    data = with_member(make_docx("x"), "word/document.xml", document(body))
    out, report = restore(data, "a.docx")
    restorable = sum(1 for (_, _, restored), _ in placed if restored)
    assert report.restored == restorable
    assert report.unresolved_count == len(placed) - restorable == sum(left_in(out).values())


def test_one_huge_paragraph_is_refused_not_held() -> None:
    """Memory holds one paragraph (string) at a time: one past the limit is refused."""
    spec = PartSpec(groups=frozenset({"p"}), texts=frozenset({"t"}))
    runs = b"<t>x</t>" * 200_000  # 1.6 MB of XML in one paragraph

    def chunks():  # type: ignore[no-untyped-def]
        yield b"<d><p>"
        for at in range(0, len(runs), 65_536):
            yield runs[at : at + 65_536]
        yield b"</p></d>"

    with pytest.raises(UnsafeDocument, match="one paragraph or string is larger than 1 MiB"):
        rewrite_part(chunks(), io.BytesIO(), spec, lambda g: None, name="p", group_bytes=1 << 20)
    assert rewrite_part(chunks(), io.BytesIO(), spec, lambda g: None, name="p").changed_groups == 0


@pytest.mark.usefixtures("vault")
def test_the_cli_exits_3_naming_each_part_and_writes_the_rest(tmp_path: Path) -> None:
    src = tmp_path / "a.docx"
    data = with_member(
        make_docx("Dear [PERSON_NAME_1]"), "customXml/item1.xml", b"<x y='[PERSON_NAME_1]'/>"
    )
    src.write_bytes(data)
    out = tmp_path / "b.docx"
    result = invoke(["restore", str(src), "-j", JOB, "-o", str(out)], env=ENV)
    assert result.exit_code == 3, result.output
    assert "[PERSON_NAME_1] at customXml/item1.xml x@y (outside-text)" in result.stderr
    assert "Ann Smith" not in result.output
    assert b"Ann Smith" in zipfile.ZipFile(out).read("word/document.xml")
