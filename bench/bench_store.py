"""Benchmark: CPU cost of archiving one job, and key derivations per unlock.

    .venv/bin/python bench/bench_store.py [--jobs N] [--file-mb MB] [--entries N]

Stores N jobs, each with a 1 MB anonymized file and a 1,000-entry map, into a fresh vault
(real file, WAL, synchronous=FULL) and reports the CPU time per stored job (process time:
encryption, hashing, SQLite; the fsync wait is not CPU) against the 20 ms target. Then it
unlocks once with the default Argon2id cost and opens every job, counting key derivations
(target: exactly one per process, however many jobs are opened).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import vault.crypto as crypto
from vault.custody import Custodian, default_kdf
from vault.models import JobContent

TARGET_STORE_CPU_MS = 20.0


def make_job(n: int, file_bytes: int, entries: int) -> JobContent:
    mapping = {f"Person Number{i} Lastname{n}": f"[PERSON_NAME_{i}]" for i in range(1, entries + 1)}
    row = b"[PERSON_NAME_1],[EMAIL_ADDRESS_2],some ordinary text in the cell\n"
    content = (row * (file_bytes // len(row) + 1))[:file_bytes]
    return JobContent(
        job_id=f"bench-{n:05d}",
        status="archived",
        file_type="csv",
        created_at=time.time(),
        entity_count=entries,
        content=content,
        mapping=mapping,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--file-mb", type=float, default=1.0)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    file_bytes = int(args.file_mb * 1_000_000)

    derivations = 0
    real_derive = crypto.derive_kek

    def counting_derive(passphrase: str, salt: bytes, params: crypto.KdfParams) -> bytes:
        nonlocal derivations
        derivations += 1
        return real_derive(passphrase, salt, params)

    crypto.derive_kek = counting_derive  # count calls made through the custodian

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        kdf = default_kdf()
        kr = Custodian.create(path, user="alice", passphrase="bench passphrase", kdf=kdf)
        kr.add_user("bob", passphrase="bob passphrase", kdf=kdf, actor="alice")
        jobs = [make_job(n, file_bytes, args.entries) for n in range(args.jobs)]
        derivations = 0  # creating users derives once each; count only the reading side

        cpu: list[float] = []
        wall: list[float] = []
        for job in jobs:
            c0, w0 = time.process_time(), time.perf_counter()
            kr.store_job(job, actor="bench")
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
        kr.close()

        with Custodian.open(path) as kr:
            c0 = time.process_time()
            session = kr.unlock("alice", "bench passphrase")
            unlock_ms = (time.process_time() - c0) * 1000
            c0 = time.process_time()
            for job in jobs:
                opened = session.open_job(job.job_id)
                if opened.content != job.content or dict(opened.mapping) != dict(job.mapping):
                    raise SystemExit(f"round trip failed for {job.job_id}")
            open_ms = (time.process_time() - c0) * 1000 / len(jobs)
        size = sum(os.path.getsize(p) for p in Path(tmp).iterdir())

    median = statistics.median(cpu)
    if args.json:
        print(json.dumps({
            "jobs": args.jobs, "file_bytes": file_bytes, "entries": args.entries,
            "cpu_ms_median": median, "cpu_ms_p90": statistics.quantiles(cpu, n=10)[-1],
            "cpu_ms_min": min(cpu), "wall_ms_median": statistics.median(wall),
            "target_cpu_ms": TARGET_STORE_CPU_MS, "kdf": f"{kdf.algorithm} {kdf.memory_kib} KiB, "
            f"{kdf.passes} passes, {kdf.lanes} lanes", "unlock_cpu_ms": unlock_ms,
            "open_job_cpu_ms": open_ms, "derivations": derivations, "vault_bytes": size,
        }))  # fmt: skip
        return
    print(
        f"store_job: {args.jobs} jobs of {file_bytes:,} bytes and {args.entries:,} map entries,"
        f" sealed to 2 users"
    )
    print(
        f"  CPU per job:  median {median:.1f} ms, p90 "
        f"{statistics.quantiles(cpu, n=10)[-1]:.1f} ms, min {min(cpu):.1f} ms"
    )
    print(f"  wall per job: median {statistics.median(wall):.1f} ms (includes fsync)")
    print(
        f"  target < {TARGET_STORE_CPU_MS:.0f} ms CPU: ratio {median / TARGET_STORE_CPU_MS:.2f}"
        f" of target -> {'OK' if median < TARGET_STORE_CPU_MS else 'OVER'}"
    )
    print(
        f"unlock ({kdf.algorithm} {kdf.memory_kib} KiB, {kdf.passes} passes, {kdf.lanes} "
        f"lanes): {unlock_ms:.0f} ms CPU; then open_job {open_ms:.1f} ms CPU per job"
    )
    print(
        f"  key derivations for 1 unlock + {args.jobs} reads: {derivations} (target 1) -> "
        f"{'OK' if derivations == 1 else 'OVER'}"
    )
    print(f"  vault size on disk: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
