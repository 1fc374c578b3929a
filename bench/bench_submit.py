"""Benchmark: peak memory of ``submit`` of one large file, and of ``fetch`` of a large result.

    .venv/bin/python bench/bench_submit.py [--mib 200] [--result-mib 16]

Starts the simulator in its own process, then runs the real CLI in a child process and reads
the child's peak resident set size (``ru_maxrss``) when it exits:

- ``submit --no-wait FILE`` of a ``--mib`` MiB PDF-like file: the upload is streamed from
  disk, so the peak should not grow with the file (target: under 100 MB for 200 MB; it was
  about 680 MB when the file was read whole and copied into the multipart body);
- ``fetch`` of a job whose result is ``--result-mib`` MiB (a CSV the simulator returns as
  is): the client decodes the base64 result in place; the rest is storing it (the file and
  its ciphertext). Reported as the peak minus that of fetching a 1 KiB result, over the
  result size.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

MIB = 1024 * 1024
SUBMIT_TARGET_MB = 100.0


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vault", "simulate", "--port", "0", "--processing-time", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("QUESTA_")},
    )  # fmt: skip
    assert proc.stdout is not None
    found = re.search(r"http://\S+", proc.stdout.readline())
    if found is None:
        proc.kill()
        raise SystemExit("the simulator did not start")
    return proc, found.group(0)


def peak_mb(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run the CLI in a child process; its own peak RSS in MB (``wait4``; Linux reports KiB)
    and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "vault", *args], env=env, stdout=out, stderr=err,
        )  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode not in (0, 3):
            err.seek(0)
            raise SystemExit(f"{args[0]} failed: {err.read().decode().strip()}")
        out.seek(0)
        return usage.ru_maxrss / 1024, out.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--result-mib", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="a 20 MiB file (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    if args.quick:
        args.mib = 20
    proc, url = start_simulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("QUESTA_")},
                "QUESTA_API_URL": url,
                "QUESTA_VAULT": str(Path(tmp) / "vault.db"),
                "QUESTA_VAULT_PASSPHRASE": "bench passphrase",
                "QUESTA_VAULT_CONFIG": str(Path(tmp) / "config.toml"),
            }
            base, _ = peak_mb(["--version"], env)
            init = ["init", "--user", "bench", "--kdf-memory", "8192", "--kdf-passes", "1",
                    "--kdf-lanes", "1", "--unsafe-kdf"]  # fmt: skip
            done = subprocess.run([sys.executable, "-m", "vault", *init], env=env,
                                  capture_output=True, text=True)  # fmt: skip
            if done.returncode:
                raise SystemExit(f"init failed: {done.stderr.strip()}")
            big = Path(tmp) / "big.pdf"
            with big.open("wb") as f:
                f.write(b"%PDF-1.4\n")
                block = os.urandom(MIB)
                for _ in range(args.mib):
                    f.write(block)
            submit, _ = peak_mb(["submit", "--no-wait", str(big)], env)
            if args.json:
                print(json.dumps({"mib": args.mib, "submit_peak_mb": submit,
                                  "startup_mb": base}))  # fmt: skip
                return
            print(f"submit: {args.mib} MiB file, peak RSS {submit:.0f} MB (start-up {base:.0f} MB);"
                  f" target < {SUBMIT_TARGET_MB:.0f} MB "
                  f"[{'ok' if submit < SUBMIT_TARGET_MB else 'MISSED'}]")  # fmt: skip
            big.unlink()
            csv = Path(tmp) / "big.csv"
            row = b"x" * 1023 + b"\n"
            with csv.open("wb") as f:
                f.write(b"name\n")
                for _ in range(args.result_mib * 1024):
                    f.write(row)
            small = Path(tmp) / "small.csv"
            small.write_bytes(b"name\n" + row)
            _, out = peak_mb(["submit", "--no-wait", str(small)], env)
            small_job = out.split()[1]
            _, out = peak_mb(["submit", "--no-wait", str(csv)], env)
            job = out.split()[1]
            if job == "-":
                raise SystemExit(f"the simulator refused the upload: {out.strip()}")
            idle, _ = peak_mb(["fetch", small_job], env)  # the same command, a 1 KiB result
            fetched, _ = peak_mb(["fetch", job], env)
            extra = (fetched - idle) / (args.result_mib * MIB / 1e6)
            print(f"fetch: {args.result_mib} MiB result, peak RSS {fetched:.0f} MB (a 1 KiB "
                  f"result: {idle:.0f} MB): {extra:.2f} x the result")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
