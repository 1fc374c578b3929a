"""Each job remembers the server it was submitted to (issue 11, point 11): polling goes there,
and only that server's 404, after the retention since submission, may write the job off.

Two simulators on loopback play the right and the wrong server; the archive side is the real
custodian (and the real CLI at the end).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_KDF, invoke

from vault import archive
from vault.archive import PollPolicy, RunOptions, check_files
from vault.client import QuestaClient, RetryPolicy
from vault.custody import Custodian, KdfParams
from vault.simulator import ManualClock, SimulatorConfig, run_simulator

FAST_POLL = PollPolicy(first=0.01, factor=1.5, cap=0.05)
FAST_RETRY = RetryPolicy(max_retries=2, backoff_base=0.005, backoff_cap=0.02)
CSV = b"name,email\nJohn Doe,john@example.com\n"
HOUR = 3600.0


@pytest.fixture
def custodian(tmp_path: Path) -> Iterator[Custodian]:
    fast = KdfParams("argon2id", 8192, 1, 1, unsafe=True)
    with Custodian.create(tmp_path / "v.db", user="alice", passphrase="pw", kdf=fast) as kr:
        yield kr


@pytest.fixture
def two() -> Iterator[tuple[Any, Any, ManualClock]]:
    """The right server and a wrong one, sharing a manual clock."""
    clock = ManualClock()
    config = SimulatorConfig(processing_time=0.0, progress_steps=1, clock=clock)
    with run_simulator(config) as right, run_simulator(config) as wrong:
        yield right, wrong, clock


def client(sim: Any, token: str | None = None) -> QuestaClient:
    return QuestaClient(sim.url, token, retry=FAST_RETRY)


def opts(clock: ManualClock, **kw: Any) -> RunOptions:
    return RunOptions(actor="t", poll=FAST_POLL, timeout=10.0, now=clock, **kw)


def test_submit_and_fetch_record_the_server(
    two: tuple[Any, Any, ManualClock], custodian: Custodian, tmp_path: Path
) -> None:
    right, _, clock = two
    path = tmp_path / "a.csv"
    path.write_bytes(CSV)
    met = right.submit("csv", CSV)  # first met in a fetch, not submitted from here
    with client(right) as c:
        [sent] = archive.submit(c, custodian, check_files([path]), opts(clock, wait=False))
        [fetched] = archive.fetch(c, custodian, [met], opts(clock))
    assert fetched.outcome == "archived"
    assert {j: custodian.get_job(j).api_url for j in (sent.job_id, met)} == {  # type: ignore[union-attr]
        sent.job_id: right.url,
        met: right.url,
    }


def test_sync_with_the_wrong_url_polls_each_job_at_its_own_server(
    two: tuple[Any, Any, ManualClock], custodian: Custodian, tmp_path: Path
) -> None:
    right, wrong, clock = two
    path = tmp_path / "a.csv"
    path.write_bytes(CSV)
    with client(right) as c:
        [sent] = archive.submit(c, custodian, check_files([path]), opts(clock, wait=False))
    with client(wrong) as c:
        report = archive.sync(c, custodian, opts(clock))
    assert [o.outcome for o in report.outcomes] == ["archived"]
    assert custodian.get_job(sent.job_id).status == "archived"  # type: ignore[union-attr]
    assert wrong.state.request_counts() == {}  # the wrong server was never asked


# (poll where, seconds since submission, --expire-missing) -> outcome, status afterwards
CASES = [
    ("wrong", 60, False, "not-found", "pending"),  # the reported bug: fresh job, wrong URL
    ("wrong", 2 * HOUR, False, "not-found", "pending"),  # old, but not its own server's 404
    ("own", 60, False, "not-found", "pending"),  # its own server, within the retention
    ("own", HOUR - 1, False, "not-found", "pending"),
    ("own", HOUR + 1, False, "expired", "expired"),  # own server and retention passed
    ("own", 60, True, "expired", "expired"),  # the user says so
    ("wrong", 60, True, "expired", "expired"),
    ("unknown-time", 2 * HOUR, False, "not-found", "pending"),  # no submit time: cannot tell
]


@pytest.mark.parametrize(("where", "age", "expire_missing", "outcome", "status"), CASES)
def test_only_the_jobs_own_server_after_the_retention_writes_it_off(
    two: tuple[Any, Any, ManualClock],
    custodian: Custodian,
    where: str,
    age: float,
    expire_missing: bool,
    outcome: str,
    status: str,
) -> None:
    right, wrong, clock = two
    job = str(uuid.uuid4())  # neither server knows it: both answer 404
    submitted = None if where == "unknown-time" else clock() - age
    custodian.record_pending(job, file_type="csv", source="upload", submitted_at=submitted,
                           filename=None, options=None, actor="t", api_url=right.url)  # fmt: skip
    here = where == "wrong"
    with client(wrong if here else right) as c:
        report = archive.sync(c, custodian, opts(clock, here=here, expire_missing=expire_missing))
    [result] = report.outcomes
    assert (result.outcome, custodian.get_job(job).status) == (outcome, status)  # type: ignore[union-attr]
    assert not report.ok
    if outcome == "not-found":
        host = (wrong if here else right).url.split("//")[1]
        assert result.detail.startswith(f"not found at this server ({host}); kept pending")
        assert custodian.pending_jobs()[0].job_id == job  # a later sync looks at it again


def test_a_job_marked_expired_can_still_be_fetched_by_id(
    two: tuple[Any, Any, ManualClock], custodian: Custodian
) -> None:
    right, wrong, clock = two
    job = right.submit("csv", CSV)
    custodian.record_pending(job, file_type="csv", source="upload", submitted_at=clock(),
                           filename=None, options=None, actor="t", api_url=right.url)  # fmt: skip
    with client(wrong) as c:  # the user explicitly wrote it off at the wrong server
        archive.sync(c, custodian, opts(clock, here=True, expire_missing=True))
    assert custodian.get_job(job).status == "expired"  # type: ignore[union-attr]
    assert custodian.pending_jobs() == []
    with client(wrong) as c:  # fetch by id goes to the job's own server
        [fetched] = archive.fetch(c, custodian, [job], opts(clock))
    assert fetched.outcome == "archived"
    assert custodian.get_job(job).status == "archived"  # type: ignore[union-attr]


def test_the_token_goes_only_to_the_api_url_origin(custodian: Custodian) -> None:
    """A URL recorded in the vault file cannot draw the bearer token to another server; that
    server's 401 fails its job only, and the run goes on."""
    clock = ManualClock()
    secret = "token-for-b"
    other = SimulatorConfig(processing_time=0.0, progress_steps=1, clock=clock, tokens=(secret,))
    with run_simulator(other) as a, run_simulator(other) as b:
        at_a, at_b = a.submit("csv", CSV), b.submit("csv", CSV)
        for job, sim in ((at_a, a), (at_b, b)):
            custodian.record_pending(job, file_type="csv", source="upload", submitted_at=clock(),
                                   filename=None, options=None, actor="t",
                                   api_url=sim.url)  # fmt: skip
        with client(b, secret) as c:
            report = archive.sync(c, custodian, opts(clock))
    outcomes = {o.job_id: o for o in report.outcomes}
    assert outcomes[at_b].outcome == "archived"
    assert outcomes[at_a].outcome == "error"  # a accepts the token, but was never sent it
    assert "HTTP 401" in outcomes[at_a].detail and "--api-url" in outcomes[at_a].detail
    assert custodian.get_job(at_a).status == "pending"  # type: ignore[union-attr]


def test_a_recorded_url_that_is_not_http_fails_only_its_job(
    two: tuple[Any, Any, ManualClock], custodian: Custodian
) -> None:
    right, _, clock = two
    good, bad = right.submit("csv", CSV), str(uuid.uuid4())
    for job, url in ((good, right.url), (bad, "file:///etc/passwd")):
        custodian.record_pending(job, file_type="csv", source="upload", submitted_at=clock(),
                               filename=None, options=None, actor="t", api_url=url)  # fmt: skip
    with client(right) as c:
        outcomes = {o.job_id: o for o in archive.sync(c, custodian, opts(clock)).outcomes}
    assert outcomes[good].outcome == "archived"
    assert (outcomes[bad].outcome, custodian.get_job(bad).status) == ("error", "pending")  # type: ignore[union-attr]


def test_cli_sync_at_the_wrong_server_keeps_fresh_jobs_and_exits_3(
    tmp_path: Path, isolated_env: Path
) -> None:
    config = SimulatorConfig(processing_time=3600.0, progress_steps=1)
    with run_simulator(config) as right, run_simulator(config) as wrong:
        env = {"QUESTA_API_URL": right.url, "QUESTA_VAULT_PASSPHRASE": "pw"}
        assert invoke(["init", "--user", "alice", *FAST_KDF], env=env).exit_code == 0
        (tmp_path / "a.csv").write_bytes(CSV)
        sent = invoke(["submit", "--no-wait", str(tmp_path / "a.csv")], env=env)
        assert sent.exit_code == 0, sent.output
        job = sent.stdout.split()[1]
        env["QUESTA_API_URL"] = wrong.url
        result = invoke(["sync", "--no-wait", "--here"], env=env)
        assert result.exit_code == 3, result.output
        assert f"not-found        {job}  not found at this server" in result.stdout
        pending = invoke(["jobs", "--status", "pending"], env=env)
        assert job in pending.stdout
        default = invoke(["sync", "--no-wait"], env=env)  # polls the right server
        assert default.exit_code == 0, default.output
        assert f"pending          {job}" in default.stdout
        assert wrong.state.request_counts() == {"GET /anonymize/status/{job_id}": 1}
