"""The API client: validation of every answer, retries, waits and errors.

Protocol details and hostile answers come from an ``httpx.MockTransport``; the real-socket
round trips against the simulator are at the end of the module.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.client import AsyncQuestaClient, QuestaClient, RetryPolicy, check_job_id
from vault.errors import (
    ApiAuthError,
    ApiError,
    InputError,
    JobNotFound,
    MalformedResponse,
    RateLimited,
    ServerError,
)
from vault.models import RemoteJob, SubmitOptions

JOB = "550e8400-e29b-41d4-a716-446655440000"
SECRET = "Jane Q. Secretperson"  # an original value: must never appear in any error
FILE = b"name,email\n[PERSON_NAME_1],[EMAIL_ADDRESS_2]\n"


def completed(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "completed",
        "progress": 100,
        "file_type": "csv",
        "result": base64.b64encode(FILE).decode(),
        "de_anonymization_map": {SECRET: "[PERSON_NAME_1]", "j@x.org": "[EMAIL_ADDRESS_2]"},
        "entity_count": 2,
        "error": None,
        "created_at": 1678886400.0,
    }
    body.update(changes)
    return body


class Recorder:
    """A MockTransport handler that answers from a script and records every request."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], Any]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


def ok(body: Any, status: int = 200, **kw: Any) -> httpx.Response:
    return httpx.Response(status, json=body, **kw)


def make_client(
    handler: Recorder, *, token: str | None = "tok", sleeps: list[float] | None = None, **kw: Any
) -> QuestaClient:
    recorded = sleeps if sleeps is not None else []
    return QuestaClient(
        "http://questa.test",
        token,
        transport=httpx.MockTransport(handler),
        sleep=recorded.append,
        rng=random.Random(7),
        **kw,
    )


# --- validation ------------------------------------------------------------------------------


def test_completed_status_is_decoded() -> None:
    with make_client(Recorder(ok(completed()))) as client:
        job = client.status(JOB)
    assert job.status == "completed"
    assert job.result == FILE
    assert dict(job.mapping) == {SECRET: "[PERSON_NAME_1]", "j@x.org": "[EMAIL_ADDRESS_2]"}
    assert (job.entity_count, job.file_type, job.progress, job.created_at) == (
        2,
        "csv",
        100,
        1678886400.0,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "processing", "progress": 40, "created_at": 1.0}, None),
        (completed(file_type="xlsx"), None),
        (completed(de_anonymization_map={}, entity_count=5), None),
        (completed(de_anonymization_map={"Phoenix": "[my project_3]"}), None),
        (
            {
                "status": "failed",
                "progress": 30,
                "file_type": "pdf",
                "result": None,
                "de_anonymization_map": {},
                "entity_count": 0,
                "error": "bad pdf",
                "created_at": 2,
            },
            None,
        ),
    ],
)
def test_valid_answers_pass(body: dict[str, Any], field: str | None) -> None:
    with make_client(Recorder(ok(body))) as client:
        job = client.status(JOB)
    assert job.status == body["status"]


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        (completed(status="done"), "status", "is not one of"),
        (completed(status=None), "status", "is not one of"),
        ({k: v for k, v in completed().items() if k != "status"}, "status", "is missing"),
        (completed(progress=True), "progress", "integer from 0 to 100"),
        (completed(progress=101), "progress", "integer from 0 to 100"),
        (completed(progress=-1), "progress", "integer from 0 to 100"),
        (completed(progress="100"), "progress", "integer from 0 to 100"),
        (completed(progress=99.5), "progress", "integer from 0 to 100"),
        ({k: v for k, v in completed().items() if k != "progress"}, "progress", "is missing"),
        (completed(created_at="yesterday"), "created_at", "Unix time"),
        (completed(created_at=-5), "created_at", "Unix time"),
        (completed(file_type="exe"), "file_type", "is not one of"),
        (completed(file_type=None), "file_type", "is not one of"),
        (completed(result=None), "result", "missing from a completed job"),
        ({k: v for k, v in completed().items() if k != "result"}, "result", "is missing"),
        (completed(result="abc"), "result", "not valid base64"),
        (completed(result="YW Jj"), "result", "not valid base64"),
        (completed(result="YWJj\n"), "result", "not valid base64"),
        (completed(result="YWJj!!=="), "result", "not valid base64"),
        (completed(result="YWJjé"), "result", "not valid base64"),
        (completed(result=12), "result", "not a base64 string"),
        (completed(de_anonymization_map=[SECRET]), "de_anonymization_map", "not an object"),
        (completed(de_anonymization_map={SECRET: 3}), "de_anonymization_map", "non-text"),
        (
            completed(de_anonymization_map={SECRET: "PERSON_NAME_1"}),
            "de_anonymization_map",
            "not like [LABEL_N]",
        ),
        (
            completed(de_anonymization_map={SECRET: "[PERSON_NAME]"}),
            "de_anonymization_map",
            "not like [LABEL_N]",
        ),
        (completed(de_anonymization_map={"": "[X_1]"}), "de_anonymization_map", "empty"),
        (
            {k: v for k, v in completed().items() if k != "de_anonymization_map"},
            "de_anonymization_map",
            "is missing",
        ),
        (completed(entity_count=-1), "entity_count", "is negative"),
        (completed(entity_count=False), "entity_count", "not an integer"),
        (completed(entity_count="2"), "entity_count", "not an integer"),
        (completed(error=["x"]), "error", "not text"),
        (
            {"status": "queued", "progress": 0, "created_at": 1, "de_anonymization_map": "x"},
            "de_anonymization_map",
            "not an object",
        ),
    ],
)
def test_malformed_answers_name_the_job_and_field_never_the_value(
    body: dict[str, Any], field: str, problem: str
) -> None:
    with make_client(Recorder(ok(body))) as client, pytest.raises(MalformedResponse) as info:
        client.status(JOB)
    message = str(info.value)
    assert message.startswith(f"job {JOB}: field '{field}' ")
    assert problem in message
    assert message.endswith("nothing was stored")
    assert SECRET not in message and "Secretperson" not in message


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(200, content=b"{not json"), "is not valid JSON"),
        (httpx.Response(200, content=b"\xff\xfe\x00garbage"), "is not valid JSON"),
        (httpx.Response(200, content=b""), "is not valid JSON"),
        (ok([completed()]), "is not a JSON object"),
        (
            httpx.Response(
                200, stream=httpx.ByteStream(b"not gzip"), headers={"Content-Encoding": "gzip"}
            ),
            "could not be decoded (DecodingError)",
        ),
        (ok("completed"), "is not a JSON object"),
    ],
)
def test_unparseable_answers(response: httpx.Response, expected: str) -> None:
    with make_client(Recorder(response)) as client, pytest.raises(MalformedResponse) as info:
        client.status(JOB)
    assert str(info.value).startswith(f"job {JOB}: ")
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"anonymized_text": 5, "map": {}, "entities": 0}, "'anonymized_text' is not text"),
        ({"anonymized_text": "x", "entities": 0}, "'map' is missing"),
        ({"anonymized_text": "x", "map": {SECRET: "x"}, "entities": 1}, "not like [LABEL_N]"),
        ({"anonymized_text": "x", "map": {}, "entities": -2}, "'entities' is negative"),
    ],
)
def test_malformed_text_answers(body: dict[str, Any], expected: str) -> None:
    with make_client(Recorder(ok(body))) as client, pytest.raises(MalformedResponse) as info:
        client.anonymize_text(f"hello {SECRET}")
    assert str(info.value).startswith("text anonymization: ")
    assert expected in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "body", [{"message": "started"}, {"job_id": "../../etc/passwd"}, {"job_id": 7}, {"job_id": ""}]
)
def test_upload_answer_needs_a_safe_job_id(body: dict[str, Any]) -> None:
    with make_client(Recorder(ok(body, 202))) as client, pytest.raises(MalformedResponse) as info:
        client.upload(FILE, "csv")
    assert str(info.value).startswith("csv upload: field 'job_id' ")


@pytest.mark.parametrize(
    ("job_id", "valid"),
    [
        (JOB, True),
        ("text-1f0c", True),
        ("A.b_c-9", True),
        ("", False),
        ("../x", False),
        ("a/b", False),
        (".hidden", False),
        ("x" * 129, False),
        ("id with space", False),
    ],
)
def test_job_id_check(job_id: str, valid: bool) -> None:
    if valid:
        assert check_job_id(job_id) == job_id
    else:
        with pytest.raises(InputError, match="not a valid job id"):
            check_job_id(job_id)


def test_entities_accepts_object_or_list() -> None:
    with make_client(Recorder(ok({"entities": ["PERSON_NAME", "IBAN"]}), ok(["DATE"]))) as c:
        assert c.entities() == ("PERSON_NAME", "IBAN")
        assert c.entities() == ("DATE",)


# --- requests --------------------------------------------------------------------------------


@pytest.mark.parametrize(("token", "header"), [("tok-1", "Bearer tok-1"), (None, None)])
def test_authorization_header_only_with_a_token(token: str | None, header: str | None) -> None:
    rec = Recorder(ok(completed()))
    with make_client(rec, token=token) as client:
        client.status(JOB)
    assert rec.requests[0].headers.get("Authorization") == header
    assert rec.requests[0].url.path == f"/anonymize/status/{JOB}"


def test_upload_sends_multipart_with_options() -> None:
    rec = Recorder(ok({"job_id": JOB, "message": "CSV anonymization job started."}, 202))
    options = SubmitOptions(
        entities="PERSON_NAME,EMAIL_ADDRESS", start_index=5, custom_entities=(("Phoenix", "P"),)
    )
    with make_client(rec) as client:
        assert client.upload(FILE, "csv", filename="people.csv", options=options) == JOB
    request = rec.requests[0]
    assert request.method == "POST" and request.url.path == "/anonymize/csv"
    body = request.read()
    assert b'name="file"; filename="people.csv"' in body and FILE in body
    assert b'name="entities"\r\n\r\nPERSON_NAME,EMAIL_ADDRESS' in body
    assert b'name="start_index"\r\n\r\n5' in body
    assert b'[{"original": "Phoenix", "placeholder": "P"}]' in body


def test_text_sends_json() -> None:
    rec = Recorder(
        ok(
            {
                "anonymized_text": "Hi [PERSON_NAME_1]",
                "map": {"Al": "[PERSON_NAME_1]"},
                "entities": 1,
            }
        )
    )
    with make_client(rec) as client:
        result = client.anonymize_text("Hi Al", SubmitOptions(custom_entities=(("Al", "P"),)))
    assert result.anonymized_text == "Hi [PERSON_NAME_1]" and result.entities == 1
    assert json.loads(rec.requests[0].content) == {
        "text": "Hi Al",
        "start_index": 0,
        "custom_entities": [{"original": "Al", "placeholder": "P"}],
    }


@pytest.mark.parametrize("url", ["ftp://x.org", "not a url", "http://", ""])
def test_bad_base_url_is_refused(url: str) -> None:
    with pytest.raises(InputError, match="API URL"):
        QuestaClient(url)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "the API token is empty"),
        ("tökén-secret", "the API token has characters an HTTP header cannot carry"),
        ("secret\r\nX-Admin: 1", "the API token has characters an HTTP header cannot carry"),
        ("two words", "the API token has characters an HTTP header cannot carry"),
        ("tab\tsecret", "the API token has characters an HTTP header cannot carry"),
        ("del\x7fsecret", "the API token has characters an HTTP header cannot carry"),
        ("nul\x00secret", "the API token has characters an HTTP header cannot carry"),
    ],
)
def test_a_token_a_header_cannot_carry_is_refused_unshown(token: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        QuestaClient("http://questa.test", token)
    assert str(info.value) == message
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("token", ["tok-1", "a.b_c~d+e/f==", "eyJhbGciOi.J9x-_", "!#$%&'*:;<>?@"])
def test_visible_ascii_tokens_are_sent(token: str) -> None:
    rec = Recorder(ok(completed()))
    with make_client(rec, token=token) as client:
        client.status(JOB)
    assert rec.requests[0].headers["Authorization"] == f"Bearer {token}"


# --- errors and retries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (401, "Bearer token missing"),
        (401, "Invalid bearer token"),
        (403, "Evaluation request limit reached (1000)."),
    ],
)
def test_auth_errors_stop_at_once_with_the_detail(status: int, detail: str) -> None:
    rec = Recorder(ok({"detail": detail}, status))
    sleeps: list[float] = []
    with make_client(rec, sleeps=sleeps) as client, pytest.raises(ApiAuthError) as info:
        client.status(JOB)
    assert str(info.value) == f"job {JOB}: HTTP {status}: {detail}"
    assert info.value.status == status
    assert len(rec.requests) == 1 and sleeps == []


def test_404_means_unknown_or_expired() -> None:
    rec = Recorder(ok({"detail": "Job not found"}, 404))
    with make_client(rec) as client, pytest.raises(JobNotFound) as info:
        client.status(JOB)
    assert str(info.value) == f"job {JOB}: unknown or expired (results are kept 1 hour)"
    assert len(rec.requests) == 1


def test_other_4xx_reports_the_detail_without_retry() -> None:
    rec = Recorder(ok({"detail": "Uploaded file is empty"}, 400))
    with make_client(rec) as client, pytest.raises(ApiError) as info:
        client.upload(b"x", "pdf")
    assert str(info.value) == "pdf upload: the server refused (HTTP 400: Uploaded file is empty)"
    assert len(rec.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [
        ok({"detail": "Internal server error"}, 500),
        httpx.Response(502, content=b"<html>bad gateway</html>"),
        ok({}, 503),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("timed out"),
    ],
)
def test_transient_failures_are_retried_with_bounded_jittered_backoff(failure: Any) -> None:
    rec = Recorder(failure, failure, failure, ok(completed()))
    sleeps: list[float] = []
    policy = RetryPolicy(max_retries=5, backoff_base=0.5, backoff_cap=8.0)
    with make_client(rec, sleeps=sleeps, retry=policy) as client:
        assert client.status(JOB).status == "completed"
    assert len(rec.requests) == 4
    assert len(sleeps) == 3
    for n, delay in enumerate(sleeps):
        assert 0.0 <= delay <= min(8.0, 0.5 * 2**n)


def test_retries_are_bounded_in_count() -> None:
    rec = Recorder(ok({"detail": "Internal server error"}, 500))
    sleeps: list[float] = []
    with make_client(rec, sleeps=sleeps, retry=RetryPolicy(max_retries=3)) as client:
        with pytest.raises(ServerError) as info:
            client.status(JOB)
    assert len(rec.requests) == 4 and len(sleeps) == 3
    assert str(info.value) == (
        f"job {JOB}: the server answered HTTP 500: Internal server error, 4 attempts made"
    )


def test_retries_are_bounded_in_time() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    rec = Recorder(httpx.ConnectError("refused"))
    policy = RetryPolicy(max_retries=100, backoff_base=1.0, backoff_cap=4.0, deadline=20.0)
    client = QuestaClient(
        "http://questa.test",
        transport=httpx.MockTransport(rec),
        sleep=sleep,
        clock=lambda: now[0],
        rng=random.Random(1),
        retry=policy,
    )
    with (
        client,
        pytest.raises(
            ServerError,
            match=r"cannot reach questa\.test \(ConnectError\), giving up after \d+ attempts "
            r"\(20 s allowed\)",
        ),
    ):
        client.status(JOB)
    assert now[0] <= 20.0
    assert 3 < len(rec.requests) < 100


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), ("0", 0.0), ("1.5", 1.5)],
)
def test_429_waits_retry_after_then_continues(header: str, expected: float) -> None:
    limited = ok({"detail": "Rate limit exceeded."}, 429, headers={"Retry-After": header})
    rec = Recorder(limited, ok(completed()))
    sleeps: list[float] = []
    with make_client(rec, sleeps=sleeps) as client:
        assert client.status(JOB).status == "completed"
    assert sleeps == [expected]
    assert len(rec.requests) == 2


def test_429_with_an_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    limited = ok({}, 429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    rec = Recorder(limited, ok(completed()))
    sleeps: list[float] = []
    with make_client(rec, sleeps=sleeps) as client:
        client.status(JOB)
    assert 27.0 <= sleeps[0] <= 30.0


def test_429_longer_than_allowed_is_reported_not_obeyed() -> None:
    rec = Recorder(ok({}, 429, headers={"Retry-After": "3600"}))
    sleeps: list[float] = []
    with make_client(rec, sleeps=sleeps, retry=RetryPolicy(max_wait=60)) as client:
        with pytest.raises(RateLimited) as info:
            client.status(JOB)
    assert str(info.value) == (
        f"job {JOB}: rate limited; the server asks to wait 3600 s, more than the 60 s allowed"
    )
    assert sleeps == []


def test_429_waits_are_bounded_in_count() -> None:
    rec = Recorder(ok({}, 429, headers={"Retry-After": "1"}))
    sleeps: list[float] = []
    with make_client(rec, sleeps=sleeps, retry=RetryPolicy(max_rate_limited=4)) as client:
        with pytest.raises(RateLimited, match="still rate limited .* after 4 waits"):
            client.status(JOB)
    assert sleeps == [1.0] * 4 and len(rec.requests) == 5


def test_retry_bookkeeping_is_per_call() -> None:
    failure = ok({}, 500)
    rec = Recorder(failure, failure, ok(completed()), failure, failure, ok(completed()))
    with make_client(rec, retry=RetryPolicy(max_retries=2)) as client:
        client.status(JOB)
        client.status(JOB)
    assert len(rec.requests) == 6


# --- the asyncio twin ------------------------------------------------------------------------


def test_async_client_shares_validation_and_retries() -> None:
    rec = Recorder(ok({}, 503), httpx.ConnectError("refused"), ok(completed()))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = QuestaClient(
        "http://questa.test", transport=httpx.MockTransport(rec), async_sleep=sleep
    )

    async def go() -> None:
        async with client.aio() as aclient:
            job = await aclient.status(JOB)
            assert job.result == FILE

    asyncio.run(go())
    assert len(rec.requests) == 3 and len(waits) == 2


def test_async_client_raises_the_same_errors() -> None:
    rec = Recorder(ok(completed(result="###")))

    async def go() -> None:
        async with AsyncQuestaClient("http://q.test", transport=httpx.MockTransport(rec)) as c:
            await c.status(JOB)

    with pytest.raises(MalformedResponse, match="field 'result' is not valid base64"):
        asyncio.run(go())


def test_sync_only_transport_cannot_serve_asyncio() -> None:
    class SyncOnly(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return ok(completed())

    with pytest.raises(InputError, match="cannot serve the asyncio client"):
        QuestaClient("http://q.test", transport=SyncOnly()).aio()


# --- the blocking client is a thin wrapper over the asyncio one ------------------------------


def test_blocking_calls_share_one_connection_pool_and_refuse_a_running_loop() -> None:
    rec = Recorder(ok(completed()))
    with make_client(rec) as client:
        client.status(JOB)
        client.status(JOB)
        pool = client._blocking  # the asyncio client underneath, made on first use
        client.status(JOB)
        assert client._blocking is pool and len(rec.requests) == 3

        async def inside_a_loop() -> None:
            client.status(JOB)

        with pytest.raises(InputError, match=r"inside a running event loop: use \.aio\(\)"):
            asyncio.run(inside_a_loop())
    assert client._blocking is None  # closed with the client


def test_an_answer_is_never_formatted_by_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.11's ``asyncio.Runner`` formats its main task's repr (result included) when it
    restores the SIGINT handler: the blocking client must not hand the answer over as the
    task's result, or a large file (and the map's originals) would be copied into a string
    (this was a 16 MiB result costing 6.7 times its size)."""
    formatted: list[str] = []

    def counting_repr(self: RemoteJob) -> str:
        formatted.append(self.job_id)
        return "RemoteJob(...)"

    monkeypatch.setattr(RemoteJob, "__repr__", counting_repr)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a program
    try:
        with make_client(Recorder(ok(completed()))) as client:
            assert client.status(JOB).status == "completed"
    finally:
        signal.signal(signal.SIGINT, previous)
    assert formatted == []

    async def as_a_task_result() -> RemoteJob:  # the check is not vacuous: a plain run does
        async with client.aio() as aclient:
            return await aclient.status(JOB)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        asyncio.run(as_a_task_result())
    finally:
        signal.signal(signal.SIGINT, previous)
    assert formatted and set(formatted) == {JOB}


def test_no_import_is_retried_per_request_on_the_real_network_stack() -> None:
    """httpcore runs ``import sniffio`` on every request and, with sniffio missing, retried
    the failed import each time (about 10% of a fetch's CPU); sniffio is a dependency now.
    Any module looked up while requests run would show up here."""
    import importlib.abc
    import sys

    from vault.simulator import SimulatorConfig, run_simulator

    looked_up: list[str] = []
    hidden: set[str] = set()

    class Recorder(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
            looked_up.append(name)
            if name in hidden:  # what a missing module looks like
                raise ImportError(name)

    with run_simulator(SimulatorConfig(processing_time=0)) as sim:
        with QuestaClient(sim.url) as blocking:
            job = blocking.upload(b"name\nJohn Doe\n", "csv")

        async def poll(warm: bool) -> None:
            async with AsyncQuestaClient(sim.url) as client:
                if warm:
                    await client.status(job)  # the first request may load what it needs
                sys.meta_path.insert(0, Recorder())
                try:
                    for _ in range(5):
                        await client.status(job)
                finally:
                    del sys.meta_path[0]

        asyncio.run(poll(warm=True))
        assert looked_up == []

        hidden.add("sniffio")  # the check is not vacuous: without sniffio, every request asks
        saved = sys.modules.pop("sniffio")
        try:
            asyncio.run(poll(warm=False))
        finally:
            sys.modules["sniffio"] = saved
        assert looked_up.count("sniffio") >= 5


@given(st.text(min_size=1, max_size=40), st.integers(1, 10**6))
def test_submit_refuses_exactly_the_custom_labels_whose_answers_would_be_refused(
    label: str, number: int
) -> None:
    """One rule: a custom entity's label `submit` accepts is one whose placeholders
    (`[LABEL_N]`) pass the check of the service's answer, and one it refuses would fail it
    (the file would be sent, anonymized, and the answer thrown away)."""
    from vault.archive import custom_entities
    from vault.client._validate import parse_text_result
    from vault.errors import InputError, MalformedResponse

    answer = {"anonymized_text": "x", "map": {"Zorblax": f"[{label}_{number}]"}, "entities": 1}
    try:
        custom_entities(json.dumps({"Zorblax": label}))
    except InputError as exc:
        refused_before = "'placeholder' is a label" in str(exc)
        if not refused_before:  # empty or blank: refused before sending for another reason
            return
    else:
        refused_before = False
    try:
        parse_text_result(answer)
        refused_after = False
    except MalformedResponse:
        refused_after = True
    assert refused_before == refused_after, (label, refused_before, refused_after)
