"""Real DOCX, XLSX and PDF files for tests, made and read by independent libraries
(python-docx, openpyxl, fpdf2, pypdf), never by the code under test."""

from __future__ import annotations

import io
import zipfile

import docx
import openpyxl
from fpdf import FPDF
from pypdf import PdfReader


def make_docx(*paragraphs: str | list[tuple[str, dict[str, bool]]], header: str = "") -> bytes:
    """A Word file; a paragraph given as a list of (text, {"bold": True, ...}) has those runs."""
    document = docx.Document()
    for paragraph in paragraphs:
        if isinstance(paragraph, str):
            document.add_paragraph(paragraph)
            continue
        p = document.add_paragraph()
        for text, style in paragraph:
            run = p.add_run(text)
            for name, value in style.items():
                setattr(run, name, value)
    if header:
        document.sections[0].header.paragraphs[0].text = header
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_text(data: bytes) -> list[str]:
    document = docx.Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        texts += [cell.text for row in table.rows for cell in row.cells]
    texts += [p.text for p in document.sections[0].header.paragraphs]
    return texts


def docx_runs(data: bytes) -> list[list[tuple[str, bool | None, bool | None]]]:
    document = docx.Document(io.BytesIO(data))
    return [[(r.text, r.bold, r.italic) for r in p.runs] for p in document.paragraphs]


def make_xlsx(sheets: dict[str, dict[str, object]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, cells in sheets.items():
        sheet = workbook.create_sheet(name)
        for ref, value in cells.items():
            sheet[ref] = value
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xlsx_values(data: bytes) -> dict[str, dict[str, object]]:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    return {
        sheet.title: {
            cell.coordinate: cell.value
            for row in sheet.iter_rows()
            for cell in row
            if cell.value is not None
        }
        for sheet in workbook.worksheets
    }


def make_pdf(*pages: str) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def pdf_text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


_CT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "{sheets}</Types>"
)
_SHEET_CT = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_shared_xlsx(target, sheets: dict[str, object], *, level: int = 6) -> None:
    """An XLSX as Excel and LibreOffice write it: text cells are shared strings (``t="s"``).

    ``sheets`` maps a sheet name to a list of rows (str: text, int/float: number, a str
    starting with ``=``: a formula), or to a callable returning an iterator of rows (large files).
    """
    strings: dict[str, int] = {}
    names = list(sheets)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        z.writestr(
            "[Content_Types].xml",
            _CT.format(sheets="".join(_SHEET_CT.format(n=i + 1) for i in range(len(names)))),
        )
        z.writestr("_rels/.rels", _RELS)
        z.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{_R}"><sheets>'
            + "".join(
                f'<sheet name="{_esc(n)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                for i, n in enumerate(names)
            )
            + "</sheets></workbook>",
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(
                f'<Relationship Id="rId{i + 1}" Type="{_R}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                for i in range(len(names))
            )
            + f'<Relationship Id="rIdS" Type="{_R}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>",
        )
        for i, name in enumerate(names):
            rows = sheets[name]
            rows = rows() if callable(rows) else rows
            with z.open(f"xl/worksheets/sheet{i + 1}.xml", "w", force_zip64=False) as f:
                f.write(
                    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                )
                buf = []
                for r, row in enumerate(rows, start=1):
                    cells = []
                    for c, value in enumerate(row):
                        ref = f"{_col(c)}{r}"
                        if isinstance(value, str) and value.startswith("="):
                            cells.append(f'<c r="{ref}"><f>{_esc(value[1:])}</f></c>')
                        elif isinstance(value, str):
                            k = strings.setdefault(value, len(strings))
                            cells.append(f'<c r="{ref}" t="s"><v>{k}</v></c>')
                        elif value is not None:
                            cells.append(f'<c r="{ref}"><v>{value}</v></c>')
                    buf.append(f'<row r="{r}">{"".join(cells)}</row>')
                    if len(buf) >= 1000:
                        f.write("".join(buf).encode())
                        buf = []
                f.write(("".join(buf) + "</sheetData></worksheet>").encode())
        with z.open("xl/sharedStrings.xml", "w") as f:
            f.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                + f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(strings)}" uniqueCount="{len(strings)}">'.encode()
            )
            buf = []
            for text in strings:
                space = ' xml:space="preserve"' if text != text.strip() else ""
                buf.append(f"<si><t{space}>{_esc(text)}</t></si>")
                if len(buf) >= 10000:
                    f.write("".join(buf).encode())
                    buf = []
            f.write(("".join(buf) + "</sst>").encode())


def make_shared_xlsx(sheets: dict[str, object]) -> bytes:
    out = io.BytesIO()
    write_shared_xlsx(out, sheets)
    return out.getvalue()
