"""Hand-written field lists in the docs follow the one definition in the code: the keys
`show --json` prints (docs/cli.md) and the `jobs` table's columns (docs/storage.md). A new
job field that reaches the code but not these lists fails here, naming the list to update
(they went stale silently before: review-newuser6, B4)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import invoke
from custody_kit import PASSPHRASE, new_vault, sample_job

from vault.store._rows import JOB_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
CLI_MD = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
STORAGE_MD = (ROOT / "docs" / "storage.md").read_text(encoding="utf-8")


def _documented_show_keys() -> list[str]:
    section = re.search(r"^## show\s*$(.*?)(?=^## )", CLI_MD, re.M | re.S)
    assert section, "docs/cli.md has no `## show` section"
    keys = re.search(r"`--json` keys: (.*?)\(times in Unix seconds\)", section.group(1), re.S)
    assert keys, "docs/cli.md `## show` must list the `--json` keys (`--json` keys: ... )"
    # The names in backticks, without parenthesized remarks.
    return re.findall(r"`(\w+)`", re.sub(r"\([^()]*\)", "", keys.group(1)))


def test_show_json_keys_are_the_documented_ones(isolated_env: Path) -> None:
    with new_vault(isolated_env) as custodian:
        custodian.store_job(sample_job("job-1"), actor="alice")
    result = invoke(["show", "job-1", "--json"], env={"QUESTA_VAULT_PASSPHRASE": PASSPHRASE})
    assert result.exit_code == 0, result.output
    printed = list(json.loads(result.stdout))
    assert sorted(_documented_show_keys()) == sorted(printed), (
        "docs/cli.md `## show`: the `--json` keys listed there must be the keys `show --json` "
        f"prints: {printed}"
    )


def _documented_job_columns() -> set[str]:
    table = re.search(r"^### `jobs`.*?\n((?:\|.*\n)+)", STORAGE_MD, re.M)
    assert table, "docs/storage.md has no `### `jobs`` table"
    columns: set[str] = set()
    for row in table.group(1).splitlines()[2:]:  # past the header and the rule
        first = row.split("|")[1]
        columns.update(re.findall(r"`(\w+)`", first))
    return columns


def test_storage_doc_lists_every_jobs_column() -> None:
    assert _documented_job_columns() == set(JOB_COLUMNS), (
        "docs/storage.md `### `jobs``: the table must have a row for each column of "
        f"store.JobRow: {sorted(JOB_COLUMNS)}"
    )
