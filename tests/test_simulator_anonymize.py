"""What the simulator's anonymization produces: over real HTTP the documented examples exactly,
the numbering rules, the detector, CSV rewritten in place and every CSV of the corpora; in
process, properties of the text and CSV rewriting (Hypothesis)."""

from __future__ import annotations

import base64
import collections
import csv
import io
import json
import re

import httpx
import pytest
from conftest import CORPORA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from office_kit import docx_runs, docx_text, make_docx, make_pdf, make_xlsx, pdf_text, xlsx_values

from vault.simulator import SimulatorConfig, run_simulator
from vault.simulator._anonymize import CustomEntity, anonymize_csv, anonymize_text
from vault.simulator._detect import ENTITY_TYPES


@pytest.fixture(scope="module")
def client():
    with run_simulator(SimulatorConfig(processing_time=0)) as sim:
        with httpx.Client(base_url=sim.url, timeout=30) as http:
            yield http


def anonymize(client, text, **options):
    response = client.post("/anonymize/text", json={"text": text, **options})
    assert response.status_code == 200, response.text
    return response


def anonymize_file(client, kind, data, **fields):
    response = client.post(f"/anonymize/{kind}", files={"file": (f"x.{kind}", data)}, data=fields)
    assert response.status_code == 202, response.text
    body = client.get(f"/anonymize/status/{response.json()['job_id']}").json()
    assert body["status"] == "completed", body
    return base64.b64decode(body["result"], validate=True), body


def compact(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- documented examples


def test_documented_text_example_exactly(client):
    response = anonymize(
        client,
        "My name is John Doe and my email is john@example.com. The building is nearby.",
        entities="PERSON_NAME,EMAIL_ADDRESS",
        custom_entities=[{"original": "building", "placeholder": "SECRET"}],
    )
    assert response.content == compact(
        {
            "anonymized_text": "My name is [PERSON_NAME_1] and my email is [EMAIL_ADDRESS_2]. "
            "The [SECRET_3] is nearby.",
            "map": {
                "John Doe": "[PERSON_NAME_1]",
                "john@example.com": "[EMAIL_ADDRESS_2]",
                "building": "[SECRET_3]",
            },
            "entities": 3,
        }
    )


def test_documented_shared_counter_example_exactly(client):
    response = anonymize(client, "John (j@co.com) and Jane (jane@co.com) work at Acme.")
    assert response.json() == {
        "anonymized_text": "[PERSON_NAME_1] ([EMAIL_ADDRESS_2]) and [PERSON_NAME_3] "
        "([EMAIL_ADDRESS_4]) work at [ORGANIZATION_5].",
        "map": {
            "John": "[PERSON_NAME_1]",
            "j@co.com": "[EMAIL_ADDRESS_2]",
            "Jane": "[PERSON_NAME_3]",
            "jane@co.com": "[EMAIL_ADDRESS_4]",
            "Acme": "[ORGANIZATION_5]",
        },
        "entities": 5,
    }


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "And [PERSON_NAME_1] works at [ORGANIZATION_2]."),
        ({"start_index": 0}, "And [PERSON_NAME_1] works at [ORGANIZATION_2]."),
        ({"start_index": 5}, "And [PERSON_NAME_6] works at [ORGANIZATION_7]."),
    ],
)
def test_documented_start_index_example(client, options, expected):
    body = anonymize(client, "And Jane works at Google.", **options).json()
    assert body["anonymized_text"] == expected
    assert body["entities"] == 2


def test_documented_custom_entity_example(client):
    body = anonymize(
        client,
        "The Phoenix project is managed by John Doe.",
        custom_entities=[{"original": "Phoenix project", "placeholder": "PROJECT"}],
    ).json()
    assert body == {
        "anonymized_text": "The [PROJECT_1] is managed by [PERSON_NAME_2].",
        "map": {"Phoenix project": "[PROJECT_1]", "John Doe": "[PERSON_NAME_2]"},
        "entities": 2,
    }


# --------------------------------------------------------------------------- numbering rules

C = "custom_entities"


@pytest.mark.parametrize(
    ("text", "options", "expected", "mapping", "count"),
    [
        pytest.param(
            "John met John and JOHN.", {}, "[PERSON_NAME_1] met [PERSON_NAME_1] and JOHN.",
            {"John": "[PERSON_NAME_1]"}, 2, id="repeat-reuses-placeholder",
        ),
        pytest.param(
            "Building, building, BUILDING.", {C: [{"original": "building", "placeholder": "B"}]},
            "[B_1], [B_2], [B_3].",
            {"Building": "[B_1]", "building": "[B_2]", "BUILDING": "[B_3]"}, 3,
            id="case-insensitive-key-as-found",
        ),
        pytest.param(
            "Mail john@example.com", {C: [{"original": "example", "placeholder": "DOMAIN"}]},
            "Mail john@[DOMAIN_1].com", {"example": "[DOMAIN_1]"}, 1,
            id="custom-beats-overlapping-detection",
        ),
        pytest.param(
            "Phoenix project rising",
            {C: [{"original": "phoenix", "placeholder": "BIRD"},
                 {"original": "phoenix project", "placeholder": "PROJECT"}]},
            "[PROJECT_1] rising", {"Phoenix project": "[PROJECT_1]"}, 1,
            id="longest-custom-wins",
        ),
        pytest.param(
            "abcde", {C: [{"original": "cde", "placeholder": "Y"},
                          {"original": "abc", "placeholder": "X"}]},
            "[X_1]de", {"abc": "[X_1]"}, 1, id="equal-length-earliest-wins",
        ),
        pytest.param(
            "art in the party", {C: [{"original": "art", "placeholder": "A"}]},
            "[A_1] in the p[A_1]y", {"art": "[A_1]"}, 2, id="plain-substring",
        ),
        pytest.param(
            "John Doe paid", {"entities": "EMAIL_ADDRESS", C: [{"original": "paid",
                                                                 "placeholder": "verb"}]},
            "John Doe [verb_1]", {"paid": "[verb_1]"}, 1, id="custom-applies-despite-filter",
        ),
        pytest.param(
            "Jane at Acme, jane@co.com", {"entities": "NOPE, email_address ,"},
            "Jane at Acme, [EMAIL_ADDRESS_1]", {"jane@co.com": "[EMAIL_ADDRESS_1]"}, 1,
            id="unknown-names-ignored-case-insensitive",
        ),
        pytest.param(
            "Jane at Acme", {"entities": "NOPE"}, "Jane at Acme", {}, 0,
            id="only-unknown-names-detect-nothing",
        ),
        pytest.param(
            "Jane at Acme", {"entities": ""}, "[PERSON_NAME_1] at [ORGANIZATION_2]",
            {"Jane": "[PERSON_NAME_1]", "Acme": "[ORGANIZATION_2]"}, 2, id="empty-means-all",
        ),
        pytest.param(
            "Jane at Acme", {"entities": ["ORGANIZATION"]}, "Jane at [ORGANIZATION_1]",
            {"Acme": "[ORGANIZATION_1]"}, 1, id="list-of-names",
        ),
        pytest.param(
            "Jane, Jane", {"start_index": "41"}, "[PERSON_NAME_42], [PERSON_NAME_42]",
            {"Jane": "[PERSON_NAME_42]"}, 2, id="start-index-as-string",
        ),
        pytest.param(
            "Nothing here.", {}, "Nothing here.", {}, 0, id="nothing-found",
        ),
        pytest.param(
            "Zoë Ålund", {C: [{"original": "zoë ålund", "placeholder": "Ünïcode label"}]},
            "[Ünïcode label_1]", {"Zoë Ålund": "[Ünïcode label_1]"}, 1, id="unicode",
        ),
    ],
)  # fmt: skip
def test_numbering_rules(client, text, options, expected, mapping, count):
    body = anonymize(client, text, **options).json()
    assert body["anonymized_text"] == expected
    assert body["map"] == mapping
    assert list(body["map"]) == list(mapping)  # in order of appearance
    assert body["entities"] == count


# --------------------------------------------------------------------------- detector


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("write to a.b-c+d@mail.example.org now", {"a.b-c+d@mail.example.org": "EMAIL_ADDRESS"}),
        ("call 212-555-5555", {"212-555-5555": "PHONE_NUMBER"}),
        ("call (212) 555-5555", {"(212) 555-5555": "PHONE_NUMBER"}),
        ("call +44 20 7946 0958", {"+44 20 7946 0958": "PHONE_NUMBER"}),
        ("call +4915112345678", {"+4915112345678": "PHONE_NUMBER"}),
        ("card 4111 1111 1111 1111", {"4111 1111 1111 1111": "CREDIT_CARD"}),
        ("card 5500-0000-0000-0004", {"5500-0000-0000-0004": "CREDIT_CARD"}),
        ("card 378282246310005", {"378282246310005": "CREDIT_CARD"}),
        ("card 4111 1111 1111 1112", {}),  # fails the Luhn check
        ("no 12 345 6789 0123", {}),  # digit groups, not a phone number
        ("iban DE89 3704 0044 0532 0130 00", {"DE89 3704 0044 0532 0130 00": "IBAN"}),
        ("iban GB82WEST12345698765432", {"GB82WEST12345698765432": "IBAN"}),
        ("iban GB82WEST12345698765433", {}),  # fails mod 97
        ("on 2024-02-29.", {"2024-02-29": "DATE"}),
        ("on 31/12/2023 or 12.31.2023", {"31/12/2023": "DATE", "12.31.2023": "DATE"}),
        ("on 3 March 2024 and Sept 30, 2021", {"3 March 2024": "DATE", "Sept 30, 2021": "DATE"}),
        ("not 2024-13-45 nor 45/45/2020", {}),
        ("Alice Johnson and Mohammed", {"Alice Johnson": "PERSON_NAME", "Mohammed": "PERSON_NAME"}),
        ("Johnson, Jane's, Janet", {"Jane": "PERSON_NAME"}),
        ("Deutsche Bank and IBM", {"Deutsche Bank": "ORGANIZATION", "IBM": "ORGANIZATION"}),
        ("version 1.2.3, id 12345678, 2095257564", {}),
    ],
)
def test_detector(client, text, found):
    body = anonymize(client, text).json()
    assert {original: re.sub(r"^\[|_\d+\]$", "", p) for original, p in body["map"].items()} == (
        found
    )


# --------------------------------------------------------------------------- CSV in place


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            b"id,name\r\n1,John Doe\r\n2,Jane\r\n",
            b"id,name\r\n1,[PERSON_NAME_1]\r\n2,[PERSON_NAME_2]\r\n", id="crlf",
        ),
        pytest.param(
            b"id,name\n1,John Doe", b"id,name\n1,[PERSON_NAME_1]", id="no-final-newline",
        ),
        pytest.param(
            b"\xef\xbb\xbfname;mail\nJohn;j@co.com\n",
            b"\xef\xbb\xbfname;mail\n[PERSON_NAME_1];[EMAIL_ADDRESS_2]\n", id="bom-semicolon",
        ),
        pytest.param(
            b'a,b\n1,"He said ""hi"" to John Doe, twice"\n',
            b'a,b\n1,"He said ""hi"" to [PERSON_NAME_1], twice"\n', id="quoted-doubled-quotes",
        ),
        pytest.param(
            b'a,b\n"Jane\nSmith",x\n"Jane Smith"\n',
            b'a,b\n"[PERSON_NAME_1]\nSmith",x\n"[PERSON_NAME_2]"\n',
            id="never-across-line-breaks",
        ),
        pytest.param(
            b"first,last\nJohn,Doe\n", b"first,last\n[PERSON_NAME_1],Doe\n",
            id="never-across-delimiters",
        ),
        pytest.param(
            b'd\n"March 3, 2024"\n2024-03-03\n', b'd\n"March 3, 2024"\n[DATE_1]\n',
            id="no-date-across-a-comma",
        ),
        pytest.param(
            b"name\tcity\nJos\xe9 Garc\xeda\tJohn Smith\n",
            b"name\tcity\nJos\xe9 Garc\xeda\t[PERSON_NAME_1]\n", id="latin1-tab",
        ),
        pytest.param(
            b'"\\"Big\\" John";1964\n', b'"\\"Big\\" [PERSON_NAME_1]";1964\n',
            id="backslash-escapes",
        ),
        pytest.param(b"\n\n", b"\n\n", id="blank-lines"),
    ],
)  # fmt: skip
def test_csv_is_rewritten_in_place(client, data, expected):
    result, _ = anonymize_file(client, "csv", data)
    assert result == expected


def test_csv_custom_entity_inside_a_quoted_field_maps_the_cell_text(client):
    data = b'id,note\n1,"Codename ""Nightjar"", by Acme"\n'
    result, body = anonymize_file(
        client,
        "csv",
        data,
        custom_entities=json.dumps([{"original": "nightjar", "placeholder": "CODE"}]),
    )
    assert result == b'id,note\n1,"Codename ""[CODE_1]"", by [ORGANIZATION_2]"\n'
    assert body["de_anonymization_map"] == {"Nightjar": "[CODE_1]", "Acme": "[ORGANIZATION_2]"}


@pytest.mark.parametrize("label", ["A,B", 'Q"T', "LINE\nBREAK", "BACK\\SLASH", "SEMI;"])
def test_csv_label_that_would_break_the_file_fails_the_job(client, label):
    delimiter = b";" if label == "SEMI;" else b","
    data = b"id" + delimiter + b"note\n1" + delimiter + b"secret\n"
    response = client.post(
        "/anonymize/csv",
        files={"file": ("x.csv", data)},
        data={"custom_entities": json.dumps([{"original": "secret", "placeholder": label}])},
    )
    body = client.get(f"/anonymize/status/{response.json()['job_id']}").json()
    assert body["status"] == "failed"
    assert "cannot be written into this CSV" in body["error"]
    assert "secret" not in body["error"]


def test_csv_label_with_a_character_that_is_not_structural_here_is_fine(client):
    result, _ = anonymize_file(
        client,
        "csv",
        b"a;b\n1;secret\n",
        custom_entities=json.dumps([{"original": "secret", "placeholder": "X,Y"}]),
    )
    assert result == b"a;b\n1;[X,Y_1]\n"


DOC_LINES = [
    "Contract for Project Nightjar between John Doe and Jane Smith.",
    "Write to john.doe@example.com or call Jane Smith; project nightjar starts soon.",
]
DOC_CUSTOM = json.dumps([{"original": "Project Nightjar", "placeholder": "CODE"}])


@pytest.mark.parametrize(
    ("kind", "data", "read"),
    [
        ("docx", make_docx(*DOC_LINES), lambda d: [t for t in docx_text(d) if t]),
        (
            "excel",
            make_xlsx({"S": {"A1": DOC_LINES[0], "A2": DOC_LINES[1], "B1": 42, "B2": "=B1*2"}}),
            lambda d: [xlsx_values(d)["S"][c] for c in ("A1", "A2", "B1", "B2")],
        ),
        ("pdf", make_pdf(*DOC_LINES), pdf_text),
    ],
    ids=["docx", "excel", "pdf"],
)
def test_documents_follow_the_text_rules(client, kind, data, read):
    """A document's texts get the map, count and placeholders that /anonymize/text gives for
    the same texts in one request: one counter, start_index, custom entities, every type."""
    text = anonymize(
        client, "\n".join(DOC_LINES), start_index=4, custom_entities=json.loads(DOC_CUSTOM)
    ).json()
    result, body = anonymize_file(client, kind, data, start_index="4", custom_entities=DOC_CUSTOM)
    assert body["de_anonymization_map"] == text["map"]
    assert body["entity_count"] == text["entities"] >= 6
    expected = text["anonymized_text"].split("\n")
    assert read(result) == (expected + [42, "=B1*2"] if kind == "excel" else expected)


def test_a_placeholder_keeps_the_formatting_of_the_run_it_starts_in(client):
    data = make_docx([("Signed: John ", {"bold": True}), ("Doe", {"italic": True}), (" today", {})])
    result, body = anonymize_file(client, "docx", data, entities="PERSON_NAME")
    assert body["de_anonymization_map"] == {"John Doe": "[PERSON_NAME_1]"}
    assert docx_runs(result)[0] == [
        ("Signed: [PERSON_NAME_1]", True, None),
        ("", None, True),
        (" today", None, None),
    ]


# --------------------------------------------------------------------------- the corpora

CORPUS_FILES = sorted(CORPORA.rglob("*.csv"))


def _text(data):
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _shape(text):
    try:
        dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|:")
    except csv.Error:
        dialect = csv.excel
    return [len(row) for row in csv.reader(io.StringIO(text, newline=""), dialect)]


def _frequent_words(text, n=3):
    words = collections.Counter(re.findall(r"[^\W\d_]{4,}", text))
    return [w for w, _ in words.most_common(n)]


def test_the_corpora_are_there():
    assert len(CORPUS_FILES) >= 50


@pytest.mark.parametrize("custom", [False, True], ids=["detector", "with-custom"])
@pytest.mark.parametrize(
    "path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPORA)).replace("/", ":")
)
def test_every_corpus_csv_anonymizes_to_valid_csv_of_the_same_shape(client, path, custom):
    data = path.read_bytes()
    original, encoding = _text(data)
    fields = {}
    words = _frequent_words(original) if custom else []
    if words:
        fields["custom_entities"] = json.dumps(
            [{"original": w.lower(), "placeholder": f"WORD{i}"} for i, w in enumerate(words)]
        )
    result, body = anonymize_file(client, "csv", data, **fields)
    anonymized, result_encoding = _text(result)
    assert result_encoding == encoding
    assert anonymized.startswith("\ufeff") == original.startswith("\ufeff")
    assert _shape(anonymized) == _shape(original)
    mapping = body["de_anonymization_map"]
    assert body["entity_count"] >= len(mapping)
    if words:
        assert mapping, "custom words were found in the file, so something was replaced"
    # Every placeholder stands exactly where its original stood: inverting the map in one
    # pass gives back the uploaded bytes.
    inverse = {placeholder: original for original, placeholder in mapping.items()}
    if inverse:
        pattern = re.compile("|".join(re.escape(p) for p in inverse))
        anonymized = pattern.sub(lambda m: inverse[m.group()], anonymized)
    assert anonymized.encode(encoding) == data


# --------------------------------------------------------------------------- properties

ALL = frozenset(ENTITY_TYPES)
PIECES = st.sampled_from(
    [
        "John Doe", "Jane", "jane@co.com", "Acme", "212-555-5555", "2024-01-15", "phoenix",
        "Phoenix Project", " ", ",", ";", '"', '""', "\n", "\r\n", "\t", "'", "\\", "é", "x",
        "12", "Sept 3, 2021",
    ]
)  # fmt: skip
CELLS = st.lists(PIECES, max_size=6).map("".join)
CUSTOM = (CustomEntity("phoenix", "CODE"), CustomEntity("e@co", "AT"))


def _invert(text, mapping):
    inverse = {placeholder: original for original, placeholder in mapping.items()}
    if not inverse:
        return text
    pattern = re.compile("|".join(re.escape(p) for p in inverse))
    return pattern.sub(lambda m: inverse[m.group()], text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=30).map("".join), st.integers(0, 50))
def test_text_map_inverts_to_the_original(text, start):
    anonymized, mapping, count = anonymize_text(text, types=ALL, start_index=start, custom=CUSTOM)
    assert _invert(anonymized, mapping) == text
    assert count >= len(mapping)
    numbers = [int(re.search(r"_(\d+)\]$", p).group(1)) for p in mapping.values()]
    assert numbers == list(range(start + 1, start + 1 + len(mapping)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(CELLS, min_size=1, max_size=4), min_size=1, max_size=6),
    st.sampled_from([",", ";", "\t", "|"]),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    st.booleans(),
    st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]),
)
def test_csv_is_rewritten_in_place_for_any_table(rows, delimiter, newline, quoting, final, enc):
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline, quoting=quoting).writerows(rows)
    text = buffer.getvalue()
    if not final:
        text = text[: -len(newline)]
    data = text.encode(enc, errors="replace")
    outcome = anonymize_csv(data, types=ALL, custom=CUSTOM)
    result, result_encoding = _text(outcome.content)
    original, encoding = _text(data)
    assert result_encoding == encoding
    assert _invert(result, outcome.mapping).encode(encoding) == data

    def shape(t):
        return [len(r) for r in csv.reader(io.StringIO(t, newline=""), delimiter=delimiter)]

    assert shape(result) == shape(original)
