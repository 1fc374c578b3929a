"""Reliability: DESIGN.md section 8 as evidence that anyone can rerun.

1. Every fault at once. The simulator adds latency, answers 500, drops connections, refuses
   uploads with 429 bursts, fails jobs and forgets jobs, while two CLI processes (real
   subprocesses) submit 200 files and sync them into one vault. Afterwards: every job the
   server issued is in the vault; every completed job is archived exactly once (one ``fetch``
   log entry, one ``archived`` outcome over all runs, the server's bytes); every other job is
   ``failed`` or ``expired`` with the reason in an outcome line; ``verify --deep`` passes.
2. SIGKILL at random points, 20 times during ``fetch`` and 20 times during ``restore``: after
   each kill ``verify`` passes, no job is half-archived, and the output path holds either
   nothing or the complete restored file (with its access-log entry committed first). The
   kill points are drawn from a seeded random source over the whole run, over the part after
   the output's temporary file appears, and (restore) in the middle of input streamed through
   a pipe, so that some kills always hit a half-written temporary file whatever the speed.

How the 429 bursts stay fast. The rate limit is the service's (30 counted requests per rolling
minute per token, ``Retry-After`` in seconds), so 200 honest uploads would take seven minutes.
The simulator's clock is injectable: a *warp* thread moves it forward in steps. Each cycle it
jumps past the window, lets "another client sharing the token" spend ``SHARED`` requests,
then jumps 58 s so those requests are just about to leave the window. Our uploads then get the
remaining slots, and the rest a 429 whose ``Retry-After`` is 1-2 s (never the 60 s a burst of
fresh requests would earn). The same thread is the only one that moves the clock and the only
one that fails or forgets jobs, so its decisions cannot race a clock jump.

What counts as partial output after SIGKILL. ``restore`` streams into a temporary file next to
the output and moves it into place only after the access log entry is committed. On Linux the
temporary file is unnamed (``O_TMPFILE``) until that moment, so a SIGKILL leaves nothing behind:
the test asserts no leftover at all there. Elsewhere it is a hidden ``.NAME.*.part`` (mode 0600)
that SIGKILL may leave; it is not partial output (the output path itself must never exist with
partial content, and the temporary file is never renamed later).
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_KDF, invoke

from vault.custody import Custodian
from vault.models import JobContent
from vault.simulator import SimulatorConfig, run_simulator

REPO = Path(__file__).resolve().parent.parent
PASS = "reliability passphrase"
TOKEN = "tok-reliability"  # noqa: S105 (a test token)
SEED = int(os.environ.get("QUESTA_RELIABILITY_SEED", "20240229"))


# --------------------------------------------------------------------------- helpers


def cli_process(
    args: list[str], vault: Path, *, url: str | None = None, extra: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """The real CLI in its own process (``python -m vault``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTA_")}
    env.update(QUESTA_VAULT=str(vault), PYTHONPATH=str(REPO), **(extra or {}))
    if url is not None:
        env["QUESTA_API_URL"] = url
    return subprocess.Popen(
        [sys.executable, "-m", "vault", *args], env=env, cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def init_vault(vault: Path) -> None:
    result = invoke(
        ["--vault", str(vault), "init", "--user", "alice", *FAST_KDF],
        env={"QUESTA_VAULT_PASSPHRASE": PASS},
    )
    assert result.exit_code == 0, result.output


def verify(vault: Path, *, deep: bool = False) -> None:
    args = ["--vault", str(vault), "verify", *(["--deep"] if deep else [])]
    result = invoke(args, env={"QUESTA_VAULT_PASSPHRASE": PASS})
    assert result.exit_code == 0, result.output


def fetch_log(vault: Path) -> Counter[str]:
    """Jobs stored, by their ``fetch`` log entries (store_job writes exactly one per job)."""
    with Custodian.open(vault) as kr:
        return Counter(e.job_id for e in kr.log_entries(action="fetch") if e.job_id)


def people_csv(n: int) -> bytes:
    """A small CSV the simulator anonymizes (names, e-mails, phones), distinct per ``n``."""
    rows = [b"name,email,phone,note"]
    for k in range(3):
        rows.append(
            f"John Doe,john{n}.{k}@example.com,+1 212-555-{n % 10000:04d},row {k} of {n}".encode()
        )
    return b"\n".join(rows) + b"\n"


# --------------------------------------------------------------------------- 1. every fault at once


class WarpClock:
    """Unix time plus an offset that only grows (the warp thread moves it)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def jump(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


class FaultTally:
    """Counts the faults the simulator really injected (wraps its state's public methods)."""

    def __init__(self, state: Any, drop_rate: float, error_rate: float) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        draw, check, accept = state.draw, state.check_limits, state.accept

        def counted_draw() -> float:
            value = draw()
            self._add("drop" if value < drop_rate else "500" if value < drop_rate + error_rate
                      else "clean")  # fmt: skip
            return value

        def counted_check(key: str) -> Any:
            decision = check(key)
            if decision.status == 429:
                self._add("429")
            return decision

        def counted_accept(key: str) -> Any:
            decision = accept(key)
            if decision.status == 429:
                self._add("429")
            return decision

        state.draw, state.check_limits, state.accept = counted_draw, counted_check, counted_accept

    def _add(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] += 1


class Chaos(threading.Thread):
    """Warps the clock for short 429 bursts, and fails or forgets jobs it sees for the first time.

    One thread does both, so a job is never forgotten between a look at its state and a jump
    that would complete it.
    """

    SHARED = 20  # of the 30 requests per window, spent by "another client" each cycle
    CYCLE = 0.2  # seconds of real time per cycle

    def __init__(self, sim: Any, clock: WarpClock, rng: random.Random) -> None:
        super().__init__(name="chaos", daemon=True)
        self.sim = sim
        self.clock = clock
        self.rng = rng
        self.shared = 0
        self.seen: dict[str, str] = {}  # job id -> "expire" | "fail" | "leave"
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.cycle()
                self.stop.wait(self.CYCLE)
            self.scan()
        except BaseException as exc:  # reported by the test, never lost in a thread
            self.error = exc

    def cycle(self) -> None:
        state = self.sim.state
        self.clock.jump(61)  # every earlier counted request leaves the rate window
        for _ in range(self.SHARED):
            assert state.accept(TOKEN).status is None
            self.shared += 1
        self.clock.jump(58)  # ...and these are 58 s old: a 429 now says Retry-After 1 or 2
        self.scan()

    def scan(self) -> None:
        state = self.sim.state
        for job_id in state.job_ids():
            if job_id in self.seen:
                continue
            view = state.view(job_id)
            draw = self.rng.random()
            if view is not None and view.status in ("queued", "processing") and draw < 0.1:
                state.expire(job_id)
                self.seen[job_id] = "expire"
            elif view is not None and view.status in ("queued", "processing") and draw < 0.2:
                state.fail(job_id, error="Anonymization failed: forced by the chaos test.")
                self.seen[job_id] = "fail"
            else:
                self.seen[job_id] = "leave"


def run_both(commands: list[list[str]], vault: Path, url: str) -> list[tuple[int, str, str]]:
    """Run each command list in its own process, all at once; (exit code, stdout, stderr)."""
    procs = [
        cli_process(args, vault, url=url, extra={"QUESTA_API_TOKEN": TOKEN}) for args in commands
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=150)
        results.append((proc.returncode, out, err))
    return results


def test_every_fault_at_once_two_processes_200_jobs(tmp_path: Path) -> None:
    vault = tmp_path / "vault.db"
    init_vault(vault)
    files: list[list[str]] = [[], []]
    for n in range(200):
        path = tmp_path / f"in-{n:03d}.csv"
        path.write_bytes(people_csv(n))
        files[n % 2].append(str(path))

    clock = WarpClock()
    drop_rate, error_rate = 0.04, 0.08
    config = SimulatorConfig(
        tokens=(TOKEN,),
        processing_time=400.0,  # simulated seconds: about a second of real time under the warp
        progress_steps=3,
        retention=10**9,  # jobs are forgotten by the chaos thread, at moments it chooses
        failure_rate=0.05,
        error_rate=error_rate,
        drop_rate=drop_rate,
        latency=0.005,
        rate_limit=True,
        seed=SEED,
        clock=clock,
    )
    rng = random.Random(SEED)
    with run_simulator(config) as sim:
        tally = FaultTally(sim.state, drop_rate, error_rate)
        chaos = Chaos(sim, clock, rng)
        chaos.start()
        try:
            # Two processes, each submitting its half (every upload is recorded pending
            # before anything else), then syncing everything pending, its own and the other's.
            submits = run_both(
                [["submit", "--no-wait", "--json", "--concurrency", "8", *half] for half in files],
                vault,
                sim.url,
            )
            syncs = run_both([["sync", "--json", "--timeout", "120"]] * 2, vault, sim.url)
            # Settle anything a sync left pending (a job still processing when it looked, or
            # one the chaos thread made the server forget: within the retention by our clock,
            # the syncs above keep those pending as not-found until told otherwise).
            final = run_both(
                [["sync", "--json", "--timeout", "120", "--expire-missing"]], vault, sim.url
            )
        finally:
            chaos.stop.set()
            chaos.join(10)
        assert chaos.error is None, repr(chaos.error)
        issued_count = sim.state.usage(TOKEN) - chaos.shared
        server_views = {j: sim.state.view(j) for j in chaos.seen}

    # The two submits: every file got a job id and is recorded pending (nothing refused).
    submitted: dict[str, str] = {}
    for code, out, err in submits:
        assert code == 0, err
        report = json.loads(out)
        for job in report["jobs"]:
            assert (job["outcome"], job["ok"]) == ("pending", True), job
            submitted[job["file"]] = job["job_id"]
    assert len(submitted) == 200
    assert len(set(submitted.values())) == 200

    # Nothing lost: every id the server issued (seen by the chaos thread, counted by the
    # server's own usage counter) is one we submitted, and is in the vault.
    issued = set(chaos.seen)
    assert len(issued) == issued_count == 200
    assert issued == set(submitted.values())

    # Sync outcomes of all three runs.
    outcomes: dict[str, list[tuple[str, str]]] = {}
    for code, out, err in [*syncs, *final]:
        assert code in (0, 3), err
        assert "Traceback" not in err and "internal error" not in err, err
        for job in json.loads(out)["jobs"]:
            outcomes.setdefault(job["job_id"], []).append((job["outcome"], job["detail"]))
    assert final[0][0] in (0, 3)
    assert set(outcomes) == issued  # the first sync saw every pending job of both processes

    with Custodian.open(vault) as kr:
        vault_jobs = {j.job_id: j for j in kr.list_jobs()}
        session = kr.unlock("alice", PASS)
        stored_files = {
            j: session.open_file(j) for j, info in vault_jobs.items() if info.status == "archived"
        }
    assert set(vault_jobs) == issued
    statuses = Counter(j.status for j in vault_jobs.values())
    assert statuses["pending"] == 0, statuses

    log = fetch_log(vault)
    for job_id in issued:
        fate = chaos.seen[job_id]
        status = vault_jobs[job_id].status
        kinds = [kind for kind, _ in outcomes[job_id]]
        view = server_views[job_id]
        if fate == "expire":
            assert status == "expired", (job_id, status, kinds)
            assert "expired" in kinds
            assert view is None
            assert log[job_id] == 0
            continue
        assert view is not None
        if fate == "fail" or view.status == "failed":
            assert view.status == "failed"
            assert status == "failed", (job_id, status, kinds)
            assert kinds.count("failed") >= 1
        else:
            assert view.status == "completed"
            assert status == "archived", (job_id, status, kinds)
            # Archived exactly once: one outcome said so, every other said already-archived.
            assert kinds.count("archived") == 1, kinds
            assert set(kinds) <= {"archived", "already-archived"}, kinds
            assert stored_files[job_id] == view.result
        assert log[job_id] == 1, (job_id, log[job_id])
        for kind, detail in outcomes[job_id]:
            assert detail, (job_id, kind)
    assert sum(log.values()) == statuses["archived"] + statuses["failed"]

    # Every kind of trouble really happened.
    assert statuses["archived"] >= 120, statuses
    assert statuses["failed"] >= 5 and statuses["expired"] >= 5, statuses
    # Floors, not quotas: a loaded machine sends fewer requests inside each burst window, so
    # these only prove that each kind of fault was really met (and survived) by both processes.
    assert tally.counts["429"] >= 1, tally.counts
    assert tally.counts["drop"] >= 3 and tally.counts["500"] >= 3, tally.counts

    verify(vault, deep=True)


# --------------------------------------------------------------------------- 2. SIGKILL, 20 times

KILLS = 20


def kill_after(proc: subprocess.Popen[str], delay: float) -> bool:
    """SIGKILL ``proc`` after ``delay`` seconds; False when it had already finished."""
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        return True
    proc.communicate()
    return False


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[Any], limit: float) -> float:
    """Poll ``condition`` until true, ``proc`` ends, or ``limit`` seconds; the seconds waited."""
    start = time.monotonic()
    while not condition() and proc.poll() is None and time.monotonic() - start < limit:
        time.sleep(0.002)
    return time.monotonic() - start


@pytest.fixture
def fetch_sim() -> Iterator[Any]:
    with run_simulator(SimulatorConfig(processing_time=0, latency=0.03, seed=SEED)) as sim:
        yield sim


def test_fetch_killed_at_random_points_leaves_no_half_archived_job(
    tmp_path: Path, fetch_sim: Any
) -> None:
    vault = tmp_path / "vault.db"
    init_vault(vault)
    rng = random.Random(SEED + 1)
    per_round = 12
    csv = people_csv(1)

    def child(ids: list[str]) -> subprocess.Popen[str]:
        return cli_process(["fetch", "--concurrency", "2", *ids], vault, url=fetch_sim.url)

    def stored(ids: list[str]) -> int:
        log = fetch_log(vault)
        return sum(1 for j in ids if log[j])

    # Calibrate: how long a whole run takes, how long after its first stored job, and how long
    # its storing lasts (first to last stored job: several jobs may share one commit).
    ids = [fetch_sim.submit("csv", csv) for _ in range(per_round)]
    start = time.monotonic()
    proc = child(ids)
    first = wait_until(lambda: stored(ids) > 0, proc, 30)
    storing = wait_until(lambda: stored(ids) == per_round, proc, 30)
    proc.communicate(timeout=60)
    total = time.monotonic() - start
    assert proc.returncode == 0 and stored(ids) == per_round
    all_ids = list(ids)

    interrupted = 0
    for round_no in range(KILLS):
        ids = [fetch_sim.submit("csv", csv) for _ in range(per_round)]
        all_ids += ids
        proc = child(ids)
        if round_no % 2:  # anywhere in the run, start-up and unlock included
            killed = kill_after(proc, rng.uniform(0, total))
        else:  # somewhere while jobs are being stored
            wait_until(lambda: stored(ids) > 0, proc, 30)
            # Aim inside the calibrated storing window (first to last stored job), which is
            # short next to start-up and unlock: a delay drawn from the whole run mostly lands
            # after the child has finished.
            killed = kill_after(proc, rng.uniform(0, max(storing * 0.8, 0.005)))
        done = stored(ids)
        interrupted += killed and 0 < done < per_round
        verify(vault, deep=True)  # every stored job decrypts and its seal holds
        with Custodian.open(vault) as kr:
            statuses = {j: kr.get_job(j) for j in ids}
        assert {s.status for s in statuses.values() if s is not None} <= {"archived"}
        assert sum(s is not None for s in statuses.values()) == done
    # At least a few kills must land between two stored jobs (the case under test); how many
    # do depends on the machine's load, so the floor is small.
    assert interrupted >= 2, f"only {interrupted} kills landed mid-fetch"
    assert first < total

    # A rerun archives the rest; every job is stored exactly once.
    result = invoke(["--vault", str(vault), "fetch", *all_ids],
                    env={"QUESTA_API_URL": fetch_sim.url})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert fetch_log(vault) == Counter({job: 1 for job in all_ids})
    verify(vault, deep=True)


def test_restore_killed_at_random_points_leaves_no_partial_output(tmp_path: Path) -> None:
    vault = tmp_path / "vault.db"
    init_vault(vault)
    mapping = {f"Original Person {i} Surname-{i * 7919}": f"[PERSON_NAME_{i}]"
               for i in range(1, 2001)}  # fmt: skip
    with Custodian.open(vault) as kr:
        kr.store_job(
            JobContent(job_id="job-kill", status="archived", file_type="text", created_at=1.0,
                       entity_count=len(mapping), content=b"[PERSON_NAME_1]\n", mapping=mapping),
            actor="alice",
        )  # fmt: skip
    line = " ".join(f"word{i} [PERSON_NAME_{i * 37 % 2000 + 1}]" for i in range(20)) + "\n"
    data = line.encode() * (12_000_000 // len(line))
    source = tmp_path / "answer.txt"
    source.write_bytes(data)
    output = tmp_path / "answer.restored.txt"
    inverse = {p: o for o, p in mapping.items()}
    expected = (
        " ".join(
            f"word{i} {inverse[f'[PERSON_NAME_{i * 37 % 2000 + 1}]']}" for i in range(20)
        ).encode()
        + b"\n"
    )
    expected *= 12_000_000 // len(line)
    rng = random.Random(SEED + 2)

    def child() -> subprocess.Popen[str]:
        return cli_process(
            ["restore", str(source), "-j", "job-kill", "-o", str(output)], vault,
            extra={"QUESTA_VAULT_PASSPHRASE": PASS},
        )  # fmt: skip

    def temporaries() -> list[Path]:
        return [p for p in tmp_path.iterdir() if p.name.startswith(f".{output.name}.")]

    def writing(proc: subprocess.Popen) -> bool:
        """The child holds its output's temporary file open: named, or unnamed (O_TMPFILE)."""
        if temporaries():
            return True
        try:
            fds = os.listdir(f"/proc/{proc.pid}/fd")
        except OSError:
            return False
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{proc.pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(str(tmp_path)) and target.endswith("(deleted)"):
                return True
        return False

    def restores() -> int:
        with Custodian.open(vault) as kr:
            return len(kr.log_entries(action="restore"))

    # Calibrate: the whole run, and the part after the temporary file appears.
    start = time.monotonic()
    proc = child()
    until_temp = wait_until(lambda: writing(proc), proc, 30)
    proc.communicate(timeout=60)
    total = time.monotonic() - start
    assert proc.returncode == 0 and output.read_bytes() == expected
    assert until_temp < total

    def streaming_child() -> tuple[subprocess.Popen[bytes], threading.Thread, float]:
        """``restore -`` fed through a pipe in slices, so the kill lands mid-stream."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUESTA_")}
        env.update(QUESTA_VAULT=str(vault), QUESTA_VAULT_PASSPHRASE=PASS, PYTHONPATH=str(REPO))
        proc = subprocess.Popen(
            [sys.executable, "-m", "vault", "restore", "-", "-j", "job-kill", "-o", str(output)],
            env=env, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        slices = [data[i : i + 256_000] for i in range(0, len(data), 256_000)]

        def feed() -> None:
            assert proc.stdin is not None
            try:
                for piece in slices:
                    proc.stdin.write(piece)
                    proc.stdin.flush()
                    time.sleep(0.004)
                proc.stdin.close()
            except OSError:  # killed: the pipe is gone
                pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        return proc, feeder, len(slices) * 0.004

    outcomes: Counter[str] = Counter()
    leftovers = 0
    for round_no in range(KILLS):
        output.unlink(missing_ok=True)
        logged_before = restores()
        kind = round_no % 3
        if kind == 0:  # anywhere: start-up, unlock, opening the map included
            proc = child()
            killed = kill_after(proc, rng.uniform(0, total * 1.05))
        elif kind == 1:  # while the output is being written, logged and moved into place
            proc = child()
            waited = wait_until(lambda: writing(proc), proc, 30)
            killed = kill_after(proc, rng.uniform(0, max(total - waited, 0.05) * 1.1))
        else:  # in the middle of a stream read from a pipe
            stream, feeder, feeding = streaming_child()
            wait_until(lambda: writing(stream), stream, 30)
            time.sleep(rng.uniform(0.01, feeding * 0.8))
            killed = stream.poll() is None
            stream.kill()
            stream.wait()
            feeder.join(10)
            outcomes["mid-stream"] += killed
        logged = restores() - logged_before
        assert logged in (0, 1)
        if output.exists():
            # Never partial: the rename is the last step, after the log entry.
            assert output.read_bytes() == expected, f"round {round_no}: partial output"
            assert logged == 1, "output released without its access-log entry"
            assert stat.S_IMODE(output.stat().st_mode) == 0o600
            outcomes["complete"] += 1
        else:
            outcomes["logged, not released" if logged else "nothing"] += 1
        for temp in temporaries():  # hidden, owner-only, never renamed by anyone later
            assert temp.name.endswith(".part")
            assert stat.S_IMODE(temp.stat().st_mode) == 0o600
            temp.unlink()
            leftovers += 1
        outcomes["killed" if killed else "finished"] += 1
        verify(vault)
    assert outcomes["killed"] >= KILLS // 2, outcomes
    assert outcomes["nothing"] >= 3, outcomes
    assert outcomes["mid-stream"] >= 5, outcomes
    if hasattr(os, "O_TMPFILE"):  # unnamed until released: a kill leaves no plaintext file
        assert leftovers == 0, leftovers
    else:
        assert leftovers >= 5, (outcomes, leftovers)
    verify(vault, deep=True)
