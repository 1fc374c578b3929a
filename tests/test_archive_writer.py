"""The run's group-commit writer (``vault.archive._writer``): several writes per transaction,
off the event loop's thread, each write still atomic and reported only once committed.

A small transactional in-memory target checks the contract over many random batches
(Hypothesis); the real custodian checks it end to end (one commit for many jobs, a failing job
in a batch, the access log and seals intact afterwards).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault import archive
from vault.archive import PollPolicy, RunOptions
from vault.archive._writer import Writer
from vault.client import QuestaClient
from vault.custody import Custodian, KdfParams
from vault.errors import IntegrityError, VaultError
from vault.models import JobContent
from vault.simulator import SimulatorConfig, run_simulator

FAST = KdfParams("argon2id", 8192, 1, 1, unsafe=True)
CSV = b"name,email\nJohn Doe,john@example.com\n"


class Transactional:
    """A dict with ``batch()`` like ``Custodian.batch``: nested blocks join the outer one, an
    exception out of the outermost rolls everything back. Counts commits."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}
        self.commits = 0
        self.depth = 0
        self.threads: set[int] = set()
        self._snapshot: dict[str, int] = {}

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        self.threads.add(threading.get_ident())
        if self.depth:
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
            return
        self._snapshot, self.depth = dict(self.data), 1
        try:
            yield
        except BaseException:
            self.data = self._snapshot
            raise
        finally:
            self.depth = 0
        self.commits += 1


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# (key, fails, after_writing): a write of ``key``, failing before or after changing the data
WRITES = st.lists(
    st.tuples(st.sampled_from("abcdefgh"), st.booleans(), st.booleans()), min_size=1, max_size=30
)


@given(writes=WRITES, max_batch=st.integers(1, 8))
@settings(max_examples=60, deadline=None)
def test_every_write_is_atomic_and_reported_as_committed(
    writes: list[tuple[str, bool, bool]], max_batch: int
) -> None:
    target = Transactional()

    def op(key: str, fails: bool, after: bool) -> Callable[[], int]:
        def write() -> int:
            with target.batch():  # like store_job: its own write, joining the batch's
                if fails and not after:
                    raise VaultError(f"{key} refused")
                target.data[key] = target.data.get(key, 0) + 1
                if fails:
                    raise VaultError(f"{key} refused after writing")
                return target.data[key]

        return write

    async def main() -> list[Any]:
        async with Writer(target, max_batch=max_batch) as writer:
            return await asyncio.gather(
                *(writer.write(op(*w)) for w in writes), return_exceptions=True
            )

    results = run(main())
    expected: dict[str, int] = {}
    for (key, fails, _), result in zip(writes, results, strict=True):
        if fails:  # failed alone: nothing of it is left
            assert isinstance(result, VaultError)
        else:
            expected[key] = expected.get(key, 0) + 1
            assert not isinstance(result, BaseException)
    assert target.data == expected
    assert target.commits <= len(writes)
    assert threading.get_ident() not in target.threads  # never on the event loop's thread


def test_writes_queued_together_share_one_commit() -> None:
    target = Transactional()

    def put(key: str) -> Callable[[], None]:
        def write() -> None:
            target.data[key] = 1

        return write

    async def main() -> None:
        async with Writer(target) as writer:
            await asyncio.gather(*(writer.write(put(str(i))) for i in range(20)))

    run(main())
    assert len(target.data) == 20 and target.commits == 1


def test_the_event_loop_keeps_running_while_a_batch_is_written() -> None:
    target = Transactional()
    gaps: list[float] = []

    def slow() -> None:
        time.sleep(0.4)  # a slow disk: fsync of a large batch

    async def ticker(stop: asyncio.Event) -> None:
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async def main() -> None:
        stop = asyncio.Event()
        tick = asyncio.create_task(ticker(stop))
        async with Writer(target) as writer:
            await writer.write(slow)
        stop.set()
        await tick

    run(main())
    assert len(gaps) >= 10 and max(gaps) < 0.2


def test_leaving_waits_for_the_batch_in_flight() -> None:
    target = Transactional()
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.3)
        finished.set()

    async def main() -> None:
        async with Writer(target) as writer:
            job = asyncio.create_task(writer.write(slow))
            await asyncio.sleep(0.05)
            job.cancel()  # the job is given up (a run stopped by ApiAuthError, Ctrl-C)
        assert finished.is_set()  # but the transaction was not left running under the caller

    run(main())


def test_an_integrity_error_reaches_its_writer() -> None:
    target = Transactional()

    def bad() -> None:
        raise IntegrityError("the vault disagrees with its log")

    async def main() -> None:
        async with Writer(target) as writer:
            await writer.write(bad)

    with pytest.raises(IntegrityError):
        run(main())


def test_a_write_that_breaks_the_writer_fails_every_waiter_instead_of_hanging() -> None:
    target = Transactional()

    class Broken(BaseException):
        pass

    def breaks() -> None:
        raise Broken

    def fine() -> None:
        target.data["x"] = 1

    results: list[Any] = []

    async def main() -> None:
        async with Writer(target) as writer:
            both = asyncio.gather(writer.write(breaks), writer.write(fine), return_exceptions=True)
            results.extend(await asyncio.wait_for(both, timeout=10))  # not forever

    with contextlib.suppress(Broken):
        run(main())
    assert len(results) == 2 and all(isinstance(r, Broken) for r in results)


# --- the real custodian ------------------------------------------------------------------------


def job(job_id: str) -> JobContent:
    return JobContent(
        job_id=job_id, status="archived", file_type="csv", created_at=1.0, entity_count=1,
        content=b"name\n[PERSON_NAME_1]\n", mapping={"John Doe": "[PERSON_NAME_1]"},
        error=None, source="upload",
    )  # fmt: skip


def test_custodian_batch_stores_many_jobs_in_one_commit_and_one_failure_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "vault.db"
    with Custodian.create(path, user="alice", passphrase="pw", kdf=FAST) as kr:
        commits = 0
        plain_batch = kr.batch

        @contextlib.contextmanager
        def counting() -> Iterator[None]:
            nonlocal commits
            with plain_batch():
                yield
            commits += 1

        kr.batch = counting  # type: ignore[method-assign]

        def store(job_id: str) -> Callable[[], bool]:
            def write() -> bool:
                if job_id == "job-bad":  # writes its rows, then fails: must leave nothing
                    kr.store_job(job(job_id), actor="t")
                    raise VaultError("disk full")
                return kr.store_job(job(job_id), actor="t")

            return write

        ids = [f"job-{i}" for i in range(10)]

        async def main(ids: list[str]) -> list[Any]:
            async with Writer(kr) as writer:
                return await asyncio.gather(
                    *(writer.write(store(j)) for j in ids), return_exceptions=True
                )

        assert run(main(ids)) == [True] * 10
        assert commits == 1
        results = run(main(["job-a", "job-bad", "job-b"]))
        assert results[0] is True and results[2] is True
        assert isinstance(results[1], VaultError)
        assert kr.get_job("job-bad") is None
        assert [e.job_id for e in kr.log_entries() if e.action == "fetch"] == [
            *ids,
            "job-a",
            "job-b",
        ]
        kr.verify_chain()
        session = kr.unlock("alice", "pw")
        for job_id in [*ids, "job-a", "job-b"]:
            assert session.open_job(job_id).mapping == {"John Doe": "[PERSON_NAME_1]"}


def test_fetch_into_the_real_custodian_commits_fewer_times_than_jobs(tmp_path: Path) -> None:
    config = SimulatorConfig(processing_time=0.0, seed=3, latency=0.02)
    with run_simulator(config) as sim, QuestaClient(sim.url) as client:
        ids = [sim.submit("csv", CSV) for _ in range(40)]
        with Custodian.create(tmp_path / "v.db", user="alice", passphrase="pw", kdf=FAST) as kr:
            batches: list[int] = []
            plain_batch = kr.batch

            @contextlib.contextmanager
            def counting() -> Iterator[None]:
                before = len(kr.log_entries())
                with plain_batch():
                    yield
                batches.append(len(kr.log_entries()) - before)

            kr.batch = counting  # type: ignore[method-assign]
            options = RunOptions(actor="t", poll=PollPolicy(0.01, 1.5, 0.05), concurrency=16)
            outcomes = archive.fetch(client, kr, ids, options)
            assert [o.outcome for o in outcomes] == ["archived"] * 40
            assert sum(batches) == 40  # every job once, each with its log entry
            assert len(batches) < 40, batches  # and some commits held several jobs
            assert len(kr.list_jobs(status="archived")) == 40
            kr.verify_chain()
