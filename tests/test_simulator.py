"""The simulator over real HTTP: routes, auth, error bodies byte for byte, job lifecycle with an
injected clock, retention, limits, CORS, uploads and fault injection."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import httpx
import pytest
from office_kit import docx_text, make_docx, make_pdf, make_xlsx, pdf_text, xlsx_values

from vault.errors import InputError
from vault.simulator import (
    ENTITY_TYPES,
    ManualClock,
    SimulatorConfig,
    SimulatorError,
    run_simulator,
)

TOKEN = "t0ken-alpha"
OTHER = "t0ken-beta"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

MISSING = b'{"detail":"Bearer token missing"}'
INVALID = b'{"detail":"Invalid bearer token"}'
NOT_FOUND = b'{"detail":"Job not found"}'
TEXT_422 = (
    b'{"detail":[{"loc":["body","text"],"msg":"field required","type":"value_error.missing"}]}'
)
TEXT_400 = b'{"detail":"text field is required"}'
UNSUPPORTED = b'{"detail":"Unsupported file type. Supported types: pdf, docx, csv, excel"}'
EMPTY = b'{"detail":"Uploaded file is empty"}'
CAP = (
    b'{"detail":"Evaluation request limit reached (1000). '
    b'Contact techsupport@questa.solutions for a license."}'
)
INTERNAL = b'{"detail":"Internal server error"}'

STATUS_KEYS = [
    "status",
    "progress",
    "file_type",
    "result",
    "de_anonymization_map",
    "entity_count",
    "error",
    "created_at",
]


@pytest.fixture
def start():
    """Start simulators with given knobs; all are stopped after the test."""
    running = []

    def _start(**knobs):
        sim = run_simulator(SimulatorConfig(**knobs))
        running.append(sim)
        return sim, httpx.Client(base_url=sim.url, timeout=10)

    yield _start
    for sim in running:
        sim.stop()


@pytest.fixture(scope="module")
def shared():
    """One token-protected simulator for tests that only read answers."""
    with run_simulator(SimulatorConfig(tokens=(TOKEN,), processing_time=0)) as sim:
        with httpx.Client(base_url=sim.url, timeout=10) as client:
            yield client


def upload(client, kind="csv", data=b"name\nJohn Doe\n", headers=AUTH, **fields):
    return client.post(
        f"/anonymize/{kind}", headers=headers, files={"file": (f"f.{kind}", data)}, data=fields
    )


# --------------------------------------------------------------------------- public routes


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/", {"message": "Welcome to the Questa AI anonymization API (local simulator)."}),
        ("/health", {"status": "ok"}),
    ],
)
def test_public_routes_need_no_token(shared, path, body):
    response = shared.get(path)
    assert response.status_code == 200
    assert response.json() == body


def test_entity_list_names_the_sixteen_types_in_order(shared):
    response = shared.get("/anonymize/entities", headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"entities": list(ENTITY_TYPES)}
    assert len(ENTITY_TYPES) == 16


# --------------------------------------------------------------------------- auth

ROUTES = [
    ("GET", "/anonymize/status/nope", {}),
    ("GET", "/anonymize/entities", {}),
    ("POST", "/anonymize/text", {"json": {"text": "hi"}}),
    ("POST", "/anonymize/csv", {"files": {"file": ("a.csv", b"a\n1\n")}}),
    ("POST", "/anonymize/pdf", {"files": {"file": ("a.pdf", b"%PDF")}}),
]
BAD_HEADERS = [
    ({}, MISSING),
    ({"Authorization": ""}, MISSING),
    ({"Authorization": "Bearer"}, MISSING),
    ({"Authorization": "Token"}, MISSING),
    ({"Authorization": f"Basic {TOKEN}"}, MISSING),
    ({"Authorization": "Bearer nope"}, INVALID),
    ({"Authorization": f"Bearer {TOKEN}x"}, INVALID),
    ({"Authorization": f"Bearer {TOKEN.upper()}"}, INVALID),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), ROUTES, ids=lambda v: str(v)[:24])
@pytest.mark.parametrize(("headers", "body"), BAD_HEADERS, ids=lambda v: str(v)[:30])
def test_every_anonymize_route_answers_401_byte_for_byte(
    shared, method, path, kwargs, headers, body
):
    response = shared.request(method, path, headers=headers, **kwargs)
    assert response.status_code == 401
    assert response.content == body
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"] == "Bearer"


def test_401_comes_before_validation(shared):
    assert shared.post("/anonymize/text", json={}).content == MISSING
    assert shared.post("/anonymize/zip", files={"file": ("a", b"x")}).content == MISSING


def test_bearer_scheme_is_case_insensitive(shared):
    response = shared.get("/anonymize/status/nope", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 404


def test_any_of_several_tokens_is_accepted(start):
    _, client = start(tokens=(TOKEN, OTHER))
    for token in (TOKEN, OTHER):
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/anonymize/status/x", headers=headers).status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer whatever"}])
def test_self_hosted_needs_no_header_and_ignores_one(start, headers):
    _, client = start()
    assert client.get("/anonymize/status/nope", headers=headers).content == NOT_FOUND
    response = client.post("/anonymize/text", headers=headers, json={"text": "Hi John"})
    assert response.status_code == 200


# --------------------------------------------------------------------------- error bodies


def test_unknown_job_is_404_byte_for_byte(shared):
    response = shared.get("/anonymize/status/nope", headers=AUTH)
    assert response.status_code == 404
    assert response.content == NOT_FOUND


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {}},
        {"json": {"entities": "PERSON_NAME"}},
        {"json": {"text": None}},
        {"json": {"text": 42}},
        {"json": {"text": ["a"]}},
        {"json": {"text": {"a": 1}}},
        {"json": ["text"]},
        {"json": "text"},
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"content": b""},
    ],
    ids=lambda kw: repr(kw)[:40],
)
def test_missing_or_non_string_text_is_the_documented_422(shared, kwargs):
    headers = {**AUTH, **kwargs.pop("headers", {})}
    response = shared.post("/anonymize/text", headers=headers, **kwargs)
    assert response.status_code == 422
    assert response.content == TEXT_422


@pytest.mark.parametrize("text", ["", " ", "\n\t  \r\n"])
def test_blank_text_is_400(shared, text):
    response = shared.post("/anonymize/text", headers=AUTH, json={"text": text})
    assert response.status_code == 400
    assert response.content == TEXT_400


@pytest.mark.parametrize("kind", ["txt", "xlsx", "xls", "PDF", "doc", "json", "status"])
def test_unsupported_upload_type_is_400(shared, kind):
    response = upload(shared, kind, b"data")
    assert response.status_code == 400
    assert response.content == UNSUPPORTED


@pytest.mark.parametrize("kind", ["pdf", "docx", "csv", "excel"])
def test_empty_upload_is_400(shared, kind):
    response = upload(shared, kind, b"")
    assert response.status_code == 400
    assert response.content == EMPTY


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {"entities": "EMAIL_ADDRESS"}},
        {"files": {"document": ("a.csv", b"a\n")}},
        {"json": {"file": "a,b"}},
        {"data": {"file": "a,b\n"}},
    ],
    ids=["no-file", "wrong-field", "json-body", "file-as-text"],
)
def test_upload_without_a_file_is_422(shared, kwargs):
    response = shared.post("/anonymize/csv", headers=AUTH, **kwargs)
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["body", "file"], "msg": "field required", "type": "value_error.missing"}
        ]
    }


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("abc", "type_error.integer"),
        ("1.5", "type_error.integer"),
        ("-1", "value_error.number.not_ge"),
    ],
)
def test_bad_start_index_is_422(shared, value, kind):
    response = upload(shared, "csv", b"a\n1\n", start_index=value)
    assert response.status_code == 422
    assert [e["type"] for e in response.json()["detail"]] == [kind]
    response = shared.post(
        "/anonymize/text", headers=AUTH, json={"text": "x", "start_index": value}
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "start_index"]]


def test_text_422_lists_every_problem_in_field_order(shared):
    response = shared.post(
        "/anonymize/text", headers=AUTH, json={"entities": 5, "start_index": "x"}
    )
    assert response.status_code == 422
    assert [e["loc"][1] for e in response.json()["detail"]] == ["text", "entities", "start_index"]


SECRET = "Ultra Secret Codename"
ENTRY = {"original": "a", "placeholder": "B"}


STRINGS = "original and placeholder must be strings"
BLANK = "original and placeholder must not be blank"
LONG = "original and placeholder must be at most 200 characters"


@pytest.mark.parametrize(
    ("custom", "detail"),
    [
        (ENTRY, 'custom_entities must be a list of {"original": str, "placeholder": str} objects'),
        (["a"], "custom_entities[0] must be an object with original and placeholder"),
        ([ENTRY, {"original": 1, "placeholder": "B"}], f"custom_entities[1]: {STRINGS}"),
        ([{"original": SECRET}], f"custom_entities[0]: {STRINGS}"),
        ([{"original": "  ", "placeholder": "B"}], f"custom_entities[0]: {BLANK}"),
        ([{"original": SECRET, "placeholder": " "}], f"custom_entities[0]: {BLANK}"),
        ([{"original": SECRET * 10, "placeholder": "B"}], f"custom_entities[0]: {LONG}"),
        ([{"original": SECRET, "placeholder": "B" * 201}], f"custom_entities[0]: {LONG}"),
        ([ENTRY] * 51, "Too many custom entities: at most 50 are allowed"),
    ],
)
def test_bad_custom_entities_are_400_without_echoing_values(shared, custom, detail):
    form = upload(shared, "pdf", b"%PDF-1.4", custom_entities=json.dumps(custom))
    body = shared.post(
        "/anonymize/text", headers=AUTH, json={"text": "hello", "custom_entities": custom}
    )
    for response in (form, body):
        assert response.status_code == 400
        assert response.json() == {"detail": detail}
        assert SECRET not in response.text


def test_custom_entities_in_a_form_must_be_json(shared):
    response = upload(shared, "csv", b"a\n", custom_entities=f"[{SECRET}]")
    assert response.status_code == 400
    assert response.json() == {
        "detail": 'custom_entities is not valid JSON; expected a list of {"original": str, '
        '"placeholder": str} objects'
    }


def test_fifty_entities_of_two_hundred_characters_are_accepted(shared):
    custom = [{"original": f"{i:03d}" + "x" * 197, "placeholder": "P" * 200} for i in range(50)]
    response = shared.post(
        "/anonymize/text", headers=AUTH, json={"text": "hello", "custom_entities": custom}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "detail"),
    [
        ("GET", "/nowhere", 404, "Not Found"),
        ("GET", "/anonymize/status/", 404, "Not Found"),
        ("GET", "/anonymize/text", 405, "Method Not Allowed"),
        ("POST", "/anonymize/status/abc", 405, "Method Not Allowed"),
        ("DELETE", "/anonymize/entities", 405, "Method Not Allowed"),
    ],
)
def test_unknown_routes_answer_json_detail(shared, method, path, status, detail):
    response = shared.request(method, path, headers=AUTH)
    assert response.status_code == status
    assert response.json() == {"detail": detail}


# --------------------------------------------------------------------------- lifecycle


def poll(client, job_id, headers=AUTH):
    response = client.get(f"/anonymize/status/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == STATUS_KEYS
    return body


def test_job_lifecycle_follows_the_clock(start):
    clock = ManualClock()
    sim, client = start(tokens=(TOKEN,), processing_time=10, progress_steps=4, clock=clock)
    response = upload(client, "csv", b"name,email\nJohn Doe,john@example.com\n")
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    seen = []
    for _ in range(12):
        seen.append(poll(client, job_id))
        clock.advance(1)
    statuses = [b["status"] for b in seen]
    assert statuses == ["queued"] * 2 + ["processing"] * 8 + ["completed"] * 2
    progress = [b["progress"] for b in seen]
    assert progress == [0, 0, 20, 20, 40, 40, 60, 60, 80, 80, 100, 100]
    for body in seen:
        assert body["file_type"] == "csv"
        assert body["created_at"] == 1_700_000_000.0
        assert body["error"] is None
        if body["status"] != "completed":
            assert body["result"] is None
            assert body["de_anonymization_map"] == {}
            assert body["entity_count"] == 0
    done = seen[-1]
    assert base64.b64decode(done["result"], validate=True) == (
        b"name,email\n[PERSON_NAME_1],[EMAIL_ADDRESS_2]\n"
    )
    assert done["de_anonymization_map"] == {
        "John Doe": "[PERSON_NAME_1]",
        "john@example.com": "[EMAIL_ADDRESS_2]",
    }
    assert done["entity_count"] == 2


def test_completed_job_answers_the_same_until_retention_ends(start):
    clock = ManualClock()
    _, client = start(tokens=(TOKEN,), processing_time=5, retention=100, clock=clock)
    job_id = upload(client).json()["job_id"]
    clock.advance(5)  # terminal now; retention runs from here, not from the upload
    first = client.get(f"/anonymize/status/{job_id}", headers=AUTH).content
    for step in (10, 50, 39.5):
        clock.advance(step)
        assert client.get(f"/anonymize/status/{job_id}", headers=AUTH).content == first
    clock.advance(0.5)
    response = client.get(f"/anonymize/status/{job_id}", headers=AUTH)
    assert response.status_code == 404
    assert response.content == NOT_FOUND
    clock.advance(1)
    assert client.get(f"/anonymize/status/{job_id}", headers=AUTH).content == NOT_FOUND


def test_default_retention_is_one_hour(start):
    clock = ManualClock()
    _, client = start(processing_time=2, clock=clock)
    job_id = upload(client, headers={}).json()["job_id"]
    clock.advance(2 + 3599)
    assert poll(client, job_id, headers={})["status"] == "completed"
    clock.advance(1)
    assert client.get(f"/anonymize/status/{job_id}").content == NOT_FOUND


def test_failed_job_freezes_progress_and_reports_error(start):
    clock = ManualClock()
    sim, client = start(processing_time=4, progress_steps=3, failure_rate=1.0, clock=clock)
    job_id = upload(client, headers={}).json()["job_id"]
    clock.advance(3.5)
    assert poll(client, job_id, headers={})["progress"] == 75
    clock.advance(1)
    failed = poll(client, job_id, headers={})
    assert failed["status"] == "failed"
    assert failed["progress"] == 75
    assert failed["error"] == "Anonymization failed: the document could not be processed."
    assert failed["result"] is None
    assert failed["de_anonymization_map"] == {}
    assert failed["entity_count"] == 0
    clock.advance(1000)
    assert poll(client, job_id, headers={}) == failed
    clock.advance(3600)
    assert client.get(f"/anonymize/status/{job_id}").status_code == 404


def test_controls_force_failure_completion_and_expiry(start):
    clock = ManualClock()
    sim, client = start(processing_time=10, progress_steps=9, clock=clock)
    ids = [upload(client, headers={}).json()["job_id"] for _ in range(3)]
    assert sorted(sim.state.job_ids()) == sorted(ids)
    clock.advance(4.5)
    sim.state.fail(ids[0], error="simulated outage")
    sim.state.complete(ids[1])
    sim.state.expire(ids[2])
    clock.advance(3)
    failed = poll(client, ids[0], headers={})
    assert (failed["status"], failed["progress"], failed["error"]) == (
        "failed",
        40,
        "simulated outage",
    )
    assert poll(client, ids[1], headers={})["status"] == "completed"
    assert client.get(f"/anonymize/status/{ids[2]}").content == NOT_FOUND
    sim.state.complete(ids[0])  # terminal states never change
    assert poll(client, ids[0], headers={}) == failed
    clock.advance(3600 - 3)  # retention counts from the forced moment
    assert client.get(f"/anonymize/status/{ids[0]}").status_code == 404
    with pytest.raises(KeyError):
        sim.state.fail("nope")


def test_zero_processing_time_completes_at_once(start):
    _, client = start(processing_time=0)
    job_id = upload(client, headers={}).json()["job_id"]
    assert poll(client, job_id, headers={})["status"] == "completed"


def test_failure_rate_and_seed_are_reproducible(start):
    def run(seed):
        sim, client = start(processing_time=0, failure_rate=0.5, seed=seed)
        ids = [upload(client, headers={}).json()["job_id"] for _ in range(12)]
        return ids, [poll(client, i, headers={})["status"] for i in ids]

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first[0] != other[0]
    assert set(first[1]) == {"completed", "failed"}


def test_job_ids_are_uuids_and_distinct_under_concurrency(start):
    import uuid

    sim, client = start(processing_time=0)
    ids: list[str] = []

    def worker():
        with httpx.Client(base_url=sim.url) as own:
            for _ in range(5):
                ids.append(upload(own, headers={}).json()["job_id"])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 40
    assert all(uuid.UUID(i).version == 4 for i in ids)


def test_the_documentations_polling_loop_works_unchanged(start, tmp_path, monkeypatch, capsys):
    sim, client = start(tokens=(TOKEN,), processing_time=1.2, progress_steps=2)
    JOB_ID = upload(client, "csv", b"who\nJane Smith\n").json()["job_id"]
    monkeypatch.chdir(tmp_path)
    base = sim.url
    # The polling example of the service's documentation (api/job-status), with the base URL
    # and token swapped in and httpx standing in for requests (same call shape).
    requests = httpx
    headers = {"Authorization": f"Bearer {TOKEN}"}

    while True:
        response = requests.get(f"{base}/anonymize/status/{JOB_ID}", headers=headers)
        result = response.json()

        if result["status"] == "completed":
            file_data = base64.b64decode(result["result"])
            with open("anonymized_output.pdf", "wb") as f:
                f.write(file_data)
            print(f"Done. Entities found: {result['entity_count']}")
            break

        elif result["status"] == "failed":
            print(f"Error: {result['error']}")
            break

        time.sleep(1)

    assert capsys.readouterr().out == "Done. Entities found: 1\n"
    assert (tmp_path / "anonymized_output.pdf").read_bytes() == b"who\n[PERSON_NAME_1]\n"


# --------------------------------------------------------------------------- uploads


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("pdf", "PDF anonymization job started."),
        ("docx", "DOCX anonymization job started."),
        ("csv", "CSV anonymization job started."),
        ("excel", "EXCEL anonymization job started."),
    ],
)
def test_all_four_uploads_start_jobs(start, kind, message):
    _, client = start(tokens=(TOKEN,), processing_time=0)
    line = "Project Phoenix by John Doe"
    data = {
        "csv": f"id,owner\n1,{line}\n".encode(),
        "pdf": make_pdf(line),
        "docx": make_docx(line),
        "excel": make_xlsx({"Sheet": {"A1": line, "B1": 7}}),
    }[kind]
    response = upload(
        client,
        kind,
        data,
        custom_entities='[{"original": "project phoenix", "placeholder": "PROJECT"}]',
        start_index="3",
    )
    assert response.status_code == 202
    body = response.json()
    assert list(body) == ["job_id", "message"]
    assert body["message"] == message
    done = poll(client, body["job_id"])
    assert done["file_type"] == kind
    result = base64.b64decode(done["result"])
    if kind == "csv":
        assert result == b"id,owner\n1,[PROJECT_4] by [PERSON_NAME_5]\n"
        assert done["de_anonymization_map"] == {
            "Project Phoenix": "[PROJECT_4]",
            "John Doe": "[PERSON_NAME_5]",
        }
        assert done["entity_count"] == 2
    else:
        assert done["de_anonymization_map"] == {
            "Project Phoenix": "[PROJECT_4]",
            "John Doe": "[PERSON_NAME_5]",
        }
        assert done["entity_count"] == 2
        read = {"pdf": pdf_text, "docx": docx_text, "excel": xlsx_values}[kind](result)
        expected = {
            "pdf": ["[PROJECT_4] by [PERSON_NAME_5]"],
            "docx": ["[PROJECT_4] by [PERSON_NAME_5]", ""],
            "excel": {"Sheet": {"A1": "[PROJECT_4] by [PERSON_NAME_5]", "B1": 7}},
        }[kind]
        assert read == expected


@pytest.mark.parametrize("kind", ["pdf", "docx", "excel"])
def test_unreadable_documents_come_back_unchanged_with_custom_entities(start, kind):
    _, client = start(tokens=(TOKEN,), processing_time=0)
    data = b"PK\x03\x04 binary \xff\xfe Project Phoenix by John Doe, phoenix again \x00"
    custom = '[{"original": "project phoenix", "placeholder": "PROJECT"}]'
    response = upload(client, kind, data, custom_entities=custom, start_index="3")
    done = poll(client, response.json()["job_id"])
    assert base64.b64decode(done["result"]) == data
    assert done["de_anonymization_map"] == {"Project Phoenix": "[PROJECT_4]"}
    assert done["entity_count"] == 1


def test_upload_fields_follow_the_text_rules(start):
    _, client = start(processing_time=0)
    response = upload(
        client, "csv", b"a;b\nJohn;john@example.com\n", headers={}, entities="EMAIL_ADDRESS"
    )
    done = poll(client, response.json()["job_id"], headers={})
    assert base64.b64decode(done["result"]) == b"a;b\nJohn;[EMAIL_ADDRESS_1]\n"


# --------------------------------------------------------------------------- limits


def text(client, headers=AUTH, body=None):
    return client.post("/anonymize/text", headers=headers, json=body or {"text": "Hi Jane"})


def test_rate_limit_is_30_per_minute_with_retry_after(start):
    clock = ManualClock()
    sim, client = start(tokens=(TOKEN, OTHER), rate_limit=True, clock=clock)
    for i in range(30):
        assert text(client).status_code == 200, i
        clock.advance(1 if i < 10 else 0)
    refused = text(client)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "50"
    assert refused.content == b'{"detail":"Rate limit exceeded. Try again in 50 seconds."}'
    # Uploads count and are refused the same way; polls and the entity list do not count.
    assert upload(client).status_code == 429
    for _ in range(40):
        assert client.get("/anonymize/status/x", headers=AUTH).status_code == 404
        assert client.get("/anonymize/entities", headers=AUTH).status_code == 200
    # Each token has its own window.
    assert text(client, {"Authorization": f"Bearer {OTHER}"}).status_code == 200
    clock.advance(49.5)
    assert text(client).headers["retry-after"] == "1"
    clock.advance(0.5)  # the first request left the window: one slot free
    assert text(client).status_code == 200
    assert text(client).status_code == 429
    assert sim.state.usage(TOKEN) == 31
    assert sim.state.usage(OTHER) == 1


def test_rejected_requests_do_not_count(start):
    clock = ManualClock()
    sim, client = start(tokens=(TOKEN,), rate_limit=True, clock=clock)
    for _ in range(10):
        assert text(client, body={"nope": 1}).status_code == 422
        assert text(client, body={"text": " "}).status_code == 400
        assert upload(client, "csv", b"").status_code == 400
        assert upload(client, "zip", b"x").status_code == 400
        assert text(client, headers={"Authorization": "Bearer bad"}).status_code == 401
    assert sim.state.usage(TOKEN) == 0
    for _ in range(30):
        assert text(client).status_code == 200


def test_429_comes_before_validation(start):
    clock = ManualClock()
    _, client = start(tokens=(TOKEN,), rate_limit=True, clock=clock)
    for _ in range(30):
        text(client)
    assert text(client, body={}).status_code == 429
    assert upload(client, "zip", b"").status_code == 429
    assert text(client, headers={}).content == MISSING  # 401 still first


def test_request_cap_is_1000_then_403_before_429(start):
    clock = ManualClock()
    sim, client = start(tokens=(TOKEN, OTHER), rate_limit=True, request_cap=True, clock=clock)
    accepted = 0
    while accepted < 1000:
        for _ in range(30):
            assert text(client).status_code == 200
            accepted += 1
            if accepted == 1000:
                break
        clock.advance(60)
    for _ in range(29):  # window not full, but the cap is reached
        refused = text(client)
    assert refused.status_code == 403
    assert refused.content == CAP
    assert upload(client).content == CAP
    assert text(client, body={}).status_code == 403  # before validation
    assert text(client, headers={"Authorization": "Bearer x"}).content == INVALID  # 401 first
    assert client.get("/anonymize/entities", headers=AUTH).status_code == 200
    assert text(client, {"Authorization": f"Bearer {OTHER}"}).status_code == 200
    clock.advance(10**6)
    assert text(client).status_code == 403  # a lifetime cap never resets
    assert sim.state.usage(TOKEN) == 1000


def test_limits_are_off_by_default(start):
    clock = ManualClock()
    _, client = start(tokens=(TOKEN,), clock=clock)
    for _ in range(40):
        assert text(client).status_code == 200


def test_limits_without_tokens_share_one_budget(start):
    clock = ManualClock()
    sim, client = start(rate_limit=True, clock=clock)
    for _ in range(30):
        assert text(client, headers={}).status_code == 200
    assert text(client, headers={}).status_code == 429
    assert sim.state.usage() == 30


def test_rate_limit_holds_under_concurrency(start):
    clock = ManualClock()
    sim, _ = start(tokens=(TOKEN,), rate_limit=True, clock=clock, latency=0.05)
    codes: list[int] = []
    lock = threading.Lock()

    def worker():
        with httpx.Client(base_url=sim.url) as own:
            for _ in range(5):
                code = text(own).status_code
                with lock:
                    codes.append(code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(200) == 30
    assert codes.count(429) == 10


# --------------------------------------------------------------------------- CORS


def test_cors_on_answers_and_errors(shared):
    origin = {"Origin": "https://app.example"}
    for response in (
        shared.get("/health", headers=origin),
        shared.get("/anonymize/status/x", headers={**AUTH, **origin}),
        shared.get("/anonymize/status/x", headers=origin),  # 401
    ):
        assert response.headers["access-control-allow-origin"] == "*"


def test_cors_preflight_is_answered_without_a_token(shared):
    response = shared.options(
        "/anonymize/csv",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-custom",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == (
        "authorization, content-type, x-custom"
    )


# --------------------------------------------------------------------------- faults


def test_error_rate_answers_500_on_anonymize_routes_only(start):
    sim, client = start(error_rate=1.0)
    for method, path in (("GET", "/anonymize/status/x"), ("GET", "/anonymize/entities")):
        response = client.request(method, path, headers={"Origin": "https://a.example"})
        assert response.status_code == 500
        assert response.content == INTERNAL
        assert response.headers["access-control-allow-origin"] == "*"
    assert text(client, headers={}).content == INTERNAL
    assert client.get("/health").status_code == 200
    assert sim.state.job_ids() == []


def test_drop_rate_closes_the_connection_without_an_answer(start):
    sim, client = start(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        client.get("/anonymize/status/x")
    with pytest.raises(httpx.RemoteProtocolError):
        upload(client, headers={})
    assert client.get("/health").status_code == 200
    assert sim.state.job_ids() == []
    assert sim.state.usage() == 0


def test_mixed_faults_are_reproducible_with_a_seed(start):
    def outcomes(seed):
        _, client = start(error_rate=0.3, drop_rate=0.3, seed=seed)
        seen = []
        for _ in range(20):
            try:
                seen.append(client.get("/anonymize/entities").status_code)
            except httpx.RemoteProtocolError:
                seen.append("drop")
        return seen

    first = outcomes(3)
    assert first == outcomes(3)
    assert {200, 500, "drop"} <= set(first)


def test_latency_delays_anonymize_routes(start):
    _, client = start(latency=0.3)
    began = time.perf_counter()
    client.get("/anonymize/entities")
    assert time.perf_counter() - began >= 0.3
    began = time.perf_counter()
    client.get("/health")
    assert time.perf_counter() - began < 0.3


def test_requests_are_counted_per_route(start):
    sim, client = start(error_rate=0.0)
    for i in range(3):
        client.get(f"/anonymize/status/job-{i}")
    text(client, headers={})
    text(client, headers={}, body={})
    client.get("/health")
    assert sim.state.request_counts() == {
        "GET /anonymize/status/{job_id}": 3,
        "POST /anonymize/text": 2,
        "GET /health": 1,
    }


# --------------------------------------------------------------------------- Python API


def test_submit_makes_jobs_without_http_or_counting(start):
    clock = ManualClock()
    sim, client = start(rate_limit=True, processing_time=1, clock=clock)
    job_id = sim.submit("csv", b"n\nJohn\nZeta\n", start_index=2, custom_entities=[("zeta", "COL")])
    clock.advance(1)
    done = poll(client, job_id, headers={})
    assert base64.b64decode(done["result"]) == b"n\n[PERSON_NAME_3]\n[COL_4]\n"
    assert sim.state.usage() == 0
    assert sim.state.request_counts() == {"GET /anonymize/status/{job_id}": 1}
    with pytest.raises(SimulatorError):
        sim.submit("txt", b"x")


def test_port_in_use_raises_simulator_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SimulatorError, match=f"cannot listen on 127.0.0.1:{port}"):
            run_simulator(port=port)


def test_stop_releases_the_port_and_is_idempotent():
    sim = run_simulator()
    url = sim.url
    assert httpx.get(f"{url}/health").status_code == 200
    sim.stop()
    sim.stop()
    assert not sim.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health")


@pytest.mark.parametrize(
    "knobs",
    [
        {"tokens": "abc"},
        {"tokens": ("",)},
        {"tokens": ("a b",)},
        {"tokens": (" a",)},
        {"processing_time": -1},
        {"retention": float("nan")},
        {"latency": float("inf")},
        {"failure_rate": 1.5},
        {"error_rate": -0.1},
        {"drop_rate": True},
        {"error_rate": 0.6, "drop_rate": 0.6},
        {"progress_steps": -1},
        {"progress_steps": 2.5},
    ],
)
def test_config_rejects_nonsense(knobs):
    with pytest.raises(InputError):
        SimulatorConfig(**knobs)


def test_manual_clock_only_moves_forward():
    clock = ManualClock(100.0)
    assert clock() == 100.0
    assert clock.advance(2.5) == 102.5
    with pytest.raises(InputError):
        clock.advance(-1)


def test_config_accepts_a_list_of_tokens_and_keeps_a_tuple():
    config = SimulatorConfig(tokens=["a", "b"])
    assert config.tokens == ("a", "b")
    with pytest.raises(AttributeError):
        config.tokens = ()  # frozen
