"""Hand-written field lists in the docs follow the one definition in the code: the keys
`show --json` prints (docs/cli.md), the `jobs` table's columns and the migrations
(docs/storage.md). A new
job field that reaches the code but not these lists fails here, naming the list to update
(they went stale silently before: review-newuser6, B4)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import invoke
from custody_kit import PASSPHRASE, new_vault, sample_job

from vault.store._migrations import MIGRATIONS
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
    printed = set(json.loads(result.stdout))
    listed = _documented_show_keys()
    twice = sorted({key for key in listed if listed.count(key) > 1})
    assert not twice, f"docs/cli.md `## show`, the `--json` keys: listed twice: {twice}"
    documented = set(listed)
    assert documented == printed, (
        "docs/cli.md `## show`, the `--json` keys: "
        f"printed but not listed: {sorted(printed - documented)}; "
        f"listed but not printed: {sorted(documented - printed)}"
    )


def _documented_job_columns() -> set[str]:
    table = re.search(r"^### `jobs`.*?\n((?:\|.*\n)+)", STORAGE_MD, re.M)
    assert table, "docs/storage.md has no `### `jobs`` table"
    columns: set[str] = set()
    for row in table.group(1).splitlines()[2:]:  # past the header and the rule
        first = row.split("|")[1]
        columns.update(re.findall(r"`(\w+)`", first))
    return columns


def _documented_migrations() -> list[tuple[int, str]]:
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \|", STORAGE_MD, re.M)
    assert rows, "docs/storage.md has no migrations table (| 1 | `m001_initial` | ... |)"
    return [(int(number), name) for number, name in rows]


def test_storage_doc_lists_every_migration_in_order() -> None:
    applied = [(number, name) for number, (name, _) in enumerate(MIGRATIONS, 1)]
    documented = _documented_migrations()
    assert documented == applied, (
        "docs/storage.md's migrations table must have one row per entry of "
        f"store._migrations.MIGRATIONS, in order: missing {sorted(set(applied) - set(documented))}"
        f"; not a migration {sorted(set(documented) - set(applied))}"
    )


def test_storage_doc_lists_every_jobs_column() -> None:
    assert _documented_job_columns() == set(JOB_COLUMNS), (
        "docs/storage.md `### `jobs``: the table must have a row for each column of "
        f"store.JobRow: {sorted(JOB_COLUMNS)}"
    )
