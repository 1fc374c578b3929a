"""Benchmark companion: where the peers' restore is wrong and ours is right, on the same input.

    .venv/bin/python bench/bench_hazards.py [--json]

The peers' algorithm is a ``str.replace`` loop over the inverted map, one entry at a time
(LangChain's ``exact_matching_strategy``, llm-guard's ``Deanonymize``, and the Questa docs'
own advice), written out here. Each case is an anonymized input and its map; the expected
result is checked by parsing (CSV reader, JSON parser) or by exact text. DESIGN.md section 9
asks for the speed-up "and correct where they are wrong": this program is the second half.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vault.errors import VaultError  # noqa: E402
from vault.placeholders import invert_map, merge_resolvers  # noqa: E402
from vault.restore import RestoreOptions, restore_bytes  # noqa: E402


def replace_loop(text: str, maps: list[dict[str, str]]) -> str:
    """The peers: for each map, for each (original, placeholder), ``str.replace``."""
    for mapping in maps:
        for original, placeholder in mapping.items():
            text = text.replace(placeholder, original)
    return text


def csv_cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    maps: list[dict[str, str]]
    fmt: str
    check: Callable[[str], bool]  # is this output right?


CASES = [
    Case(
        "CSV: a restored value holds the delimiter",
        "id,name,city\n1,[PERSON_NAME_1],Rome\n",
        [{"Doe, Jane": "[PERSON_NAME_1]"}],
        "csv",
        lambda out: csv_cells(out) == [["id", "name", "city"], ["1", "Doe, Jane", "Rome"]],
    ),
    Case(
        "CSV: a restored value holds a quote and a line break",
        "id,note\n1,[NOTE_1]\n",
        [{'said "hi"\nthen left': "[NOTE_1]"}],
        "csv",
        lambda out: csv_cells(out) == [["id", "note"], ["1", 'said "hi"\nthen left']],
    ),
    Case(
        "JSON: a restored value holds a quote and a backslash",
        '{"to": "[PERSON_NAME_1]"}\n',
        [{'Jane "JJ" O\\Neil': "[PERSON_NAME_1]"}],
        "json",
        lambda out: _json(out) == {"to": 'Jane "JJ" O\\Neil'},
    ),
    Case(
        # Numbered in order of appearance, as the service does; the loop follows that order.
        "text: a restored value contains another placeholder's text",
        "See [TEMPLATE_1]. Dear [PERSON_NAME_2],\n",
        [{"the form field [PERSON_NAME_2]": "[TEMPLATE_1]", "Ann": "[PERSON_NAME_2]"}],
        "text",
        lambda out: out == "See the form field [PERSON_NAME_2]. Dear Ann,\n",
    ),
    Case(
        "two jobs: one placeholder, two people",
        "[PERSON_NAME_1] wrote to [PERSON_NAME_2].\n",
        [{"Ann": "[PERSON_NAME_1]"}, {"Bob": "[PERSON_NAME_1]", "Cy": "[PERSON_NAME_2]"}],
        "text",
        # Right: refuse and name the collision (PlaceholderCollision), never guess.
        lambda out: out == "<refused>",
    ),
]


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def ours(case: Case) -> str:
    resolvers = [invert_map(m, f"job-{i}") for i, m in enumerate(case.maps)]
    try:
        resolver = merge_resolvers(resolvers)
        out, _ = restore_bytes(
            case.text.encode(), resolver, RestoreOptions(format=case.fmt, encoding="utf-8")
        )
    except VaultError:
        return "<refused>"
    return out.decode("utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    rows = []
    for case in CASES:
        peer_ok = case.check(replace_loop(case.text, case.maps))
        ours_ok = case.check(ours(case))
        rows.append({"case": case.name, "peer_correct": peer_ok, "ours_correct": ours_ok})
    if args.json:
        print(json.dumps({"cases": rows}))
    else:
        print("restore hazards: the str.replace loop vs ours, same input")
        for row in rows:
            print(f"  {row['case']:<58} loop {'right' if row['peer_correct'] else 'WRONG'}, "
                  f"ours {'right' if row['ours_correct'] else 'WRONG'}")  # fmt: skip
    return 0 if all(r["ours_correct"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
