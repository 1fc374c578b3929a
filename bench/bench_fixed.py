"""Benchmark: each command's fixed cost: start-up, key derivation, map decryption (issue 17.7).

    .venv/bin/python bench/bench_fixed.py [--repeat R] [--json]

Builds a vault with the default key derivation (what a user pays) and one archived job with a
1,000-entry map, and a 2 KB answer holding some of its placeholders. Then, as processes a user
starts (best of R wall times each): a bare ``python``, ``python -c "import click"`` (the floor
for any click program), ``questa-vault --version``, ``audit --summary`` and ``restore`` of the
small answer. Finally one ``restore`` of the answer runs under cProfile in a fresh process,
and its time is split into importing the CLI, the key derivation (``derive_kek``), opening
the map (``Session.open_map``: unwrap the data key, check the seal, decrypt), the restore
itself, committing the access-log entry (``Session.release``), and the rest.
No target: the figures say where a small command's time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_store import make_job  # noqa: E402

from vault.crypto import default_kdf  # noqa: E402
from vault.custody import Custodian  # noqa: E402

PASSPHRASE = "bench passphrase"
# Run in a fresh process: profile importing the CLI and one restore, print the split as JSON.
CHILD = r"""
import cProfile, json, pstats, sys, time
start = time.perf_counter()
profile = cProfile.Profile()
profile.enable()
import vault.cli
imported = time.perf_counter()
code = vault.cli.run(sys.argv[1:])
profile.disable()
end = time.perf_counter()
stats = pstats.Stats(profile).stats
def cumulative(file_part, name):
    return sum(v[3] for k, v in stats.items() if k[2] == name and file_part in k[0])
print(json.dumps({
    "exit": code,
    "total_s": end - start,
    "import_cli_s": imported - start,
    "kdf_s": cumulative("crypto", "derive_kek"),
    "map_decrypt_s": cumulative("custody", "open_map"),
    "restore_s": cumulative("restore", "restore_stream") or cumulative("restore", "restore_file"),
    "log_release_s": cumulative("custody", "release"),
}))
"""


def best_wall(argv: list[str], repeat: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv[1:4])} exited {result.returncode}: "
                             f"{result.stderr.decode(errors='replace')[-300:]}")  # fmt: skip
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run each")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    kdf = default_kdf()
    with tempfile.TemporaryDirectory() as tmp:
        vault = Path(tmp) / "vault.db"
        with Custodian.create(vault, user="bench", passphrase=PASSPHRASE, kdf=kdf) as kr:
            job = make_job(1, 50_000, 1000)
            kr.store_job(job, actor="bench")
        words = "the customer wrote to us about the invoice and the meeting".split()
        marks = [f"[PERSON_NAME_{i}]" for i in range(1, 60)]
        text = " ".join(w if n % 7 else marks[n % len(marks)] for n, w in
                        enumerate(words * 40))[:2000] + "\n"  # fmt: skip
        answer = Path(tmp) / "answer.txt"
        answer.write_text(text, encoding="utf-8")
        env = {**os.environ, "QUESTA_VAULT_PASSPHRASE": PASSPHRASE, "QUESTA_VAULT": str(vault)}
        cli = [sys.executable, "-m", "vault"]
        restore = ["restore", "-j", job.job_id, str(answer)]  # to standard output
        process = {
            "python": best_wall([sys.executable, "-c", "pass"], repeat, env),
            "import_click": best_wall([sys.executable, "-c", "import click"], repeat, env),
            "version": best_wall([*cli, "--version"], repeat, env),
            "audit_summary": best_wall([*cli, "audit", "--summary"], repeat, env),
            "restore_small": best_wall([*cli, *restore], repeat, env),
        }  # fmt: skip
        child = subprocess.run([sys.executable, "-c", CHILD, *restore], capture_output=True,
                               text=True, env=env, check=False)  # fmt: skip
        try:
            profile = json.loads(child.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise SystemExit(f"profiled restore failed: {child.stderr[-500:]}") from None
    kdf_text = f"{kdf.algorithm} {kdf.memory_kib} KiB, {kdf.passes} passes, {kdf.lanes} lanes"
    result = {"repeat": repeat, "kdf": kdf_text, "answer_bytes": len(text.encode()),
              "map_entries": 1000, "process_s": process, "profile": profile}  # fmt: skip
    if args.json:
        print(json.dumps(result))
        return
    print(f"fixed costs (best of {repeat} process wall times; key derivation {kdf_text})")
    for name, seconds in process.items():
        print(f"  {name:<16} {seconds * 1000:8.1f} ms")
    print("profiled restore of a 2 KB answer (one process):")
    for name, seconds in profile.items():
        if name != "exit":
            print(f"  {name:<16} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
