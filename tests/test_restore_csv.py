"""CSV/TSV restore: byte fidelity outside restored fields, minimal quoting, formula neutralizing,
dialects, and every CSV of the shared corpora round-tripped through the simulator."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import httpx
import pytest
from conftest import CORPORA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vault.placeholders import Matcher, invert_map, merge_resolvers
from vault.restore import CsvDialect, RestoreOptions, restore_bytes
from vault.restore._csvfmt import CsvProcessor
from vault.restore._formats import detect_dialect
from vault.simulator import SimulatorConfig, run_simulator

MAP = {
    "John Doe": "[PERSON_NAME_1]",
    "Doe, John": "[PERSON_NAME_2]",
    'The "Boss"': "[PERSON_NAME_3]",
    "line\r\nbreak": "[ADDRESS_4]",
    "=HYPERLINK(1)": "[F_5]",
    "-2+3": "[F_6]",
    "@SUM(A1)": "[F_7]",
    "\tTAB": "[F_8]",
    "semi;colon": "[X_9]",
    "Zoë": "[PERSON_NAME_10]",
    "": "[EMPTY_11]",
}
RESOLVER = invert_map(MAP, "job-c")


def restore_csv(data: str | bytes, **options) -> tuple[str, object]:
    raw = data.encode() if isinstance(data, str) else data
    options.setdefault("format", "csv")
    out, report = restore_bytes(raw, RESOLVER, RestoreOptions(**options))
    return out.decode(options.get("encoding") or "utf-8"), report


CASES = [
    ("untouched bytes", 'a,b\r\n x ,"y"\n\n', 'a,b\r\n x ,"y"\n\n'),
    ("plain value", "[PERSON_NAME_1],2\n", "John Doe,2\n"),
    ("comma needs quotes", "[PERSON_NAME_2],2\n", '"Doe, John",2\n'),
    ("quote needs quotes", "x [PERSON_NAME_3] y,2", 'x "x The ""Boss"" y",2'[2:]),
    ("newline needs quotes", "[ADDRESS_4]\n", '"line\r\nbreak"\n'),
    ("quoted stays quoted", '"[PERSON_NAME_1]",2\n', '"John Doe",2\n'),
    ("quoted doubles quotes", '"[PERSON_NAME_3], ok"\n', '"The ""Boss"", ok"\n'),
    ("quoted with comma", '"[PERSON_NAME_2]"\n', '"Doe, John"\n'),
    ("other delimiter no quotes", "[X_9]|[PERSON_NAME_2]\n", "semi;colon|Doe, John\n"),
    ("empty value alone on a line", "a\n[EMPTY_11]\nb", 'a\n""\nb'),
    ("empty value alone at the start", "[EMPTY_11]\r\nb", '""\r\nb'),
    ("empty value beside others", "[EMPTY_11],x\n", ",x\n"),
    ("no final newline", "a,[PERSON_NAME_1]", "a,John Doe"),
    ("CR only lines", "[PERSON_NAME_1]\r[PERSON_NAME_10]\r", "John Doe\rZoë\r"),
    ("mixed endings", "a\r\n[PERSON_NAME_1]\nb\r", "a\r\nJohn Doe\nb\r"),
    ("bare quote elsewhere", '37"N [PERSON_NAME_1],x', '37"N John Doe,x'),
    ("bare quote, value quote", '1"[PERSON_NAME_3]', '"1""The ""Boss"""'),
    ("junk after closing quote", '"a"[PERSON_NAME_1],x', '"a"John Doe,x'),
    ("multi-line quoted field", '"l1\n[PERSON_NAME_1]\nl3",x\n', '"l1\nJohn Doe\nl3",x\n'),
    ("unknown left alone", "[PERSON_NAME_99],[Your Name]\n", "[PERSON_NAME_99],[Your Name]\n"),
    ("unterminated quote at end", '"open [PERSON_NAME_3]', '"open The ""Boss""'),
    ("empty fields", ",,[PERSON_NAME_1],,\n", ",,John Doe,,\n"),
    ("formula kept without option", "[F_5]\n", "=HYPERLINK(1)\n"),
]


@pytest.mark.parametrize("path", ["whole records", "field by field"])
@pytest.mark.parametrize(("case", "source", "expected"), CASES, ids=[c[0] for c in CASES])
def test_csv_cases(case: str, source: str, expected: str, path: str) -> None:
    # Lenient mode always goes field by field; on exact placeholders it restores the same.
    delimiter = "|" if "|" in source else ","
    lenient = path == "field by field"
    for chunk in (1 << 20, 3):
        out, _ = restore_csv(source, delimiter=delimiter, lenient=lenient, chunk_size=chunk)
        assert out == expected


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 11, 1 << 20])
def test_csv_split_across_reads(chunk: int) -> None:
    source = (
        'id,name,note\r\n1,[PERSON_NAME_1],"[PERSON_NAME_2] said ""hi"""\r\n'
        '2,"multi\nline [ADDRESS_4]",[PERSON_NAME_3]\n3,,[PERSON_NAME_99]'
    )
    out, report = restore_csv(source, chunk_size=chunk)
    assert out == (
        'id,name,note\r\n1,John Doe,"Doe, John said ""hi"""\r\n'
        '2,"multi\nline line\r\nbreak","The ""Boss"""\n3,,[PERSON_NAME_99]'
    )
    assert report.restored == 4
    assert report.quoted == 1
    assert [(u.placeholder, u.line, u.column) for u in report.unresolved] == [
        ("[PERSON_NAME_99]", 5, 4)
    ]


NEUTRALIZE = [
    ("[F_5],x", "'=HYPERLINK(1),x", 1),
    ('"[F_5]",x', '"\'=HYPERLINK(1)",x', 1),
    ("[F_6]", "'-2+3", 1),
    ("[F_7]", "'@SUM(A1)", 1),
    ("[F_8]", "'\tTAB", 1),
    ("+[PERSON_NAME_1]", "'+John Doe", 1),  # the cell starts like a formula once restored
    ("x[F_5]", "x=HYPERLINK(1)", 0),
    ("=1+1,[PERSON_NAME_1]", "=1+1,John Doe", 0),  # untouched cells are not changed
    ("[ADDRESS_4]", '"line\r\nbreak"', 0),
]


@pytest.mark.parametrize(("source", "expected", "count"), NEUTRALIZE)
def test_neutralize_formulas(source: str, expected: str, count: int) -> None:
    out, report = restore_csv(source, neutralize_formulas=True)
    assert out == expected
    assert report.neutralized == count
    assert ("prefixed with '" in " ".join(report.summary())) == bool(count)


def test_tsv_and_latin1_and_bom() -> None:
    data = "\ufeffid\tname\r\n1\t[PERSON_NAME_10]\r\n2\t[PERSON_NAME_2]".encode("utf-8")
    out, report = restore_csv(data, name="people.tsv", format="auto")
    assert out == "\ufeffid\tname\r\n1\tZoë\r\n2\tDoe, John"
    assert report.format == "csv"
    latin = "name;city\r\n[PERSON_NAME_10];Köln\r\n".encode("latin-1")
    out, _ = restore_csv(latin, encoding="latin-1")
    assert out == "name;city\r\nZoë;Köln\r\n"


def test_bom_before_quoted_first_field() -> None:
    out, _ = restore_csv('\ufeff"[PERSON_NAME_3]",x\n')
    assert out == '\ufeff"The ""Boss""",x\n'


def test_skipinitialspace_dialect() -> None:
    source = 'ID, Test\n1, "[PERSON_NAME_3]"\n2, [PERSON_NAME_1]\n'
    dialect = detect_dialect(None, source, True)
    assert dialect == CsvDialect(",", '"', True)
    out, _ = restore_csv(source)
    assert out == 'ID, Test\n1, "The ""Boss"""\n2, John Doe\n'


def test_custom_quotechar() -> None:
    out, _ = restore_csv("id|name\n1|#[PERSON_NAME_3]#\n2|[PERSON_NAME_1]\n", quotechar="#")
    assert out == 'id|name\n1|#The "Boss"#\n2|John Doe\n'


@pytest.mark.parametrize(
    ("path", "delimiter"),
    [
        ("frictionless-py/data/delimiter.csv", ";"),
        ("frictionless-py/data/dialect.csv", "|"),
        ("frictionless-py/data/table.tsv", "\t"),
        ("rust-csv/examples/data/smallpop-colon.csv", ":"),
        ("rust-csv/examples/data/strange.csv", ";"),
        ("frictionless-py/data/countries.csv", ","),
        ("presidio/docs/samples/fabric/data/fabric_sample_data.csv", ","),
    ],
)
def test_dialect_detection_on_corpora(path: str, delimiter: str) -> None:
    sample = (CORPORA / path).read_bytes().decode("latin-1")
    assert detect_dialect(path, sample, True).delimiter == delimiter


def test_lenient_csv() -> None:
    out, report = restore_csv("person_name_2,[Person Name 3]\n", lenient=True)
    assert out == '"Doe, John","The ""Boss"""\n'
    assert report.repaired == 2


# -- property: random CSVs ------------------------------------------------------------------------

CELL_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="[]\x00"),
    max_size=8,
)
SECRET = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10).filter(
    lambda s: "\x00" not in s
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.lists(st.lists(st.tuples(st.booleans(), CELL_TEXT), max_size=3), min_size=1, max_size=4),
        min_size=1,
        max_size=6,
    ),
    secrets=st.lists(SECRET, min_size=1, max_size=5, unique=True),
    terminator=st.sampled_from(["\r\n", "\n"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    chunk=st.integers(min_value=1, max_value=64),
    lenient=st.booleans(),
)
def test_any_csv_parses_to_the_expected_cells(
    rows, secrets, terminator, quoting, chunk, lenient
) -> None:
    mapping = {s: f"[S_{i + 1}]" for i, s in enumerate(secrets)}
    placeholders = list(mapping.values())
    expected, anonymized = [], []
    for r, row in enumerate(rows):
        cells, anon = [], []
        for c, parts in enumerate(row):
            text, anon_text = [], []
            for p, (secret, plain) in enumerate(parts):
                if secret:
                    k = (r + c + p) % len(secrets)
                    text.append(secrets[k])
                    anon_text.append(placeholders[k])
                else:
                    if terminator == "\n" and quoting == csv.QUOTE_MINIMAL:
                        plain = plain.replace("\r", "")  # csv.writer would not quote a lone CR
                    text.append(plain)
                    anon_text.append(plain)
            cells.append("".join(text))
            anon.append("".join(anon_text))
        expected.append(cells)
        anonymized.append(anon)
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator=terminator, quoting=quoting).writerows(anonymized)
    out, report = restore_bytes(
        buffer.getvalue().encode(),
        invert_map(mapping, "j"),
        RestoreOptions(format="csv", delimiter=",", chunk_size=chunk, lenient=lenient),
    )
    parsed = list(csv.reader(io.StringIO(out.decode(), newline="")))
    assert parsed == expected
    assert report.unresolved_count == 0


# -- property: the candidates-only split of a table with quotes ---------------------------------

PLAIN_RESOLVER = invert_map({"Ann Lee": "[S_1]", "Bob": "[S_2]"}, "plain")
CSV_PIECES = ["a b", ",", '"', '""', "\r\n", "\n", "\r", "[S_1]", "[S_2]", "[X_9]", "[", "]"]
CSV_PIECES += ["S_1", "[s_1]", " ", "\\"]


def _processor(*, full_split: bool) -> CsvProcessor:
    dialect = CsvDialect(",", '"', False)
    processor = CsvProcessor(Matcher(PLAIN_RESOLVER, links=False), dialect, neutralize=False)
    if full_split:  # the path every table with quotes took before
        processor._quotes_closed_and_plain = lambda text: False  # type: ignore[method-assign]
    return processor


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(CSV_PIECES), max_size=40), st.booleans())
def test_candidates_only_split_gives_the_bytes_and_report_of_the_full_split(
    pieces: list[str], final: bool
) -> None:
    text = "".join(pieces)
    fast, full = _processor(full_split=False), _processor(full_split=True)
    assert fast.process(text, 0, final, 0) == full.process(text, 0, final, 0)
    assert fast.matcher.restored_counts() == full.matcher.restored_counts()
    fast_tally, full_tally = fast.matcher.tally, full.matcher.tally
    assert fast_tally.unresolved == full_tally.unresolved
    assert fast_tally.reasons == full_tally.reasons


# -- the corpora ---------------------------------------------------------------------------------

CORPUS_FILES = sorted(
    str(p.relative_to(CORPORA)) for p in CORPORA.rglob("*") if p.suffix.lower() in (".csv", ".tsv")
)


def test_the_corpora_are_there() -> None:
    assert len(CORPUS_FILES) >= 50
    assert len(QUOTED_FILES) >= 10


def _encoding_of(data: bytes) -> str:
    """What the simulator decodes with: UTF-8 when valid, else latin-1."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


@pytest.fixture(scope="module")
def simulator():
    with run_simulator(SimulatorConfig(processing_time=0)) as sim:
        with httpx.Client(base_url=sim.url, timeout=10) as client:
            yield client


def _custom_entities(text: str) -> list[dict[str, str]]:
    """Up to five distinct words of the file, so every file gets placeholders."""
    words: list[str] = []
    for word in re.findall(r"[^\W_]+", text):
        if word.lower() not in {w.lower() for w in words}:
            words.append(word)
        if len(words) == 5:
            break
    return [{"original": w, "placeholder": "WORD"} for w in words]


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_round_trips_through_the_simulator(simulator: httpx.Client, name: str) -> None:
    original = (CORPORA / name).read_bytes()
    encoding = _encoding_of(original)
    custom = _custom_entities(original.decode(encoding))
    response = simulator.post(
        "/anonymize/csv",
        files={"file": (Path(name).name, original)},
        data={"custom_entities": json.dumps(custom)},
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    status = simulator.get(f"/anonymize/status/{job_id}").json()
    assert status["status"] == "completed"
    anonymized = base64.b64decode(status["result"])
    mapping = status["de_anonymization_map"]
    assert mapping and anonymized != original
    for chunk in (1 << 20, 7):
        restored, report = restore_bytes(
            anonymized,
            invert_map(mapping, job_id),
            RestoreOptions(format="auto", name=name, encoding=encoding, chunk_size=chunk),
        )
        assert restored == original
        assert report.format == "csv"
        assert report.unresolved_count == 0
        assert report.restored >= len(mapping)


_QUOTED_FIELD = re.compile(r'(?<![^,;\t|:\r\n])"((?:[^"]|"")*)"(?=[,;\t|:\r\n]|\Z)')
QUOTED_FILES = [
    name
    for name in CORPUS_FILES
    if _QUOTED_FIELD.search((CORPORA / name).read_bytes().decode("latin-1"))
]


@pytest.mark.parametrize("name", QUOTED_FILES)
def test_corpus_quoted_fields_round_trip(name: str) -> None:
    """A local anonymizer replaces whole quoted fields (commas, doubled quotes, line breaks and
    all) with placeholders, keeping the quotes; restoring must give the file back exactly."""
    original = (CORPORA / name).read_bytes()
    encoding = _encoding_of(original)
    text = original.decode(encoding)
    mapping: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        value = match.group(1).replace('""', '"')
        placeholder = mapping.setdefault(value, f"[CELL_{len(mapping) + 1}]")
        return f'"{placeholder}"'

    anonymized = _QUOTED_FIELD.sub(replace, text)
    assert mapping
    restored, report = restore_bytes(
        anonymized.encode(encoding),
        invert_map(mapping, "local"),
        RestoreOptions(format="csv", name=name, encoding=encoding, chunk_size=5),
    )
    assert restored == original
    assert report.unresolved_count == 0


@pytest.mark.parametrize("lenient", [False, True])
@pytest.mark.parametrize(
    ("maps", "expected"),
    [
        # every original has one placeholder: counted through the originals
        ([{"Ann": "[PERSON_NAME_1]", "Bo": "[NAME_7]"}], {"PERSON_NAME": 1, "NAME": 2}),
        # two jobs give one original two placeholders: counted through the placeholders
        ([{"Ann": "[PERSON_NAME_1]"}, {"Ann": "[NAME_7]"}], {"PERSON_NAME": 1, "NAME": 2}),
    ],
)
def test_counts_per_type(maps: list[dict[str, str]], expected: dict[str, int], lenient) -> None:
    resolver = merge_resolvers([invert_map(m, f"job-{i}") for i, m in enumerate(maps)])
    data = b'[PERSON_NAME_1],[NAME_7],"[NAME_7]"\r\n[X_9]\r\n'
    out, report = restore_bytes(data, resolver, RestoreOptions(format="csv", lenient=lenient))
    assert out.startswith(b"Ann,") and out.endswith(b'"\r\n[X_9]\r\n')
    assert dict(report.restored_by_type) == expected
    assert report.restored == 3 and report.unknown == 1
    assert report.unused == ()


def test_regression_markdown_link_rule_stays_out_of_csv_cells() -> None:
    # found by test_any_csv_parses_to_the_expected_cells: a cell "[X_1](" restored to "[](",
    # the Markdown link rule applied inside CSV; a cell is restored to exactly its original.
    out, _ = restore_bytes(
        b"[X_1](\r\n", invert_map({"": "[X_1]"}, "j"), RestoreOptions(format="csv")
    )
    assert list(csv.reader(io.StringIO(out.decode(), newline=""))) == [["("]]


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_space_after_the_delimiter_stays_outside_the_quotes(chunk: int) -> None:
    data = b"id, name, note\r\n1, [X_3], ok\r\n2, Bea, [X_4]\r\n"
    mapping = {"Doe, J.": "[X_3]", 'say "hi"': "[X_4]"}
    out, report = restore_bytes(
        data, invert_map(mapping, "j"), RestoreOptions(name="a.csv", chunk_size=chunk)
    )
    assert out == b'id, name, note\r\n1, "Doe, J.", ok\r\n2, Bea, "say ""hi"""\r\n'
    cells = list(csv.reader(io.StringIO(out.decode(), newline=""), skipinitialspace=True))
    assert cells[1:] == [["1", "Doe, J.", "ok"], ["2", "Bea", 'say "hi"']]
    assert report.quoted == 2
