"""Benchmark: archiving completed jobs from the simulator at the default concurrency.

    .venv/bin/python bench/bench_fetch.py [--jobs N] [--latency SECONDS] [--quick]

Starts the simulator in its own process (so it does not share this process's interpreter
lock, as a remote service would not) with ``--latency`` seconds added to every request,
creates N completed CSV jobs through real uploads (not timed), then times
``archive.fetch`` of all of them into a fresh vault (real file, WAL, synchronous=FULL, one
transaction per job). Prints jobs per second and the ratio to the ideal
``jobs x latency / concurrency`` (one status request per job; 1.0 would mean no overhead at
all), and the ratio to plain httpx GETs of the same statuses at the same concurrency in the
same run (the floor of the network part). Targets: 1,000 jobs at 50 ms in under 15 s on 2
cores; within 1.25x of the plain GETs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


async def plain_gets(url: str, ids: list[str], concurrency: int) -> float:
    """The baseline: plain httpx GETs of the same statuses at the same concurrency, the body
    read and nothing else (no validation, no decoding, no storing). Wall seconds."""
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url) as http:

        async def one(job_id: str) -> None:
            async with limit:
                response = await http.get(f"/anonymize/status/{job_id}")
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(j) for j in ids))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--quick", action="store_true", help="100 jobs (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    jobs = 100 if args.quick else args.jobs

    proc, url = start_simulator(args.latency)
    try:
        with QuestaClient(url) as client, tempfile.TemporaryDirectory() as tmp:
            ids = asyncio.run(create_jobs(client, jobs))
            path = Path(tmp) / "vault.db"
            with Custodian.create(path, user="bench", passphrase="bench", kdf=FAST_KDF):
                pass
            baseline = asyncio.run(plain_gets(url, ids, args.concurrency))
            with Custodian.open(path) as custodian:
                options = RunOptions(actor="bench", concurrency=args.concurrency)
                wall0, cpu0 = time.perf_counter(), time.process_time()
                outcomes = fetch(client, custodian, ids, options)
                wall = time.perf_counter() - wall0
                cpu = time.process_time() - cpu0
                archived = sum(1 for o in outcomes if o.outcome == "archived")
                stored = len(custodian.list_jobs(status="archived"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    ideal = jobs * args.latency / args.concurrency
    if args.json:
        print(json.dumps({
            "jobs": jobs, "latency_s": args.latency, "concurrency": args.concurrency,
            "archived": archived, "stored": stored, "wall_s": wall, "cpu_s": cpu,
            "ideal_s": ideal, "per_1000_s": wall * 1000 / jobs, "target_s": TARGET_SECONDS,
            "httpx_s": baseline, "ratio_to_httpx": wall / baseline,
        }))  # fmt: skip
        if archived != jobs:
            raise SystemExit(f"only {archived} of {jobs} jobs archived")
        return
    print(f"fetch: {jobs} completed jobs, {args.latency * 1000:.0f} ms latency per request, "
          f"concurrency {args.concurrency}")  # fmt: skip
    print(f"  archived: {archived} (in the vault: {stored})")
    print(f"  wall: {wall:.2f} s ({jobs / wall:.0f} jobs/s); CPU in this process {cpu:.2f} s "
          f"({cpu / jobs * 1000:.1f} ms per job)")  # fmt: skip
    print(
        f"  ideal (jobs x latency / concurrency): {ideal:.2f} s; ratio to ideal {wall / ideal:.2f}"
    )
    print(
        f"  plain httpx GETs of the same statuses: {baseline:.2f} s; ratio {wall / baseline:.2f} "
        f"(target <= {TARGET_RATIO}) [{'ok' if wall / baseline <= TARGET_RATIO else 'MISSED'}]"
    )
    scaled = wall * 1000 / jobs
    verdict = "ok" if scaled < TARGET_SECONDS else "SLOW"
    print(
        f"  target: 1,000 jobs in < {TARGET_SECONDS:.0f} s -> {scaled:.2f} s per 1,000 [{verdict}]"
    )
    if archived != jobs:
        raise SystemExit(f"only {archived} of {jobs} jobs archived")


if __name__ == "__main__":
    main()
