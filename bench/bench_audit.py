"""Benchmark: `audit` over 100,000 archived jobs, without a passphrase.

    .venv/bin/python bench/bench_audit.py [--jobs N] [--repeat R] [--quick]

Builds a vault (real file, WAL) with N archived jobs' metadata rows and one grant each,
written straight into the tables in bulk (not timed: audit reads metadata only, so no
ciphertext is needed). Then times, best of R runs:

- the audit report (totals per entity type, status and file type), which is the target:
  `library summarize` (``report.summarize``: added up inside SQLite) and the real CLI
  ``questa-vault audit --summary``, in-process;
- for information, the per-job listings: ``Keyring.list_jobs`` + ``report.build_audit``, and
  the CLI rendering every job as a table, CSV and JSON (output to /dev/null).

Prints each time and its ratio to the 1 s target (below 1.0 meets it); exits non-zero when a
target line is slower.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vault.cli import run
from vault.keyring import KdfParams, Keyring
from vault.report import build_audit, summarize

TARGET_SECONDS = 1.0
FAST_KDF = KdfParams("argon2id", 8192, 1, 1)  # the bench unlocks nothing; keep setup quick
TYPES = ("PERSON_NAME", "EMAIL_ADDRESS", "PHONE_NUMBER", "DATE", "ORGANIZATION", "IBAN")
FILE_TYPES = ("csv", "csv", "csv", "text", "pdf", "docx", "excel")
T0 = 1_700_000_000.0


def build(path: Path, jobs: int) -> None:
    """A vault with user `bench` and ``jobs`` archived job rows, each granted to `bench`."""
    with Keyring.create(path, user="bench", passphrase="bench", kdf=FAST_KDF):
        pass
    rng = random.Random(7)
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        user_id = conn.execute("SELECT id FROM users WHERE name = 'bench'").fetchone()[0]
        job_rows = []
        grant_rows = []
        for i in range(jobs):
            counts = {t: rng.randint(1, 40) for t in rng.sample(TYPES, rng.randint(1, 4))}
            t = T0 + i * 30.0
            job_id = f"{rng.getrandbits(128):032x}"
            size = rng.randint(200, 200_000)
            job_rows.append(
                (
                    job_id, "archived", rng.choice(FILE_TYPES), "upload", t - 5, t - 6, t, t,
                    None, sum(counts.values()) + rng.randint(0, 3), sum(counts.values()),
                    json.dumps(counts, sort_keys=True), 0, 0, size, 1, size + 200, 1,
                    os.urandom(33), t,
                )
            )  # fmt: skip
            grant_rows.append((job_id, user_id, 1, os.urandom(81), t))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO jobs (job_id, status, file_type, source, created_at, submitted_at, "
            "fetched_at, archived_at, expires_at, entity_count, map_size, entity_counts, "
            "shared_placeholders, placeholder_like_originals, file_size, chunk_count, "
            "ciphertext_size, key_version, seal, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            job_rows,
        )
        conn.executemany(
            "INSERT INTO grants (job_id, user_id, key_version, sealed_dek, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            grant_rows,
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def best_of(repeat: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def library(path: Path, jobs: int) -> Callable[[], object]:
    def go() -> object:
        with Keyring.open(path) as kr:
            report = build_audit(kr.list_jobs())
        if report.totals.jobs != jobs:
            raise SystemExit(f"audit saw {report.totals.jobs} jobs, expected {jobs}")
        return report

    return go


def summary(path: Path, jobs: int) -> Callable[[], object]:
    def go() -> object:
        with Keyring.open(path) as kr:
            report = summarize(kr.store)
        if report.totals.jobs != jobs:
            raise SystemExit(f"audit saw {report.totals.jobs} jobs, expected {jobs}")
        return report

    return go


def cli(path: Path, *args: str) -> Callable[[], object]:
    def go() -> object:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            code = run(["--vault", str(path), "audit", *args])
        if code != 0:
            raise SystemExit(f"audit {' '.join(args)} exited {code}")
        return code

    return go


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10,000 jobs, one run (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    jobs = 10_000 if args.quick else args.jobs
    repeat = 1 if args.quick else args.repeat
    os.environ.pop("QUESTA_VAULT_PASSPHRASE", None)  # audit must not need one

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vault.db"
        start = time.perf_counter()
        build(path, jobs)
        setup = time.perf_counter() - start
        size = path.stat().st_size
        say = (lambda *a: None) if args.json else print
        say(f"audit: {jobs:,} archived jobs ({size / 1e6:.1f} MB vault, built in {setup:.1f} s)")
        measured = []
        scale = 100_000 / jobs
        failed = False
        for name, func, target in (
            ("library summarize (totals in SQLite)", summary(path, jobs), True),
            ("cli audit --summary", cli(path, "--summary"), True),
            ("library list_jobs + build_audit", library(path, jobs), False),
            ("cli audit (table, every job)", cli(path), False),
            ("cli audit --format csv", cli(path, "--format", "csv"), False),
            ("cli audit --format json", cli(path, "--format", "json"), False),
        ):
            seconds = best_of(repeat, func)
            scaled = seconds * scale
            verdict = ("ok" if scaled < TARGET_SECONDS else "SLOW") if target else "info"
            failed = failed or verdict == "SLOW"
            measured.append({"name": name, "seconds": seconds, "per_100000_s": scaled,
                             "target": target})  # fmt: skip
            say(
                f"  {name:<38} {seconds:6.3f} s; per 100,000 jobs {scaled:6.3f} s; "
                f"ratio to the {TARGET_SECONDS:.0f} s target {scaled / TARGET_SECONDS:5.2f} "
                f"[{verdict}]"
            )
        if args.json:
            print(json.dumps({"jobs": jobs, "repeat": repeat, "vault_bytes": size,
                              "target_s": TARGET_SECONDS, "results": measured}))  # fmt: skip
    sys.stdout.flush()
    if failed:
        raise SystemExit("audit is slower than its target")


if __name__ == "__main__":
    main()
