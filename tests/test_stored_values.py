"""Stored values that passed (or skipped) every check on their way in but could break a reader:
JSON nested beyond the parser's bound in a log entry (review-attack6 B9), and what a hostile
service can send that later output cannot print (B10). Each must end as a one-line finding or
error (exit 5), or be printed escaped, never as an internal error of every command that reads
the row."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import invoke
from custody_kit import raw_db, sample_job
from test_cli_lifecycle import ENV, alice, store, vault  # noqa: F401 (the fixture)

from vault.client._validate import parse_status
from vault.custody import Custodian
from vault.errors import InputError, MalformedResponse

DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000
DEEP_ARRAY = "[" * 100_000 + "]" * 100_000


def _edit_log(path: Path, column: str, value: str, action: str) -> None:
    with raw_db(path) as db:
        triggers = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'access_log'"
        ).fetchall()
        for name, _ in triggers:
            db.execute(f"DROP TRIGGER {name}")
        db.execute(f"UPDATE access_log SET {column} = ? WHERE action = ?", (value, action))
        for _, sql in triggers:
            db.execute(sql)


@pytest.mark.sqlite_only("hand edit of the SQLite file (PostgreSQL: the append path refuses)")
@pytest.mark.parametrize(
    ("column", "value"), [("counts", DEEP_OBJECT), ("facts", DEEP_ARRAY)], ids=["counts", "facts"]
)
def test_a_deeply_nested_log_column_is_a_finding_not_an_internal_error(
    vault: Path,  # noqa: F811 (the fixture)
    column: str,
    value: str,
) -> None:
    store(vault, sample_job("j1"), sample_job("j2"))
    _edit_log(vault, column, value, "fetch")
    for args in (["log"], ["verify"], ["--user", "alice", "show", "j1", "--reveal"]):
        result = invoke(args, env=ENV)
        assert result.exit_code == 5, (args, result.output)
        assert "internal error" not in result.stderr, args
        assert "Traceback" not in result.output
    result = invoke(["verify"], env=ENV)
    assert f"a {column} column of the vault is nested too deep" in result.stdout
    # verify went on with the checks after the log (structure, state): each reported, one line
    assert "[log] access log entry" in result.stdout
    assert "[state]" in result.stdout


def test_counts_that_are_not_a_flat_object_are_refused_on_write(vault: Path) -> None:  # noqa: F811
    with Custodian.open(vault) as kr:
        before = kr.log_head()
        for counts in ({"a": {"b": 1}}, {"a": [1]}, {"a": True}, {1: 2}):
            with pytest.raises(InputError, match="a flat object of integers"):
                kr.record("alice", "export", None, counts)  # type: ignore[arg-type]
        assert kr.log_head() == before


# --------------------------------------------------------------------------- B10


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("de_anonymization_map", {"Ann": "[PERS\ud800ON_1]"}),
        ("de_anonymization_map", {"x\udfffy": "[EMAIL_ADDRESS_3]"}),
        ("error", "bad \ud800"),
        ("created_at", 1e300),
        ("created_at", 253402300800),
    ],
    ids=["placeholder", "original", "error", "time-1e300", "time-year-10000"],
)
def test_the_service_values_no_output_can_print_are_refused(field: str, value: object) -> None:
    body = {
        "status": "failed" if field == "error" else "completed",
        "progress": 100,
        "created_at": 1_700_000_000,
        "file_type": "csv",
        "result": "YQ==",
        "de_anonymization_map": {"Ann": "[PERSON_NAME_1]"},
        "entity_count": 1,
        field: value,
    }
    with pytest.raises(MalformedResponse, match=f"field '{field}'.*nothing was stored"):
        parse_status(body, "job-1")


@pytest.mark.sqlite_only("PostgreSQL's jsonb audit trigger refuses a lone surrogate on archive")
def test_a_stored_lone_surrogate_or_huge_time_is_printed_escaped(
    vault: Path,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    """Vaults that already hold such values (stored before the check above): every reader
    prints them escaped (``\\ud800``) or as an unknown time, never an internal error."""
    odd = {"Ann": "[PERS\ud800ON_1]", "x\udfffy": "[EMAIL_ADDRESS_3]"}
    store(vault, sample_job("j1", mapping=odd), replace(sample_job("j2"), created_at=1e300))
    text = tmp_path / "a.txt"
    text.write_text("hello\n", encoding="utf-8")  # the report lists the unused placeholders
    report = tmp_path / "r.json"
    runs = [
        ["audit"],
        ["audit", "--format", "json"],
        ["audit", "--format", "csv"],
        ["--user", "alice", "audit", "--deep"],
        ["--user", "alice", "show", "j1"],
        ["--user", "alice", "show", "j2"],
        ["--user", "alice", "show", "j2", "--reveal"],
        ["--user", "alice", "restore", str(text), "-j", "j1", "-o", "-", "--report", str(report)],
    ]
    for args in runs:
        result = invoke(args, env=ENV)
        assert result.exit_code == 0, (args, result.output)
        assert "internal error" not in result.stderr
    assert "PERS\\ud800ON" in invoke(["audit"], env=ENV).stdout
    assert "invalid time" in invoke(["--user", "alice", "show", "j2"], env=ENV).stdout
    assert "[PERS\\ud800ON_1]" in report.read_text(encoding="utf-8")
    # restoring the original that is not Unicode: refused in one line, nothing written
    text.write_text("x [EMAIL_ADDRESS_3]\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    result = invoke(["--user", "alice", "restore", str(text), "-j", "j1", "-o", str(out)], env=ENV)
    assert result.exit_code == 1 and "cannot be written" in result.stderr
    assert not out.exists()
