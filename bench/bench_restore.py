"""Restore benchmark: throughput against a minimal restorer, map size, CSV, lenient, streaming.

Run from the repository root:

    .venv/bin/python bench/bench_restore.py            # full sizes (100 MB text, 1 GB memory run)
    .venv/bin/python bench/bench_restore.py --quick    # smaller sizes, same comparisons

Everything is measured side by side and reported as ratios to a baseline timed in the same run
(CPU time of this process, user + system), over 5 interleaved runs (min / median / max; the
load average is printed): a target counts as met only when every run meets it. Every
comparison checks that the outputs are byte-identical.

- file to file (100 MB text, 10,000-entry map, 2% placeholders): within 1.2x of a minimal
  bytes-level one-pass restorer written here (1 MiB blocks, split on ``[``, a dict lookup per
  candidate, write), about the floor for pure Python;
- lenient: at least 100 MB/s on the same file (same output: the text holds no mangled form);
- map size: a 100,000-entry map within 1.5x of a 10-entry map, each text drawing its
  placeholders from the whole map, the map's decoding (the stored JSON pairs) and inversion
  timed with the restore, as a user pays them (the restore alone is shown beside it, and the
  minimal restorer's own ratio on the same files, its table decoded from the same stored JSON
  in the clock or built before it: the floors of the two figures);
- CSV: at least 1.0x a csv.reader/csv.writer round trip of the same file;
- streaming: an answer fed in 5-word chunks within 2x of the same text fed whole (the CPU time
  of ``feed`` and ``close``; both sides build their restorer before the clock starts);
- prose false positives: lenient changes nothing that strict does not over the vendored corpora
  and the docs (target 0);
- the str.replace loop (LangChain's ``exact_matching_strategy``, written out, on a slice) and
  memory (1 GB restored under 150 MB peak RSS in a fresh process) as before.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vault.custody._envelope import decode_map, encode_map  # noqa: E402
from vault.placeholders import Matcher, Resolver, invert_map  # noqa: E402
from vault.restore import RestoreOptions, StreamRestorer, restore_stream  # noqa: E402

TYPES = ("PERSON_NAME", "EMAIL_ADDRESS", "PHONE_NUMBER", "ADDRESS", "ORGANIZATION", "DATE")
WORDS = (
    "the of and to in is was for on that with as by at from this have not are or be which "
    "report customer invoice account meeting project results quarter delivery contract review "
    "please confirm attached summary follow update schedule payment order request thanks"
).split()
MB = 1_000_000


def make_map(size: int, rng: random.Random, *, special_share: float = 0.0) -> dict[str, str]:
    """original -> placeholder, the server's shape: one shared counter over all types."""
    mapping: dict[str, str] = {}
    for i in range(1, size + 1):
        original = f"Person {i} Example" if rng.random() >= special_share else f'Doe, "J." {i}'
        mapping[original] = f"[{TYPES[i % len(TYPES)]}_{i}]"
    return mapping


def make_text(size: int, placeholders: list[str], rng: random.Random, density: float) -> str:
    """``size`` characters of 12-word lines; ``density`` of the words are placeholders."""
    vocabulary = [*WORDS, *placeholders]
    weights = [(1 - density) / len(WORDS)] * len(WORDS) + [density / len(placeholders)] * len(
        placeholders
    )
    words = rng.choices(vocabulary, weights, k=size // 5)  # more than enough words
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    text = "\n".join(lines)
    return text[: text.rfind("\n", 0, size) + 1]


def make_csv(size: int, placeholders: list[str], rng: random.Random) -> str:
    """A PII table: id, name, email, phone (placeholders), city, amount, and a free-text note."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "name", "email", "phone", "city", "amount", "note"])
    notes = ["paid, on time", "call back next week", "n/a", "asked about the invoice"]
    cities = ["Rome", "Oslo", "Lisbon", "Zurich", "Athens"]
    row = 0
    while out.tell() < size:
        pick = rng.choice
        note = pick(notes) if rng.random() > 0.2 else f"spoke with {pick(placeholders)} today"
        writer.writerow(
            [
                row,
                pick(placeholders),
                pick(placeholders),
                pick(placeholders),
                pick(cities),
                f"{rng.random() * 1000:.2f}",
                note,
            ]
        )
        row += 1
    return out.getvalue()


def timed(func: Callable[[], object], repeat: int = 3, *, fresh: Path | None = None) -> float:
    """Best CPU time (user + system of this process, as ``interleaved``) of ``repeat`` runs;
    ``fresh`` is removed before each (not timed), so a run writes a new file instead of
    truncating the last one. The str.replace loop is held against our CPU-time MB/s: its wall
    time would also count the time it waited for a core."""
    best = float("inf")
    for _ in range(repeat):
        if fresh is not None:
            fresh.unlink(missing_ok=True)
        start = time.process_time()
        func()
        best = min(best, time.process_time() - start)
    return best


def restore_file(src: Path, dst: Path, resolver: Resolver, **options: object) -> None:
    """Restore a file as the CLI does, including the report figures the CLI computes on every
    run (the access log's counts per type, the summary with the count of unused entries)."""
    with src.open("rb") as fin, dst.open("wb") as fout:
        report = restore_stream(fin, fout, resolver, RestoreOptions(**options))  # type: ignore[arg-type]
    report.log_counts()
    report.summary()


def exact_matching_strategy(text: str, deanonymizer_mapping: dict[str, dict[str, str]]) -> str:
    """LangChain's exact_matching_strategy, written out: one str.replace per map entry."""
    for entity_type in deanonymizer_mapping:
        for anonymized, original in deanonymizer_mapping[entity_type].items():
            text = text.replace(anonymized, original)
    return text


def langchain_mapping(mapping: dict[str, str]) -> dict[str, dict[str, str]]:
    """Our map (original -> placeholder) in LangChain's shape {type: {placeholder: original}}."""
    shaped: dict[str, dict[str, str]] = {}
    for original, placeholder in mapping.items():
        shaped.setdefault(placeholder[1:].rsplit("_", 1)[0], {})[placeholder] = original
    return shaped


MEMORY_CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from vault.placeholders import invert_map
from vault.restore import RestoreOptions, restore_stream


def high_water_kib():
    # VmHWM: this process's own peak. ru_maxrss would also count the parent's peak, which
    # Linux carries over across fork and exec.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


mapping = json.loads(open(sys.argv[3], encoding="utf-8").read())
resolver = invert_map(mapping, "bench")
before = high_water_kib()
start = time.perf_counter()
with open(sys.argv[2], "rb") as src, open(sys.argv[4], "wb") as dst:
    report = restore_stream(src, dst, resolver, RestoreOptions(format="text"))
seconds = time.perf_counter() - start
print(json.dumps({"before_kib": before, "peak_kib": high_water_kib(), "seconds": seconds,
                  "restored": report.restored, "bytes": report.bytes_in}))
"""


def minimal_restore(src: Path, dst: Path, table: dict[bytes, bytes]) -> None:
    """The baseline: a minimal bytes-level one-pass restorer (1 MiB blocks, split on ``[``,
    a dict lookup per candidate, write). Correct on inputs without hazards only."""
    get = table.get
    with src.open("rb") as fin, dst.open("wb") as fout:
        carry = b""
        while True:
            block = fin.read(1 << 20)
            if not block:
                break
            data = carry + block
            cut = data.rfind(b"[")
            if cut == -1 or data.find(b"]", cut) != -1:
                cut = len(data)
            data, carry = data[:cut], data[cut:]
            parts = data.split(b"[")
            out = [parts[0]]
            for part in parts[1:]:
                end = part.find(b"]")
                value = get(b"[" + part[: end + 1]) if end != -1 else None
                if value is None:
                    out.append(b"[")
                    out.append(part)
                else:
                    out.append(value)
                    out.append(part[end + 1 :])
            fout.write(b"".join(out))
        fout.write(carry)


def interleaved(
    variants: dict[str, Callable[[], object]],
    runs: int,
    fresh: Path | None = None,
    *,
    measure: bool = False,
) -> dict[str, list[float]]:
    """CPU times (user + system, of this process) of each variant over ``runs`` rounds, the
    variants taking turns in each (``measure``: each variant returns its own time in seconds).

    CPU time, not wall time: on a shared machine a wall clock also counts the time the process
    waited for a core, which falls on whichever variant was running (at a load average of 7 on
    2 cores the same restore's wall time varied 4x within one run). Every variant reads and
    writes files in the page cache, so the kernel's side of its I/O is system time, counted."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    clock = time.process_time
    for _ in range(runs):
        for name, func in variants.items():
            if fresh is not None:
                fresh.unlink(missing_ok=True)
            start = clock()
            took = func()
            elapsed = clock() - start
            times[name].append(took if measure and isinstance(took, float) else elapsed)
    return times


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """min / median / max."""
    ordered = sorted(values)
    return " / ".join(fmt.format(v) for v in (ordered[0], statistics.median(ordered), ordered[-1]))


def prose_false_positives(maps: list[dict[str, str]]) -> tuple[int, int]:
    """(changes lenient makes that strict does not, texts looked at) over the vendored corpora
    and the docs (their code spans and blocks, which show placeholders on purpose, removed)."""
    texts = []
    for path in sorted((ROOT / "tests" / "corpora").rglob("*")):
        if path.is_file() and path.suffix in (".txt", ".md", ".csv", ".tsv", ".json"):
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    for path in sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"]):
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
        texts.append(re.sub(r"`[^`\n]*`", "", text))
    changed = 0
    for mapping in maps:
        resolver = invert_map(mapping, "prose")
        for text in texts:
            lenient = Matcher(resolver, lenient=True)
            if lenient.sub(text) != Matcher(resolver).sub(text) or lenient.tally.repaired:
                changed += 1
    return changed, len(texts) * len(maps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs (a minute or less)")
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs (default 5)")
    args = parser.parse_args()
    text_mb, slice_mb, csv_mb, memory_mb = (10, 0.5, 5, 100) if args.quick else (100, 2, 30, 1000)
    runs = args.runs
    rng = random.Random(20240501)
    results: list[tuple[str, str, bool | None]] = []
    load_start = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="bench-restore-") as tmp:
        work = Path(tmp)
        out, base_out = work / "out", work / "base-out"

        # 1. File to file against the minimal restorer; lenient on the same file.
        mapping = make_map(10_000, rng)
        resolver = invert_map(mapping, "bench")
        table = {p.encode(): o.encode() for p, o in resolver.originals.items()}
        text = make_text(text_mb * MB, list(mapping.values()), rng, 0.02)
        src = work / "in.txt"
        src.write_text(text, encoding="utf-8")
        size = src.stat().st_size
        lenient_out = work / "lenient-out"
        times = interleaved(
            {
                "ours": lambda: restore_file(src, out, resolver, format="text"),
                "minimal": lambda: minimal_restore(src, base_out, table),
                "lenient": lambda: restore_file(
                    src, lenient_out, resolver, format="text", lenient=True
                ),
            },
            runs,
        )
        same = out.read_bytes() == base_out.read_bytes() == lenient_out.read_bytes()
        ratios = [o / m for o, m in zip(times["ours"], times["minimal"])]
        ours = [size / t / MB for t in times["ours"]]
        results.append(
            (
                f"text, {size / MB:.0f} MB, 2% placeholders, 10,000 entries",
                f"{statistics.median(ours):.0f} MB/s (min/median/max {spread(ours, '{:.0f}')})",
                None,
            )
        )
        results.append(
            (
                "  vs the minimal bytes-level restorer (same run)",
                f"{spread(ratios)}x its time (limit 1.2x)",
                max(ratios) <= 1.2,
            )
        )
        lenient = [size / t / MB for t in times["lenient"]]
        results.append(
            (
                "  same, --lenient",
                f"{spread(lenient, '{:.0f}')} MB/s (floor 100)",
                min(lenient) >= 100,
            )
        )
        results.append(("  identical output: ours, minimal, lenient", str(same), same))

        # 2. Map size: each text draws its placeholders from its whole map. A restore pays for
        # its map before it reads any text: the decrypted map (stored as JSON pairs) decoded
        # and inverted. The target's figure times that with the restore (what a user waits
        # for; decryption itself, AES-GCM in C, is left out); the restore alone, with the
        # maps inverted before the clock, is shown beside it.
        small = make_map(10, rng)
        big = make_map(100_000, rng)
        src_small, src_big = work / "small.txt", work / "big.txt"
        src_small.write_text(make_text(text_mb * MB, list(small.values()), rng, 0.02), "utf-8")
        src_big.write_text(make_text(text_mb * MB, list(big.values()), rng, 0.02), "utf-8")
        small_resolver, big_resolver = invert_map(small, "s"), invert_map(big, "b")
        small_stored, big_stored = encode_map(small), encode_map(big)
        big_table = {p.encode(): o.encode() for p, o in big_resolver.originals.items()}
        small_table = {p.encode(): o.encode() for p, o in small_resolver.originals.items()}

        def with_map(src: Path, stored: bytes, job: str) -> None:
            restore_file(src, out, invert_map(decode_map(stored), job), format="text")

        def minimal_with_map(src: Path, stored: bytes) -> None:
            # The floor's side of the same bill: the same stored JSON decoded into its table
            # (json.loads, one dict of bytes), with no shape check, no problems looked for.
            pairs = json.loads(stored)
            minimal_restore(src, base_out, {p.encode(): o.encode() for o, p in pairs})

        # The minimal restorer's own ratio on the same two files, for context: the big map's
        # lookups miss the caches whatever does them, more so on a loaded machine. It is timed
        # both ways, as ours is: building its table from the stored JSON in the clock (the
        # floor for the target's figure) and with its table built before the clock (the floor
        # for the restore alone).
        times = interleaved(
            {
                "small, restore only": lambda: restore_file(
                    src_small, out, small_resolver, format="text"
                ),
                "big, restore only": lambda: restore_file(
                    src_big, out, big_resolver, format="text"
                ),
                "small": lambda: with_map(src_small, small_stored, "s"),
                "big": lambda: with_map(src_big, big_stored, "b"),
                "minimal small": lambda: minimal_restore(src_small, base_out, small_table),
                "minimal big": lambda: minimal_restore(src_big, base_out, big_table),
                "minimal small, with its map": lambda: minimal_with_map(src_small, small_stored),
                "minimal big, with its map": lambda: minimal_with_map(src_big, big_stored),
            },
            runs,
        )
        same_big = out.read_bytes() == base_out.read_bytes()  # the last "big" run's output
        map_ratios = [b / s for b, s in zip(times["big"], times["small"])]
        only_ratios = [
            b / s for b, s in zip(times["big, restore only"], times["small, restore only"])
        ]
        minimal_ratios = [b / s for b, s in zip(times["minimal big"], times["minimal small"])]
        floor_big, floor_small = (
            times["minimal big, with its map"],
            times["minimal small, with its map"],
        )
        floor_ratios = [b / s for b, s in zip(floor_big, floor_small)]
        used = len(set(re.findall(r"\[[A-Z_]+_\d+\]", src_big.read_text("utf-8")[: 5 * MB])))
        results.append(
            (
                "100,000-entry map vs 10-entry map, placeholders drawn from the whole map, "
                "the map's decoding and inversion included",
                f"{statistics.median(map_ratios):.2f}x the time "
                f"(min/median/max {spread(map_ratios)}; limit 1.5x)",
                max(map_ratios) <= 1.5,
            )
        )
        results.append(
            (
                "  the restore alone (maps inverted before the clock; no limit)",
                f"{spread(only_ratios)}x the time",
                None,
            )
        )
        results.append(
            (
                "  the minimal restorer, its table decoded from the same stored JSON in the "
                "clock (the floor for the figure above; same runs; no limit)",
                f"{spread(floor_ratios)}x the time",
                None,
            )
        )
        results.append(
            (
                "  the minimal restorer, its table built before the clock (the floor for the "
                "restore alone; same runs; no limit)",
                f"{spread(minimal_ratios)}x the time",
                None,
            )
        )
        results.append(
            (
                f"  distinct placeholders in the first 5 MB of the big text: {used:,}; "
                "output identical to the minimal restorer",
                str(same_big),
                same_big,
            )
        )

        # 3. Against the str.replace loop at 10,000 entries, on a slice of the same text. The
        # loop pays one pass per entry, plus a copy of the text per entry that occurs, so its
        # MB/s falls as more entries occur: on the whole input every entry does.
        piece = text[: int(slice_mb * MB)]
        piece = piece[: piece.rfind("\n") + 1]
        shaped = langchain_mapping(mapping)
        looped: list[str] = []
        loop_seconds = timed(lambda: looped.append(exact_matching_strategy(piece, shaped)), 1)
        loop = len(piece.encode()) / loop_seconds / MB
        present = sum(1 for placeholder in mapping.values() if placeholder in piece)
        (work / "piece.txt").write_text(piece, encoding="utf-8")
        restore_file(work / "piece.txt", out, resolver, format="text")
        same_loop = out.read_text(encoding="utf-8") == looped[0]
        ours_median = statistics.median(ours)
        results.append(
            (
                "str.replace loop (LangChain's exact_matching_strategy, written out), "
                f"{len(piece) / MB:.1f} MB slice holding {present:,} of the entries",
                f"{loop:.3f} MB/s",
                None,
            )
        )
        results.append(
            (
                "  ours / loop, 10,000 entries",
                f"{ours_median / loop:,.0f}x faster",
                ours_median / loop >= 1000,
            )
        )
        results.append(
            ("  same output on this input (it has no hazards)", str(same_loop), same_loop)
        )

        # 4. CSV against a csv.reader/csv.writer round trip of the same file.
        for label, share in (("PII table", 0.0), ("PII table, 5% of values need quotes", 0.05)):
            csv_map = make_map(10_000, rng, special_share=share)
            csv_resolver = invert_map(csv_map, "csv")
            csv_src = work / "in.csv"
            rows = make_csv(csv_mb * MB, list(csv_map.values()), rng)
            csv_src.write_text(rows, "utf-8")
            csv_size = csv_src.stat().st_size
            plain_out = work / "plain.csv"

            def round_trip() -> None:
                with (
                    csv_src.open(newline="", encoding="utf-8") as fin,
                    plain_out.open("w", newline="", encoding="utf-8") as fout,
                ):
                    csv.writer(fout).writerows(csv.reader(fin))

            times = interleaved(
                {
                    "ours": lambda: restore_file(csv_src, out, csv_resolver, format="csv"),  # noqa: B023
                    "plain": round_trip,
                },
                runs,
            )
            # the cells must be the originals, and (no hazard) the bytes the minimal ones
            originals = csv_resolver.originals
            expected = [
                [re.sub(r"\[[A-Z_]+_\d+\]", lambda m: originals[m.group()], cell) for cell in row]
                for row in csv.reader(io.StringIO(rows, newline=""))
            ]
            got = list(csv.reader(io.StringIO(out.read_text("utf-8"), newline="")))
            correct = got == expected[: len(got)] and len(got) == len(expected)
            if share == 0.0:
                minimal_restore(
                    csv_src,
                    base_out,
                    {p.encode(): o.encode() for p, o in csv_resolver.originals.items()},
                )
                correct = correct and out.read_bytes() == base_out.read_bytes()
            csv_ratios = [p / o for o, p in zip(times["ours"], times["plain"])]
            ours_csv = statistics.median([csv_size / t / MB for t in times["ours"]])
            plain = statistics.median([csv_size / t / MB for t in times["plain"]])
            results.append(
                (
                    f"CSV {label}, {csv_size / MB:.0f} MB: ours vs reader/writer round trip",
                    f"{ours_csv:.0f} vs {plain:.0f} MB/s ({statistics.median(csv_ratios):.2f}x) "
                    f"(min/median/max {spread(csv_ratios)}; floor 1.0x)",
                    min(csv_ratios) >= 1.0 if share == 0.0 else None,
                )
            )
            results.append((f"  CSV {label}: cells restored, bytes checked", str(correct), correct))

        # 5. Streaming: an answer fed in 5-word chunks against the same text fed whole, strict
        # and --lenient (each against the same mode fed whole). Both sides do the same fixed
        # work: a new restorer is built before each timed call, outside the clock (building
        # it does not depend on the chunking; for a 10,000-entry map it costs more than the
        # 200 kB restore itself, so timing it on both sides hid the chunks' cost), and the
        # clock covers feed() and close(). CPU time of this process, best of 3 per run.
        answer = text[:200_000]
        words = answer.split(" ")
        chunks = [" ".join(words[i : i + 5]) + " " for i in range(0, len(words), 5)]
        chunks[-1] = chunks[-1][:-1]
        for mode, lenient_stream in (("", False), (", --lenient", True)):
            streamed: list[str] = []
            built: list[float] = []

            def fed(pieces: list[str]) -> float:
                best = float("inf")
                for _ in range(3):
                    clock = time.process_time()
                    restorer = StreamRestorer(resolver, lenient=lenient_stream)  # noqa: B023
                    start = time.process_time()
                    done = "".join(map(restorer.feed, pieces)) + restorer.close()
                    best = min(best, time.process_time() - start)
                    built.append(start - clock)  # noqa: B023
                streamed.append(done)  # noqa: B023
                return best

            times = interleaved(
                {"whole": lambda: fed([answer]), "chunked": lambda: fed(chunks)},  # noqa: B023
                runs,
                measure=True,
            )
            stream_ratios = [c / w for w, c in zip(times["whole"], times["chunked"])]
            per_chunk = [
                (c - w) / len(chunks) * 1e6 for w, c in zip(times["whole"], times["chunked"])
            ]
            same_stream = len(set(streamed)) == 1
            results.append(
                (
                    f"streaming{mode}: {len(answer) / 1000:.0f} kB answer in {len(chunks):,} "
                    "chunks of 5 words vs fed whole (feed+close CPU time, restorer built "
                    "before either; best of 3)",
                    f"{statistics.median(stream_ratios):.2f}x the time (min/median/max "
                    f"{spread(stream_ratios)}; {spread(per_chunk, '{:.2f}')} us more per "
                    f"chunk; building the restorer {statistics.median(built) * 1000:.1f} ms; "
                    "limit 2x)",
                    max(stream_ratios) <= 2.0,
                )
            )
            results.append(
                (f"  streamed{mode} output identical to whole", str(same_stream), same_stream)
            )

        # 6. Prose: lenient must not rewrite text without placeholders.
        one_word = {"Main St 1": "[ADDRESS_1]", "2024": "[DATE_2]", "Rome": "[LOCATION_3]"}
        one_word["see attached"] = "[NOTE_6]"
        changed, looked = prose_false_positives([mapping, one_word, small])
        results.append(
            (
                f"prose false positives (lenient vs strict, {looked} corpus/docs texts x maps)",
                f"{changed} changed",
                changed == 0,
            )
        )

        # 7. Memory: a large file restored in a fresh process.
        big_src = work / "big.txt"
        block = text[:MB].encode("utf-8")
        with big_src.open("wb") as f:
            for _ in range(memory_mb):
                f.write(block)
        map_file = work / "map.json"
        map_file.write_text(json.dumps(mapping), encoding="utf-8")
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                MEMORY_CHILD,
                str(ROOT),
                str(big_src),
                str(map_file),
                os.devnull,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        memory = json.loads(child.stdout)
        peak_mb = memory["peak_kib"] * 1024 / MB
        results.append(
            (
                f"{memory['bytes'] / MB:,.0f} MB restored in a subprocess: peak RSS",
                f"{peak_mb:.0f} MB (start {memory['before_kib'] * 1024 / MB:.0f} MB, "
                f"{memory['bytes'] / memory['seconds'] / MB:.0f} MB/s)",
                peak_mb < 150,
            )
        )

    width = max(len(label) for label, _, _ in results)
    print(
        f"restore benchmark{' (--quick)' if args.quick else ''}, Python {sys.version.split()[0]}, "
        f"{runs} interleaved runs, load average {load_start:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end"
    )
    failed = False
    for label, value, ok in results:
        mark = "" if ok is None else ("  ok" if ok else "  BELOW TARGET")
        failed |= ok is False
        print(f"{label:<{width}}  {value}{mark}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
