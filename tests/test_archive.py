"""Fetch, submit and sync against the simulator over loopback.

The archive side is a small in-memory ``FakeVault`` with the custodian's archive methods (the
orchestration takes its collaborators as arguments); the same flows against the real custodian
are in ``test_cli_archive.py`` and at the end of this module.
"""

from __future__ import annotations

import base64
import random
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from vault import archive
from vault.archive import PollPolicy, RunOptions, SubmitFile, check_files
from vault.client import QuestaClient, RetryPolicy
from vault.custody import Custodian, KdfParams
from vault.errors import ApiAuthError, InputError, VaultError
from vault.models import JobContent, JobInfo, SubmitOptions
from vault.simulator import ManualClock, SimulatorConfig, run_simulator

FAST_POLL = PollPolicy(first=0.01, factor=1.5, cap=0.05)
FAST_RETRY = RetryPolicy(max_retries=8, backoff_base=0.005, backoff_cap=0.05)
CSV = b"name,email\nJohn Doe,john@example.com\nJane Roe,jane@example.com\n"
SECRET_TEXT = "My name is John Doe and my email is john@example.com.\n"


class FakeVault:
    """The custodian's archive methods, in memory; idempotent like the real one."""

    def __init__(self) -> None:
        self.infos: dict[str, JobInfo] = {}
        self.contents: dict[str, JobContent] = {}
        self.pending_meta: dict[str, tuple[str | None, SubmitOptions | None]] = {}
        self.stored: list[str] = []  # job ids, once per successful store
        self.lock = threading.Lock()

    @staticmethod
    def _info(job_id: str, status: str, file_type: str, **kw: Any) -> JobInfo:
        fields: dict[str, Any] = dict(
            job_id=job_id, status=status, file_type=file_type, source="upload", created_at=None,
            submitted_at=None, fetched_at=None, archived_at=None, expires_at=None,
            entity_count=0, map_size=0, entity_counts={}, file_size=0, key_version=1,
            recipients=(),
        )  # fmt: skip
        fields.update(kw)
        return JobInfo(**fields)

    def record_pending(
        self, job_id: str, *, file_type: str, source: str, submitted_at: float,
        filename: str | None, options: SubmitOptions | None, actor: str,
        api_url: str | None = None,
    ) -> bool:  # fmt: skip
        with self.lock:
            if job_id in self.infos:
                return False
            self.infos[job_id] = self._info(
                job_id,
                "pending",
                file_type,
                source=source,
                submitted_at=submitted_at,
                api_url=api_url,
            )
            self.pending_meta[job_id] = (filename, options)
            return True

    def store_job(self, content: JobContent, *, actor: str, api_url: str | None = None) -> bool:
        with self.lock:
            old = self.infos.get(content.job_id)
            if old is not None and old.status in ("archived", "failed"):
                return False
            self.infos[content.job_id] = self._info(
                content.job_id, content.status, content.file_type, source=content.source,
                created_at=content.created_at, entity_count=content.entity_count,
                map_size=len(content.mapping), file_size=len(content.content or b""),
                submitted_at=old.submitted_at if old else None,
                api_url=api_url or (old.api_url if old else None),
            )  # fmt: skip
            self.contents[content.job_id] = content
            self.stored.append(content.job_id)
            return True

    def mark_expired(self, job_id: str, *, actor: str) -> None:
        with self.lock:
            self.infos[job_id] = replace(self.infos[job_id], status="expired")

    def get_job(self, job_id: str) -> JobInfo | None:
        return self.infos.get(job_id)

    def pending_jobs(self) -> list[JobInfo]:
        return [i for i in self.infos.values() if i.status == "pending"]


@pytest.fixture
def sim() -> Iterator[Any]:
    with run_simulator(SimulatorConfig(processing_time=0.05, progress_steps=2, seed=1)) as s:
        yield s


def client_for(sim: Any, **kw: Any) -> QuestaClient:
    kw.setdefault("retry", FAST_RETRY)
    return QuestaClient(sim.url, **kw)


def opts(**kw: Any) -> RunOptions:
    kw.setdefault("poll", FAST_POLL)
    kw.setdefault("timeout", 20.0)
    return RunOptions(actor="tester", **kw)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- submit ----------------------------------------------------------------------------------

OPAQUE = {"pdf": b"%PDF-1.4\n% Phoenix report\n", "docx": b"PK\x03\x04docx Phoenix",
          "xlsx": b"PK\x03\x04xlsx Phoenix"}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "data", "file_type", "expect_in_result", "expect_map"),
    [
        ("people.csv", CSV, "csv", b"[PERSON_NAME_1]", {"John Doe", "john@example.com"}),
        ("report.pdf", OPAQUE["pdf"], "pdf", OPAQUE["pdf"], {"Phoenix"}),
        ("letter.docx", OPAQUE["docx"], "docx", OPAQUE["docx"], {"Phoenix"}),
        ("sheet.xlsx", OPAQUE["xlsx"], "excel", OPAQUE["xlsx"], {"Phoenix"}),
        ("note.txt", SECRET_TEXT.encode(), "text", b"My name is [PERSON_NAME_1]", {"John Doe"}),
        ("note.md", b"# Hi John Doe\n", "text", b"# Hi [PERSON_NAME_1]", {"John Doe"}),
    ],
)
def test_submit_archives_every_file_type(
    sim: Any, tmp_path: Path, name: str, data: bytes, file_type: str,
    expect_in_result: bytes, expect_map: set[str],
) -> None:  # fmt: skip
    vault = FakeVault()
    files = check_files([write(tmp_path, name, data)])
    assert files[0].file_type == file_type
    custom = SubmitOptions(custom_entities=(("Phoenix", "PROJECT"),))
    with client_for(sim) as client:
        [outcome] = archive.submit(client, vault, files, opts(), custom)
    assert outcome.outcome == "archived", outcome
    assert outcome.ok and outcome.file == str(tmp_path / name)
    content = vault.contents[outcome.job_id]
    assert content.status == "archived" and content.file_type == file_type
    assert expect_in_result in (content.content or b"")
    assert expect_map <= set(content.mapping)
    if file_type == "text":
        assert outcome.job_id.startswith("text-") and content.source == "text"
        assert content.filename == name and content.options == custom
    else:
        # recorded pending with its name and options before it was archived
        assert vault.pending_meta[outcome.job_id] == (name, custom)
    assert vault.stored == [outcome.job_id]


def test_submit_no_wait_records_pending_then_sync_archives(sim: Any, tmp_path: Path) -> None:
    vault = FakeVault()
    files = check_files([write(tmp_path, f"f{i}.csv", CSV) for i in range(3)])
    with client_for(sim) as client:
        outcomes = archive.submit(client, vault, files, opts(wait=False))
        assert [o.outcome for o in outcomes] == ["pending"] * 3
        assert {j.job_id for j in vault.pending_jobs()} == {o.job_id for o in outcomes}
        report = archive.sync(client, vault, opts())
    assert sorted(o.outcome for o in report.outcomes) == ["archived"] * 3
    assert report.ok and report.warnings == () and vault.pending_jobs() == []


@pytest.mark.parametrize(
    ("names", "file_type", "message"),
    [
        (["missing.csv"], None, "missing.csv: no such file"),
        (["empty.csv"], None, "empty.csv: empty"),
        (["data.json"], None, "data.json: unsupported type (use .csv .pdf .docx .xlsx .txt .md"),
        (["latin1.txt"], None, "latin1.txt: text is not UTF-8"),
        (["ok.csv", "missing.csv", "empty.csv"], None, "2 files cannot be sent"),
        (["data.json"], "exe", "unsupported --type 'exe'"),
        (["sub"], None, "sub: not a regular file"),
    ],
)
def test_check_files_refuses_before_sending(
    tmp_path: Path, names: list[str], file_type: str | None, message: str
) -> None:
    write(tmp_path, "empty.csv", b"")
    write(tmp_path, "ok.csv", CSV)
    write(tmp_path, "data.json", b"{}")
    write(tmp_path, "latin1.txt", "café".encode("latin-1"))
    (tmp_path / "sub").mkdir()
    with pytest.raises(InputError) as info:
        check_files([tmp_path / n for n in names], file_type)
    assert message in str(info.value)
    assert str(info.value).startswith("nothing submitted") or "--type" in message


@pytest.mark.parametrize(
    ("override", "expected"), [("csv", "csv"), ("xlsx", "excel"), ("text", "text")]
)
def test_type_override(tmp_path: Path, override: str, expected: str) -> None:
    [item] = check_files([write(tmp_path, "export.dat", CSV)], override)
    assert item == SubmitFile(tmp_path / "export.dat", expected, len(CSV))


def test_submit_reports_a_refused_upload_and_continues(sim: Any, tmp_path: Path) -> None:
    vault = FakeVault()
    good = write(tmp_path, "good.csv", CSV)
    blank = write(tmp_path, "blank.txt", b"   \n")  # the text endpoint refuses blank text (400)
    with client_for(sim) as client:
        outcomes = archive.submit(client, vault, check_files([good, blank]), opts())
    assert [o.outcome for o in outcomes] == ["archived", "error"]
    assert outcomes[1].job_id is None
    assert outcomes[1].detail.startswith("text anonymization: the server refused (HTTP 400")


# --- fetch -----------------------------------------------------------------------------------


def test_fetch_archives_and_refetch_is_a_no_op(sim: Any) -> None:
    vault = FakeVault()
    ids = [sim.submit("csv", CSV) for _ in range(5)]
    seen: list[str] = []
    with client_for(sim) as client:
        outcomes = archive.fetch(
            client, vault, ids + ids[:2], opts(), on_outcome=lambda o: seen.append(o.job_id)
        )
        assert [o.job_id for o in outcomes] == ids
        assert [o.outcome for o in outcomes] == ["archived"] * 5
        assert sorted(seen) == sorted(ids)
        polls = sim.state.request_counts().get("GET /anonymize/status/{job_id}", 0)
        again = archive.fetch(client, vault, ids, opts())
    assert [o.outcome for o in again] == ["already-archived"] * 5
    assert again[0].detail == "already in the vault; nothing to do"
    assert sim.state.request_counts().get("GET /anonymize/status/{job_id}", 0) == polls
    assert sorted(vault.stored) == sorted(ids)
    content = vault.contents[ids[0]]
    assert content.mapping["John Doe"] == "[PERSON_NAME_1]"
    assert content.mapping["john@example.com"] == "[EMAIL_ADDRESS_2]"
    assert content.entity_count == len(content.mapping) == 4 and content.created_at is not None


def test_failed_job_is_recorded_with_the_servers_error(sim: Any) -> None:
    vault = FakeVault()
    job = sim.submit("pdf", OPAQUE["pdf"])
    sim.state.fail(job, "could not parse the PDF")
    with client_for(sim) as client:
        [outcome] = archive.fetch(client, vault, [job], opts())
        [again] = archive.fetch(client, vault, [job], opts())
    assert outcome.outcome == "failed" and not outcome.ok
    assert "could not parse" not in outcome.detail  # server text is archived encrypted only
    assert vault.contents[job].status == "failed"
    assert vault.contents[job].error == "could not parse the PDF"
    assert (again.outcome, again.detail) == ("failed", "recorded earlier as failed on the server")


def test_unknown_job_is_reported(sim: Any) -> None:
    vault = FakeVault()
    with client_for(sim) as client:
        [outcome] = archive.fetch(client, vault, ["00000000-0000-4000-8000-000000000000"], opts())
    assert (outcome.outcome, outcome.detail) == (
        "not-found",
        "unknown or expired (results are kept 1 hour); nothing recorded",
    )
    assert vault.infos == {}


def test_bad_job_id_is_refused_before_any_request(sim: Any) -> None:
    with client_for(sim) as client, pytest.raises(InputError, match="not a valid job id"):
        archive.fetch(client, FakeVault(), ["ok-id", "../etc"], opts())
    assert sim.state.request_counts() == {}


def test_timeout_leaves_the_job_pending_for_sync() -> None:
    with run_simulator(SimulatorConfig(processing_time=30, progress_steps=3)) as slow:
        vault = FakeVault()
        job = slow.submit("csv", CSV)
        with client_for(slow) as client:
            [outcome] = archive.fetch(client, vault, [job], opts(timeout=0.2))
            [no_wait] = archive.fetch(client, vault, [job], opts(wait=False))
    assert outcome.outcome == "timeout"
    assert outcome.detail.startswith("queued, 0% done after 0.2 s; recorded as pending")
    assert vault.infos[job].status == "pending"
    assert vault.infos[job].submitted_at is not None  # the server's created_at
    assert (no_wait.outcome, no_wait.ok) == ("pending", True)


def test_poll_interval_grows_to_its_cap() -> None:
    clock = ManualClock()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    config = SimulatorConfig(processing_time=20, progress_steps=4, clock=clock)
    with run_simulator(config) as slow:
        job = slow.submit("csv", CSV)
        options = opts(poll=PollPolicy(first=1.0, factor=2.0, cap=5.0), sleep=sleep, clock=clock)
        with client_for(slow) as client:
            [outcome] = archive.fetch(client, FakeVault(), [job], options)
    assert outcome.outcome == "archived"
    assert waits[:5] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert sum(waits) >= 20


def test_auth_error_stops_the_whole_run() -> None:
    with run_simulator(SimulatorConfig(tokens=("right",), processing_time=0)) as secured:
        ids = [secured.submit("csv", CSV) for _ in range(20)]
        with client_for(secured, token="wrong") as client, pytest.raises(ApiAuthError) as info:
            archive.fetch(client, FakeVault(), ids, opts(concurrency=2))
    assert str(info.value).endswith("HTTP 401: Invalid bearer token")
    assert secured.state.request_counts()["GET /anonymize/status/{job_id}"] < 20


def test_a_vault_error_fails_only_that_job(sim: Any) -> None:
    class Refusing(FakeVault):
        def store_job(self, content: JobContent, *, actor: str, api_url: str | None = None) -> bool:
            if content.job_id == bad:
                raise VaultError(f"job {bad}: disk full")
            return super().store_job(content, actor=actor, api_url=api_url)

    bad, good = sim.submit("csv", CSV), sim.submit("csv", CSV)
    vault = Refusing()
    with client_for(sim) as client:
        outcomes = archive.fetch(client, vault, [bad, good], opts())
    assert [(o.outcome, o.detail) for o in outcomes][0] == ("error", "disk full")
    assert outcomes[1].outcome == "archived"


def test_a_malformed_answer_fails_that_job_and_stores_nothing() -> None:
    good_body = {"status": "completed", "progress": 100, "file_type": "csv",
                 "result": base64.b64encode(CSV).decode(), "entity_count": 1,
                 "de_anonymization_map": {"John Doe": "[PERSON_NAME_1]"}, "error": None,
                 "created_at": 1.0}  # fmt: skip
    bodies = {
        "good": good_body,
        "bad-base64": {**good_body, "result": "bm90 YmFzZTY0"},
        "no-map": {k: v for k, v in good_body.items() if k != "de_anonymization_map"},
        "bad-type": {**good_body, "entity_count": "1"},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        job = request.url.path.rsplit("/", 1)[1]
        if job == "not-json":
            return httpx.Response(200, content=b"<html>")
        return httpx.Response(200, json=bodies[job])

    vault = FakeVault()
    client = QuestaClient("http://questa.test", transport=httpx.MockTransport(handler))
    with client:
        outcomes = archive.fetch(client, vault, [*bodies, "not-json"], opts())
    assert [(o.job_id, o.outcome, o.detail) for o in outcomes] == [
        ("good", "archived", f"csv, {len(CSV)} bytes, 1 map entry, 1 entity"),
        ("bad-base64", "error", "field 'result' is not valid base64; nothing was stored"),
        ("no-map", "error", "field 'de_anonymization_map' is missing; nothing was stored"),
        ("bad-type", "error", "field 'entity_count' is not an integer; nothing was stored"),
        ("not-json", "error", "the answer is not valid JSON; nothing was stored"),
    ]
    assert vault.stored == ["good"] and list(vault.infos) == ["good"]


# --- expiry ----------------------------------------------------------------------------------


def test_expired_pending_job_is_marked_expired_and_warned_about() -> None:
    clock = ManualClock()
    config = SimulatorConfig(processing_time=10, retention=3600, clock=clock)
    with run_simulator(config) as sim:
        vault = FakeVault()
        early, late, gone = (sim.submit("csv", CSV) for _ in range(3))
        for job in (early, late, gone):
            vault.record_pending(job, file_type="csv", source="upload", submitted_at=clock(),
                                 filename=None, options=None, actor="t")  # fmt: skip
        # `late` was submitted later, by our records: its estimated expiry is further away
        vault.infos[late] = replace(vault.infos[late], submitted_at=clock() + 1200)
        clock.advance(3600 + 10 + 1)  # `gone` and friends finished 3601 s ago: forgotten
        sim.state.expire(gone)
        with client_for(sim) as client:
            report = archive.sync(client, vault, opts(now=clock))
    outcomes = {o.job_id: o for o in report.outcomes}
    assert outcomes[gone].outcome == "expired"
    assert outcomes[gone].detail == (
        "expired before it was archived (results are kept 1 hour); marked expired"
    )
    assert vault.infos[gone].status == "expired"
    assert not report.ok
    # the other two are gone from the server too (404 for all three), but `late` was submitted
    # only 2411 s ago by our records: within the retention, so it is kept pending, not written off
    assert outcomes[early].outcome == "expired"
    assert outcomes[late].outcome == "not-found"
    assert outcomes[late].detail.startswith("not found at this server (")
    assert "submitted 40 min ago, within the 60-minute retention" in outcomes[late].detail
    assert vault.infos[late].status == "pending"
    assert report.warnings == ()  # `late` has 20 minutes left by the estimate


def test_sync_warns_about_pending_jobs_close_to_expiry() -> None:
    clock = ManualClock()
    config = SimulatorConfig(processing_time=7200, retention=3600, clock=clock)
    with run_simulator(config) as sim:
        vault = FakeVault()
        ids = [sim.submit("csv", CSV) for _ in range(3)]
        ages = [3100, 2900, 3700]  # seconds since submit: warn, no warning, past the estimate
        for job, age in zip(ids, ages):
            vault.record_pending(job, file_type="csv", source="upload", submitted_at=clock() - age,
                                 filename=None, options=None, actor="t")  # fmt: skip
        with client_for(sim) as client:
            report = archive.sync(client, vault, opts(wait=False, now=clock))
    assert [o.outcome for o in report.outcomes] == ["pending"] * 3
    assert [(w.job_id, round(w.seconds_left)) for w in report.warnings] == [
        (ids[0], 500), (ids[2], -100)
    ]  # fmt: skip
    assert report.warnings[0].expires_at == clock() + 500


def test_sync_with_nothing_pending(sim: Any) -> None:
    with client_for(sim) as client:
        report = archive.sync(client, FakeVault(), opts())
    assert report.outcomes == () and report.ok
    assert sim.state.request_counts() == {}


# --- faults ----------------------------------------------------------------------------------


def test_fetch_survives_5xx_and_dropped_connections() -> None:
    config = SimulatorConfig(processing_time=0, error_rate=0.25, drop_rate=0.15, seed=3)
    with run_simulator(config) as flaky:
        ids = [flaky.submit("csv", CSV) for _ in range(30)]
        vault = FakeVault()
        with client_for(flaky, rng=random.Random(5)) as client:
            outcomes = archive.fetch(client, vault, ids, opts(concurrency=8))
        polls = flaky.state.request_counts()["GET /anonymize/status/{job_id}"]
    assert [o.outcome for o in outcomes] == ["archived"] * 30
    assert polls > 35  # faults happened and were retried
    assert sorted(vault.stored) == sorted(ids)


def test_persistent_5xx_fails_the_job_after_bounded_retries() -> None:
    with run_simulator(SimulatorConfig(processing_time=0, error_rate=1.0)) as broken:
        job = broken.submit("csv", CSV)
        retry = RetryPolicy(max_retries=3, backoff_base=0.001, backoff_cap=0.01)
        with client_for(broken, retry=retry) as client:
            [outcome] = archive.fetch(client, FakeVault(), [job], opts())
        assert broken.state.request_counts()["GET /anonymize/status/{job_id}"] == 4
    assert outcome.outcome == "error" and not outcome.ok
    assert outcome.detail == (
        "the server answered HTTP 500: Internal server error, 4 attempts made"
    )


def test_429_retry_after_is_honoured_during_submit(tmp_path: Path) -> None:
    clock = ManualClock()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # the client's waits: recorded, time moves on
        waits.append(seconds)
        clock.advance(seconds)

    config = SimulatorConfig(processing_time=0, rate_limit=True, clock=clock)
    with run_simulator(config) as limited:
        files = check_files([write(tmp_path, f"f{i}.csv", CSV) for i in range(32)])
        with QuestaClient(limited.url, async_sleep=sleep, retry=FAST_RETRY) as client:
            outcomes = archive.submit(client, FakeVault(), files, opts(concurrency=1))
        counts = limited.state.request_counts()
    assert [o.outcome for o in outcomes] == ["archived"] * 32
    # 30 uploads pass in the first minute; the 31st is told to wait for the window to move
    assert waits and waits[0] == 60.0
    assert counts["POST /anonymize/csv"] == 32 + len(waits)


# --- the real custodian ------------------------------------------------------------------------

PASS = "pass phrase"


@pytest.fixture
def custodian(vault_location) -> Iterator[Custodian]:
    fast = KdfParams("argon2id", 8192, 1, 1, unsafe=True)
    with Custodian.create(vault_location, user="alice", passphrase=PASS, kdf=fast) as kr:
        yield kr


def test_real_custodian_keeps_submit_metadata_through_archiving(
    sim: Any, tmp_path: Path, custodian: Custodian
) -> None:
    files = check_files([write(tmp_path, "people.csv", CSV)])
    options = SubmitOptions(entities="PERSON_NAME,EMAIL_ADDRESS", start_index=2,
                            custom_entities=(("Phoenix", "PROJECT"),))  # fmt: skip
    with client_for(sim) as client:
        [sent] = archive.submit(client, custodian, files, opts(wait=False), options)
        assert custodian.get_job(sent.job_id).status == "pending"  # type: ignore[union-attr]
        [fetched] = archive.fetch(client, custodian, [sent.job_id], opts())
        [again] = archive.fetch(client, custodian, [sent.job_id], opts())
    assert (fetched.outcome, again.outcome) == ("archived", "already-archived")
    content = custodian.unlock("alice", PASS).open_job(sent.job_id)
    assert (content.filename, content.options) == ("people.csv", options)
    assert content.mapping["John Doe"] == "[PERSON_NAME_3]"  # numbering after start_index 2
    assert content.mapping["john@example.com"] == "[EMAIL_ADDRESS_4]"
    assert content.content is not None and b"[PERSON_NAME_3]" in content.content
    actions = [e.action for e in custodian.log_entries(job_id=sent.job_id)]
    assert actions == ["submit", "fetch"]


def test_real_custodian_failed_expired_and_text(
    sim: Any, tmp_path: Path, custodian: Custodian
) -> None:
    failed, gone = sim.submit("pdf", OPAQUE["pdf"]), sim.submit("csv", CSV)
    sim.state.fail(failed)
    custodian.record_pending(gone, file_type="csv", source="upload", submitted_at=1.0,
                           filename=None, options=None, actor="t")  # fmt: skip
    sim.state.expire(gone)
    note = check_files([write(tmp_path, "note.md", SECRET_TEXT.encode())])
    with client_for(sim) as client:
        outcomes = archive.fetch(client, custodian, [failed, gone], opts())
        [text] = archive.submit(client, custodian, note, opts())
    assert [o.outcome for o in outcomes] == ["failed", "expired"]
    assert custodian.get_job(failed).status == "failed"  # type: ignore[union-attr]
    assert custodian.get_job(gone).status == "expired"  # type: ignore[union-attr]
    info = custodian.get_job(text.job_id)  # type: ignore[arg-type]
    assert info is not None and (info.status, info.source, info.file_type) == (
        "archived",
        "text",
        "text",
    )
    assert dict(info.entity_counts) == {"EMAIL_ADDRESS": 1, "PERSON_NAME": 1}
    session = custodian.unlock("alice", PASS)
    assert session.open_file(text.job_id) == (
        b"My name is [PERSON_NAME_1] and my email is [EMAIL_ADDRESS_2].\n"
    )
