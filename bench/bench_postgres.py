"""Benchmark: the vault on PostgreSQL against SQLite, in the same run.

    .venv/bin/python bench/bench_postgres.py [--jobs N] [--audit-jobs M] [--repeat R]
                                             [--quick] [--json] [--only restore]

Starts a throwaway PostgreSQL server from the machine's binaries (tests/pg_server.py: Unix
socket only, as an unprivileged user when run as root), then measures, interleaving the two
backends run by run (SQLite, PostgreSQL, SQLite, ...) so that load on the machine hits both:

1. **Four concurrent syncs.** N jobs (default 1,000) completed on a local simulator and
   recorded pending in a fresh vault; four ``questa-vault sync`` processes started at once
   archive them. Wall time from start to the last exit; every job must end archived once.
2. **audit --summary over M jobs on PostgreSQL** (default 1,000,000 rows written with COPY,
   not timed): ``report.summarize`` (aggregates in SQL) and the real CLI in-process.
   Target: under 2 s.
3. **restore's fixed cost**: the real CLI restoring a one-line text with one job's map, in
   process (open the vault, unlock with the test KDF, open the job, log, write the output),
   on each backend, in pairs (SQLite then PostgreSQL). Target: PostgreSQL within 50 ms of
   SQLite (median against median); the gap of every pair is reported too (min / median /
   max), with this process's CPU time per restore (the server's own CPU is not in it) and
   the 1-minute load average before and after. ``--only restore`` measures this alone.

Prints min / median / max per measure; ``--json`` prints one JSON object. Exits non-zero when a
target is missed in any run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import psycopg  # noqa: E402
from pg_server import PostgresServer, find_binaries  # noqa: E402

from vault.audit import AuditQuery, summarize  # noqa: E402
from vault.cli import run  # noqa: E402
from vault.custody import Custodian, KdfParams  # noqa: E402
from vault.models import JobContent  # noqa: E402
from vault.simulator import SimulatorConfig, run_simulator  # noqa: E402

FAST = KdfParams("argon2id", 8192, 1, 1, unsafe=True)
PASS = "bench passphrase"
AUDIT_TARGET_S = 2.0
RESTORE_MARGIN_S = 0.050
TYPES = ("PERSON_NAME", "EMAIL_ADDRESS", "PHONE_NUMBER", "DATE", "ORGANIZATION", "IBAN")
CSV = b"name,email\nJohn Doe,john@example.com\nJane Roe,jane@example.org\n"


def stats(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


@contextlib.contextmanager
def quiet():  # type: ignore[no-untyped-def]
    # Text streams with a binary buffer beneath, as a real stdout has (restore writes bytes).
    out, err = io.TextIOWrapper(io.BytesIO()), io.TextIOWrapper(io.BytesIO())
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield


# --------------------------------------------------------------------------- 1. four syncs


def sync_run(location: str, sim, jobs: int) -> float:  # type: ignore[no-untyped-def]
    with Custodian.create(location, user="bench", passphrase=PASS, kdf=FAST) as kr:
        for _ in range(jobs):
            job_id = sim.submit("csv", CSV)
            kr.record_pending(job_id, file_type="csv", source="upload", submitted_at=time.time(),
                              filename=None, options=None, actor="bench")  # fmt: skip
    time.sleep(0.3)  # processing_time: every job is completed before the syncs start
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUESTA_", "PG"))}
    env.update(QUESTA_VAULT=location, QUESTA_API_URL=sim.url, PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, "-m", "vault", "sync", "--timeout", "300"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        if proc.returncode != 0:
            raise SystemExit(f"sync failed ({proc.returncode}): {err.strip()[-300:]}")
    elapsed = time.perf_counter() - started
    with Custodian.open(location) as kr:
        statuses = {j.status for j in kr.list_jobs()}
        fetches = len(kr.log_entries(action="fetch"))
    if statuses != {"archived"} or fetches != jobs:
        raise SystemExit(f"sync left {statuses} with {fetches} fetch entries for {jobs} jobs")
    return elapsed


# --------------------------------------------------------------------------- 2. audit on PG


def fill_audit(url: str, jobs: int) -> None:
    with Custodian.create(url, user="bench", passphrase=PASS, kdf=FAST):
        pass
    rng = random.Random(7)
    t0 = 1_700_000_000.0
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY jobs (job_id, status, file_type, source, created_at, fetched_at, archived_at, "
            "entity_count, map_size, entity_counts, file_size, key_version, updated_at) "
            "FROM STDIN"
        ) as copy:
            for i in range(jobs):
                counts = {t: rng.randint(1, 9) for t in rng.sample(TYPES, 3)}
                when = t0 + i * 30.0
                copy.write_row((f"job-{i:07d}", "archived", rng.choice(("csv", "text", "pdf")),
                                "upload", when, when, when, sum(counts.values()), len(counts),
                                json.dumps(counts, sort_keys=True), 1000, 1, when))  # fmt: skip
        cur.execute("ANALYZE jobs")


def best_of(repeat: int, work: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return times


# --------------------------------------------------------------------------- 3. restore


def restore_setup(location: str, tmp: Path) -> tuple[str, Path]:
    job = JobContent(job_id="job-r", status="archived", file_type="text", created_at=1.0,
                     entity_count=1, content=b"[PERSON_NAME_1]\n",
                     mapping={"John Doe": "[PERSON_NAME_1]"})  # fmt: skip
    with Custodian.create(location, user="bench", passphrase=PASS, kdf=FAST) as kr:
        kr.store_job(job, actor="bench")
    src = tmp / "answer.txt"
    src.write_text("Dear [PERSON_NAME_1],\n")
    return location, src


RESTORE_CPU: dict[str, list[float]] = {"sqlite": [], "postgresql": []}


def restore_once(location: str, src: Path, out: Path, name: str | None = None) -> float:
    out.unlink(missing_ok=True)
    os.environ["QUESTA_VAULT_PASSPHRASE"] = PASS
    started, cpu = time.perf_counter(), time.process_time()
    with quiet():
        code = run(["--vault", location, "--user", "bench", "restore", str(src), "-j", "job-r",
                    "-o", str(out)])  # fmt: skip
    elapsed = time.perf_counter() - started
    if name is not None:
        RESTORE_CPU[name].append(time.process_time() - cpu)
    if code != 0 or "John Doe" not in out.read_text():
        raise SystemExit(f"restore failed ({code})")
    return elapsed


# --------------------------------------------------------------------------- main


class _Done(Exception):
    """``--only restore``: the restore figures are in; skip the audit part."""


def _report_restore(out: dict[str, object], as_json: bool) -> int:
    restore_ok = out["restore_gap_s"] <= RESTORE_MARGIN_S  # type: ignore[operator]
    out["targets"] = {"restore_within_50ms": restore_ok}
    if as_json:
        print(json.dumps(out, indent=2))
        return 0 if restore_ok else 1
    _print_restore(out)
    print(f"targets: {out['targets']}")
    return 0 if restore_ok else 1


def _print_restore(out: dict[str, object]) -> None:
    for key in ("restore_fixed_s", "restore_cpu_s"):
        for name, figures in out[key].items():  # type: ignore[attr-defined]
            line = " / ".join(f"{figures[k]:.3f}" for k in ("min", "median", "max"))
            print(f"{key:22} {name:11} min/median/max s  {line}")
    g = out["restore_pair_gaps_s"]
    print(f"restore gap (PG - SQLite, medians)  {out['restore_gap_s']:.3f} s")
    print(f"restore gap of each pair           min/median/max s  {g['min']:.3f} / "  # type: ignore[index]
          f"{g['median']:.3f} / {g['max']:.3f}; {out['restore_pairs_within_50ms']} of "  # type: ignore[index]
          f"{out['restore_pairs']} pairs within 50 ms; load {out['restore_load']}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--audit-jobs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 jobs, 100,000 audit rows")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=["restore"], help="measure restore's fixed cost only")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.audit_jobs = 200, 100_000
    bindir = find_binaries()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed: nothing to compare")
    server = PostgresServer(bindir).start()
    out: dict[str, object] = {"jobs": args.jobs, "audit_jobs": args.audit_jobs,
                              "repeat": args.repeat, "cores": os.cpu_count()}  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            # 1. four concurrent syncs, interleaved
            sync: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
            config = SimulatorConfig(processing_time=0.1, progress_steps=1, seed=3)
            with run_simulator(config) as sim:
                for r in range(0 if args.only else args.repeat):
                    sync["sqlite"].append(sync_run(str(tmp / f"sync-{r}.db"), sim, args.jobs))
                    sync["postgresql"].append(sync_run(server.fresh_database(), sim, args.jobs))
            if not args.only:
                out["sync_4_processes_s"] = {k: stats(v) for k, v in sync.items()}
            # 3. restore fixed cost, interleaved, after a warm-up of each
            places = {"sqlite": restore_setup(str(tmp / "r.db"), tmp),
                      "postgresql": restore_setup(server.fresh_database(), tmp)}  # fmt: skip
            restore: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
            for name, (location, src) in places.items():
                restore_once(location, src, tmp / f"warm-{name}.txt")
            load_before = os.getloadavg()[0]
            for _ in range(max(5, args.repeat * 3)):
                for name, (location, src) in places.items():
                    out_file = tmp / f"out-{name}.txt"
                    restore[name].append(restore_once(location, src, out_file, name))
            out["restore_fixed_s"] = {k: stats(v) for k, v in restore.items()}
            out["restore_cpu_s"] = {k: stats(v) for k, v in RESTORE_CPU.items()}
            gap = statistics.median(restore["postgresql"]) - statistics.median(restore["sqlite"])
            out["restore_gap_s"] = gap
            pairs = zip(restore["postgresql"], restore["sqlite"], strict=True)
            gaps = [pg - lite for pg, lite in pairs]
            out["restore_pair_gaps_s"] = stats(gaps)
            out["restore_pairs_within_50ms"] = sum(g <= RESTORE_MARGIN_S for g in gaps)
            out["restore_pairs"] = len(gaps)
            out["restore_load"] = {"before": load_before, "after": os.getloadavg()[0]}
            if args.only:
                raise _Done
            # 2. audit --summary over many jobs on PostgreSQL
            url = server.fresh_database()
            fill_audit(url, args.audit_jobs)
            with Custodian.open(url) as kr:
                library = best_of(args.repeat, lambda: summarize(kr.db, AuditQuery()))

            def cli() -> None:
                with quiet():
                    if run(["--vault", url, "audit", "--summary"]) != 0:
                        raise SystemExit("audit --summary failed")

            command = best_of(args.repeat, cli)
            out["audit_summary_pg_s"] = {"library": stats(library), "cli": stats(command)}
    except _Done:
        pass
    finally:
        server.stop()
    if args.only:
        return _report_restore(out, args.json)
    audit_ok = max(out["audit_summary_pg_s"]["cli"].values()) < AUDIT_TARGET_S  # type: ignore[index]
    restore_ok = out["restore_gap_s"] <= RESTORE_MARGIN_S  # type: ignore[operator]
    out["targets"] = {"audit_summary_under_2s": audit_ok, "restore_within_50ms": restore_ok}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key in ("sync_4_processes_s", "audit_summary_pg_s"):
            for name, figures in out[key].items():  # type: ignore[attr-defined]
                line = " / ".join(f"{figures[k]:.3f}" for k in ("min", "median", "max"))
                print(f"{key:22} {name:11} min/median/max s  {line}")
        _print_restore(out)
        print(f"targets: {out['targets']}")
    return 0 if audit_ok and restore_ok else 1


if __name__ == "__main__":
    sys.exit(main())
