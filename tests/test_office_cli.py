"""Documents through the real CLI: a job's own DOCX/XLSX/PDF restored end to end after the
simulator anonymized it, and bad documents (corrupt and cut zips, zip bombs, encrypted files,
XML with entities, macros, broken PDFs): each is one line on stderr with the documented exit
code, no output file, no temporary file left, and nothing in the access log."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import PASSPHRASE, new_vault, sample_job
from fpdf import FPDF
from office_kit import docx_runs, docx_text, make_docx, make_pdf, make_shared_xlsx, xlsx_values

from vault.custody import Custodian
from vault.documents import ZipLimits
from vault.errors import UnsafeDocument
from vault.models import JobContent
from vault.placeholders import invert_map
from vault.restore._office import restore_package
from vault.simulator._anonymize import CustomEntity
from vault.simulator._detect import ENTITY_TYPES
from vault.simulator._office import anonymize_package
from vault.simulator._pdf import anonymize_pdf

JOB = "job-office"
MAP = {"Ann Smith": "[PERSON_NAME_1]"}
ENV = {"QUESTA_VAULT_PASSPHRASE": PASSPHRASE}
DOCX = make_docx("Dear [PERSON_NAME_1]")
XLSX = make_shared_xlsx({"S": [["[PERSON_NAME_1]"]]})


@pytest.fixture
def vault(isolated_env: Path) -> Path:
    with new_vault(isolated_env) as custodian:
        custodian.store_job(sample_job(JOB, mapping=MAP), actor="alice")
    return isolated_env


def rebuild(
    data: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None
) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info, (replace or {}).get(info.filename, src.read(info.filename)))
        for name, content in (add or {}).items():
            z.writestr(name, content)
    return out.getvalue()


def encrypted_flag(data: bytes) -> bytes:
    """The zip with every member marked encrypted (flag bit 0), in both headers."""
    raw = bytearray(data)
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = raw.find(sig)
        while pos != -1:
            flags = struct.unpack_from("<H", raw, pos + at)[0]
            struct.pack_into("<H", raw, pos + at, flags | 1)
            pos = raw.find(sig, pos + 4)
    return bytes(raw)


def corrupt_member(data: bytes, name: str) -> bytes:
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw = bytearray(data)
    for i in range(start + 5, start + min(info.compress_size, 60)):
        raw[i] ^= 0x5A
    return bytes(raw)


XXE = (
    b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>"
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol3;</t></si></sst>'
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
)


def one_paragraph(size: int) -> bytes:
    """document.xml with one paragraph of ``size`` bytes of small runs (text that does not
    compress past the zip-bomb ratio)."""
    runs = "".join(f"<w:r><w:t>{i:08x}</w:t></w:r>" for i in range(0, size // 27 * 7919, 7919))
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    return f"<w:document {w}><w:body><w:p>{runs}</w:p></w:body></w:document>".encode()


def encrypted_pdf() -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.cell(0, 10, "Dear [PERSON_NAME_1]")
    pdf.set_encryption(owner_password="owner", user_password="user")
    return bytes(pdf.output())


CASES = [
    (
        "garbage.docx",
        b"PK\x03\x04 this is not a zip",
        "garbage.docx is not a readable zip container (corrupt or cut)",
    ),
    (
        "cut.docx",
        DOCX[: len(DOCX) // 2],
        "cut.docx is not a readable zip container (corrupt or cut)",
    ),
    (
        "crc.docx",
        corrupt_member(DOCX, "word/document.xml"),
        "crc.docx: member word/document.xml is corrupt",
    ),
    (
        "bomb.docx",
        rebuild(DOCX, add={"word/media/zeros.bin": b"\0" * (8 << 20)}),
        "bomb.docx: member word/media/zeros.bin expands more than 200 times (zip bomb?)",
    ),
    (
        "locked.docx",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
        "locked.docx is a password-protected (encrypted) or legacy binary Office file",
    ),
    ("flagged.xlsx", encrypted_flag(XLSX), "flagged.xlsx: member [Content_Types].xml is encrypted"),
    (
        "xxe.docx",
        rebuild(DOCX, {"word/document.xml": XXE}),
        "xxe.docx: word/document.xml: XML with a DTD or entity declarations is refused",
    ),
    (
        "laughs.xlsx",
        rebuild(XLSX, {"xl/sharedStrings.xml": LAUGHS}),
        "laughs.xlsx: xl/sharedStrings.xml: XML with a DTD or entity declarations is refused",
    ),
    (
        "param.xlsx",
        rebuild(XLSX, {"xl/workbook.xml": PARAMETER_ENTITY}),
        "param.xlsx: xl/workbook.xml holds a DTD or entities, which are refused",
    ),
    (
        "broken.docx",
        rebuild(DOCX, {"word/document.xml": b"<w:document><w:p>"}),
        "broken.docx: word/document.xml: not well-formed XML",
    ),
    (
        "other.docx",
        rebuild(XLSX).replace(b"xl/workbook.xml", b"xl/workbook.xmX"),
        "other.docx is a zip file but neither a Word nor an Excel document",
    ),
    (
        "scan.pdf",
        b"%PDF-1.4\n garbage without objects",
        "scan.pdf is not a readable PDF (corrupt or cut)",
    ),
    ("locked.pdf", encrypted_pdf(), "locked.pdf is password-protected"),
    (
        "huge.docx",
        rebuild(DOCX, {"word/document.xml": one_paragraph(17 << 20)}),
        "huge.docx: word/document.xml: one paragraph or string is larger than 16 MiB of XML",
    ),
    (
        "old.doc",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
        "restoring inside .doc/.xls/.odt/.ods files is not supported",
    ),
]


@pytest.mark.parametrize(("name", "data", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_documents_are_one_line_errors_and_write_nothing(
    vault: Path, tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    src = work / name
    src.write_bytes(data)
    out = work / ("restored.txt" if name.endswith(".pdf") else "restored" + src.suffix)
    result = invoke(["restore", str(src), "-j", JOB, "-o", str(out)], env=ENV)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"questa-vault: {message}")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert "Ann Smith" not in result.output
    assert not out.exists()
    assert sorted(p.name for p in work.iterdir()) == [name]  # no temporary file left
    with Custodian.open(vault) as custodian:
        assert custodian.log_entries(action="restore") == []


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (ZipLimits(member_bytes=2000), "expands past 2000 bytes (zip bomb?)"),
        (ZipLimits(total_bytes=5000), "expands past 5000 bytes in total (zip bomb?)"),
        (ZipLimits(members=3), "members, more than 3"),
        (ZipLimits(ratio=2, ratio_from=100), "expands more than 2 times (zip bomb?)"),
    ],
)
def test_zip_limits_are_checked_before_anything_is_written(limits: ZipLimits, message: str) -> None:
    out = io.BytesIO()
    with pytest.raises(
        UnsafeDocument, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    ):
        restore_package(io.BytesIO(DOCX), out, invert_map(MAP, JOB), name="a.docx", limits=limits)
    assert out.getvalue() == b""


def test_a_member_larger_than_its_header_says_is_caught_while_reading() -> None:
    """A header that understates a member's size cannot get past the limit."""
    big = rebuild(
        DOCX,
        {
            "word/document.xml": zipfile.ZipFile(io.BytesIO(DOCX)).read("word/document.xml")
            + b" " * 50_000
        },
    )
    info = zipfile.ZipFile(io.BytesIO(big)).getinfo("word/document.xml")
    raw = bytearray(big)
    central = raw.find(b"PK\x01\x02" + raw[info.header_offset + 4 : info.header_offset + 6])
    while central != -1 and raw[central + 46 : central + 46 + 17] != b"word/document.xml":
        central = raw.find(b"PK\x01\x02", central + 4)
    struct.pack_into("<L", raw, central + 24, 100)  # claims 100 bytes uncompressed
    with pytest.raises(Exception) as info_exc:
        restore_package(
            io.BytesIO(bytes(raw)),
            io.BytesIO(),
            invert_map(MAP, JOB),
            name="a.docx",
            limits=ZipLimits(member_bytes=10_000),
        )
    assert type(info_exc.value).__name__ in ("UnsafeDocument", "DocumentError")


def test_macro_enabled_file_is_restored_never_run_with_a_warning(
    vault: Path, tmp_path: Path
) -> None:
    macros = b'\xd0\xcf\x11\xe0 VBA project: Sub AutoOpen() Shell "calc" End Sub'
    data = rebuild(DOCX, add={"word/vbaProject.bin": macros})
    src = tmp_path / "letter.docm"
    src.write_bytes(data)
    out = tmp_path / "restored.docm"
    result = invoke(["restore", str(src), "-j", JOB, "-o", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        "warning: the file holds macros (VBA): they were copied unchanged and never run; open the "
        "restored file with macros disabled unless you trust their source"
    )
    assert docx_text(out.read_bytes())[0] == "Dear Ann Smith"
    assert zipfile.ZipFile(out).read("word/vbaProject.bin") == macros


def test_a_word_file_is_not_written_as_text(vault: Path, tmp_path: Path) -> None:
    src = tmp_path / "letter.docx"
    src.write_bytes(DOCX)
    result = invoke(["restore", str(src), "-j", JOB, "-o", str(tmp_path / "letter.txt")], env=ENV)
    assert result.exit_code == 1
    assert result.stderr == (
        "questa-vault: letter.docx is a Word or Excel file, restored in place: write it to a "
        ".docx or .xlsx file (text output, -o FILE.txt or --to text, is for PDFs)\n"
    )
    assert not (tmp_path / "letter.txt").exists()


def test_pdf_to_text_through_the_cli(vault: Path, tmp_path: Path) -> None:
    src = tmp_path / "scan.pdf"
    src.write_bytes(make_pdf("Dear [PERSON_NAME_1]", "Page two"))
    for args, out in (([], tmp_path / "scan.md"), (["--to", "text"], tmp_path / "scan.out")):
        result = invoke(["restore", str(src), "-j", JOB, "-o", str(out), *args], env=ENV)
        assert result.exit_code == 0, result.output
        assert out.read_text() == "Dear Ann Smith\fPage two\n"
    refused = invoke(["restore", str(src), "-j", JOB, "-o", str(tmp_path / "x.pdf")], env=ENV)
    assert refused.exit_code == 1
    assert "--to text" in refused.stderr and not (tmp_path / "x.pdf").exists()


LINES = ["Project Nightjar: John Doe signs.", "Mail john.doe@example.com, then John Doe again."]


@pytest.mark.parametrize("file_type", ["docx", "excel", "pdf"])
def test_a_jobs_own_document_round_trips_through_simulator_and_restore(
    isolated_env: Path, tmp_path: Path, file_type: str
) -> None:
    original = {
        "docx": make_docx(
            [(LINES[0][:22], {"bold": True}), (LINES[0][22:], {"italic": True})], LINES[1]
        ),
        "excel": make_shared_xlsx({"S": [[LINES[0], 1], [LINES[1], "=B1+1"]]}),
        "pdf": make_pdf(*LINES),
    }[file_type]
    anonymize = anonymize_pdf if file_type == "pdf" else anonymize_package
    done = anonymize(
        original, types=frozenset(ENTITY_TYPES), start_index=10,
        custom=(CustomEntity("project nightjar", "CODE"),),
    )  # fmt: skip
    assert done.entity_count == 4 and "John Doe" in done.mapping
    job = JobContent(
        job_id="job-doc", status="archived", file_type=file_type, created_at=1.0,
        content=done.content, mapping=done.mapping, entity_count=done.entity_count,
    )  # fmt: skip
    with new_vault(isolated_env) as custodian:
        custodian.store_job(job, actor="alice")
    out = tmp_path / {"docx": "a.docx", "excel": "a.xlsx", "pdf": "a.txt"}[file_type]
    result = invoke(["restore", "-j", "job-doc", "-o", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("restored 4 of 4 placeholders found")
    restored = out.read_bytes()
    if file_type == "docx":
        assert docx_text(restored)[:2] == LINES
        # "John Doe" was split over a bold and an italic run; it comes back whole in the first
        assert docx_runs(restored)[0][0] == ("Project Nightjar: John Doe", True, None)
    elif file_type == "excel":
        assert xlsx_values(restored) == {
            "S": {"A1": LINES[0], "B1": 1, "A2": LINES[1], "B2": "=B1+1"}
        }
    else:
        assert restored.decode().split("\f") == [LINES[0], LINES[1] + "\n"]
    deep = invoke(["audit", "--deep", "--json"], env=ENV)
    assert deep.exit_code == 0, deep.output
    [check] = json.loads(deep.stdout)["cross_check"]
    assert (check["checked"], check["occurrences"], check["flags"]) == (True, 4, [])
