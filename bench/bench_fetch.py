"""Benchmark: archiving completed jobs from the simulator at the default concurrency.

    .venv/bin/python bench/bench_fetch.py [--jobs N] [--latency SECONDS] [--runs R] [--quick]
                                         [--profile] [--json]

Starts the simulator in its own process (so it does not share this process's interpreter
lock, as a remote service would not) with ``--latency`` seconds added to every request,
creates N completed CSV jobs through real uploads (not timed), then, in each of ``--runs``
rounds, times ``archive.fetch`` of all of them into a fresh vault (real file, WAL,
synchronous=FULL, group commit) and plain httpx GETs of the same statuses at the same
concurrency, alternating which goes first (the service keeps a job an hour and does not
delete it when fetched, so every round fetches the same jobs). Both sides are warmed once
first (50 GETs, a 50-job fetch; ``--cold`` skips the fetch's), so the rounds compare per-job
work; a command's fixed cost is ``bench_fixed.py``'s subject. Prints per round the ratio
(issue 17.5: fetch within 1.25x of the plain GETs, in every round), min / median / max over
the rounds with the load average, jobs per second and the ratio to the ideal
``jobs x latency / concurrency``, and the CPU time of this process per job beside the plain
GETs' (min / median / max; less sensitive to the machine's load than wall time). Targets:
1,000 jobs at 50 ms in under 15 s on 2 cores; within 1.25x of the plain GETs.

``--profile`` adds a wall-clock breakdown of one more fetch (status requests, validation,
vault writes, commits: measured by wrapping those calls) and its cProfile (top entries).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from vault.archive import DEFAULT_CONCURRENCY, RunOptions, fetch
from vault.client import QuestaClient
from vault.custody import Custodian, KdfParams

TARGET_SECONDS = 15.0
TARGET_RATIO = 1.25  # to plain httpx GETs of the same statuses, measured in the same run
CSV = (
    b"name,email,phone\n"
    b"John Doe,john@example.com,+1 555 0100\n"
    b"Jane Roe,jane@example.com,+1 555 0101\n"
)
# the bench unlocks nothing; keep setup quick
FAST_KDF = KdfParams("argon2id", 8192, 1, 1, unsafe=True)


def start_simulator(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vault", "simulate", "--port", "0", "--processing-time", "0",
         "--latency", str(latency)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("QUESTA_")},
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"http://\S+", line)
    if found is None:
        proc.kill()
        raise SystemExit(f"the simulator did not start: {line!r}")
    return proc, found.group(0)


async def create_jobs(client: QuestaClient, count: int) -> list[str]:
    limit = asyncio.Semaphore(64)
    async with client.aio() as aclient:

        async def one() -> str:
            async with limit:
                return await aclient.upload(CSV, "csv", filename="bench.csv")

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def plain_gets(url: str, ids: list[str], concurrency: int) -> tuple[float, float]:
    """The baseline: plain httpx GETs of the same statuses at the same concurrency, the body
    read and nothing else (no validation, no decoding, no storing). Wall and CPU seconds."""
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url) as http:

        async def one(job_id: str) -> None:
            async with limit:
                response = await http.get(f"/anonymize/status/{job_id}")
                response.raise_for_status()

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(j) for j in ids))
        return time.perf_counter() - started, time.process_time() - cpu


def fetch_once(client: QuestaClient, ids: list[str], tmp: Path, n: int, concurrency: int
               ) -> dict[str, float]:  # fmt: skip
    """One timed fetch of ``ids`` into a fresh vault: wall and CPU seconds, jobs archived."""
    path = tmp / f"vault-{n}.db"
    with Custodian.create(path, user="bench", passphrase="bench", kdf=FAST_KDF):
        pass
    with Custodian.open(path) as custodian:
        options = RunOptions(actor="bench", concurrency=concurrency)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        outcomes = fetch(client, custodian, ids, options)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        archived = sum(1 for o in outcomes if o.outcome == "archived")
        stored = len(custodian.list_jobs(status="archived"))
    return {"wall_s": wall, "cpu_s": cpu, "archived": archived, "stored": stored}


def profile_once(client: QuestaClient, ids: list[str], tmp: Path, concurrency: int) -> str:
    """A wall-clock breakdown of one fetch (time inside each wrapped call, summed over the
    jobs: network calls overlap, so those sums exceed the wall time) and its cProfile."""
    import cProfile
    import io
    import pstats
    from collections import Counter

    import vault.archive._writer as writer_module
    import vault.client._http as http_module
    import vault.custody._custodian as custodian_module
    import vault.store._sqlite as sqlite_module

    calls: Counter[str] = Counter()

    def timed(name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
                calls[name] += 1

        return wrapper

    def atimed(name: str, func: Any) -> Any:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await func(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
                calls[name] += 1

        return wrapper

    patches = [
        (http_module.AsyncQuestaClient, "status",
         "status request, answer read (awaited; overlaps)"),
        (http_module._Settings, "finish", "JSON parse + validation (event loop)"),
        (writer_module.Writer, "_commit", "vault writes of a batch (worker thread)"),
        (custodian_module.Custodian, "store_job", "store_job: encrypt, seal, insert (worker)"),
        (getattr(sqlite_module, "SqliteDatabase", None), "_commit",
         "COMMIT incl. fsync (worker)"),
    ]  # fmt: skip
    # (internal names: a wrapper whose target was renamed is left out, not an error)
    patches = [p for p in patches if p[0] is not None and p[1] in vars(p[0])]
    spent = dict.fromkeys((label for _, _, label in patches), 0.0)
    saved = [(owner, name, vars(owner)[name]) for owner, name, _ in patches]
    for owner, name, label in patches:
        original = vars(owner)[name]
        if isinstance(original, staticmethod):
            setattr(owner, name, staticmethod(timed(label, original.__func__)))
        elif asyncio.iscoroutinefunction(original):
            setattr(owner, name, atimed(label, original))
        else:
            setattr(owner, name, timed(label, original))
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        result = fetch_once(client, ids, tmp, 999, concurrency)
        profiler.disable()
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)
    lines = [f"profile: one more fetch, wall {result['wall_s']:.2f} s, "
             f"CPU {result['cpu_s']:.2f} s (under cProfile and the wrappers)"]  # fmt: skip
    for _, _, label in patches:
        lines.append(f"  {label:<50} {spent[label]:8.3f} s in {calls[label]} calls")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    lines.append(out.getvalue())
    return "\n".join(lines)


def _mmm(values: list[float]) -> str:
    """``min / median / max`` of sorted values."""
    return f"{values[0]:.2f} / {statistics.median(values):.2f} / {values[-1]:.2f}"


def load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--runs", type=int, default=1, help="interleaved rounds (default 1)")
    parser.add_argument("--quick", action="store_true", help="100 jobs (a smoke run)")
    parser.add_argument("--profile", action="store_true", help="breakdown and cProfile")
    parser.add_argument(
        "--cold", action="store_true", help="no warm-up fetch: round 1 pays the imports"
    )
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    jobs = 100 if args.quick else args.jobs

    rounds: list[dict[str, float]] = []
    profile = ""
    proc, url = start_simulator(args.latency)
    try:
        with QuestaClient(url) as client, tempfile.TemporaryDirectory() as tmp:
            ids = asyncio.run(create_jobs(client, jobs))
            # Warm both sides once (imports, connection set-up, the simulator's caches), so the
            # rounds compare the per-job work; a command's fixed cost is bench_fixed's subject.
            asyncio.run(plain_gets(url, ids[:50], args.concurrency))
            if not args.cold:
                fetch_once(client, ids[:50], Path(tmp), -1, args.concurrency)
            for n in range(max(args.runs, 1)):
                before = load()
                if n % 2:  # alternate which goes first
                    got = fetch_once(client, ids, Path(tmp), n, args.concurrency)
                    baseline, base_cpu = asyncio.run(plain_gets(url, ids, args.concurrency))
                else:
                    baseline, base_cpu = asyncio.run(plain_gets(url, ids, args.concurrency))
                    got = fetch_once(client, ids, Path(tmp), n, args.concurrency)
                got.update(httpx_s=baseline, httpx_cpu_s=base_cpu, load_start=before,
                           ratio_to_httpx=got["wall_s"] / baseline, load_end=load(),
                           cpu_ratio=got["cpu_s"] / base_cpu)  # fmt: skip
                rounds.append(got)
                if not args.json:
                    print(f"round {n + 1}: fetch {got['wall_s']:.2f} s (CPU {got['cpu_s']:.2f} s),"
                          f" plain GETs {baseline:.2f} s (CPU {base_cpu:.2f} s), ratio "
                          f"{got['ratio_to_httpx']:.2f} (CPU {got['cpu_ratio']:.2f}), "
                          f"load {before:.1f}->{got['load_end']:.1f}", flush=True)  # fmt: skip
            if args.profile:
                profile = profile_once(client, ids, Path(tmp), args.concurrency)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    ratios = sorted(r["ratio_to_httpx"] for r in rounds)
    middle = sorted(rounds, key=lambda r: r["ratio_to_httpx"])[len(rounds) // 2]
    archived = min(int(r["archived"]) for r in rounds)
    met = all(r <= TARGET_RATIO for r in ratios)
    loads = [r["load_start"] for r in rounds] + [rounds[-1]["load_end"]]
    ideal = jobs * args.latency / args.concurrency
    wall = middle["wall_s"]
    # CPU time of this process (event loop and the writer's thread) per job, beside the plain
    # GETs' own: what the fetch adds per job, less sensitive to the machine's load than wall.
    cpu_ms = sorted(r["cpu_s"] * 1000 / jobs for r in rounds)
    base_ms = sorted(r["httpx_cpu_s"] * 1000 / jobs for r in rounds)
    cpu_ratios = sorted(r["cpu_ratio"] for r in rounds)
    summary = (
        f"ratio to plain httpx GETs over {len(rounds)} interleaved round(s): "
        f"min {ratios[0]:.2f} / median {statistics.median(ratios):.2f} / max "
        f"{ratios[-1]:.2f} (target <= {TARGET_RATIO} in every round) "
        f"[{'met' if met else 'MISSED'}]; load average {min(loads):.1f}-{max(loads):.1f}"
    )
    cpu_summary = (
        f"CPU per job (min / median / max): fetch {_mmm(cpu_ms)} ms, plain GETs "
        f"{_mmm(base_ms)} ms; CPU ratio {_mmm(cpu_ratios)}"
    )
    if args.json:
        print(json.dumps({
            "jobs": jobs, "latency_s": args.latency, "concurrency": args.concurrency,
            "archived": archived, "stored": int(middle["stored"]), "wall_s": wall,
            "cpu_s": middle["cpu_s"], "ideal_s": ideal, "per_1000_s": wall * 1000 / jobs,
            "target_s": TARGET_SECONDS, "httpx_s": middle["httpx_s"],
            "ratio_to_httpx": middle["ratio_to_httpx"], "ratio_min": ratios[0],
            "ratio_median": statistics.median(ratios), "ratio_max": ratios[-1],
            "target_ratio": TARGET_RATIO, "met_every_round": met, "rounds": rounds,
            "cpu_ms_per_job": statistics.median(cpu_ms),
            "httpx_cpu_ms_per_job": statistics.median(base_ms),
            "cpu_ratio_min": cpu_ratios[0], "cpu_ratio_median": statistics.median(cpu_ratios),
            "cpu_ratio_max": cpu_ratios[-1], "load_min": min(loads), "load_max": max(loads),
            "summary": summary, "cpu_summary": cpu_summary,
        }))  # fmt: skip
        if archived != jobs:
            raise SystemExit(f"only {archived} of {jobs} jobs archived")
        return
    print(f"fetch: {jobs} completed jobs, {args.latency * 1000:.0f} ms latency per request, "
          f"concurrency {args.concurrency}; the median round:")  # fmt: skip
    print(f"  archived: {archived} (in the vault: {int(middle['stored'])})")
    print(f"  wall: {wall:.2f} s ({jobs / wall:.0f} jobs/s); CPU in this process "
          f"{middle['cpu_s']:.2f} s ({middle['cpu_s'] / jobs * 1000:.1f} ms per job)")  # fmt: skip
    print(
        f"  ideal (jobs x latency / concurrency): {ideal:.2f} s; ratio to ideal {wall / ideal:.2f}"
    )
    print(f"  plain httpx GETs of the same statuses: {middle['httpx_s']:.2f} s")
    print(f"  issue 17.5: {summary}")
    print(f"  {cpu_summary}")
    scaled = wall * 1000 / jobs
    verdict = "ok" if scaled < TARGET_SECONDS else "SLOW"
    print(
        f"  target: 1,000 jobs in < {TARGET_SECONDS:.0f} s -> {scaled:.2f} s per 1,000 [{verdict}]"
    )
    if profile:
        print(profile)
    if archived != jobs:
        raise SystemExit(f"only {archived} of {jobs} jobs archived")


if __name__ == "__main__":
    main()
