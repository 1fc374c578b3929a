"""The one table printer (``vault.audit.Table``) writes exactly what each of the four printers
it replaced wrote (the ``jobs``/``user list``/``config`` table, ``log``, the audit's job
table and the deep cross-check), for arbitrary cells: the old printers are kept here as the
reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import given
from hypothesis import strategies as st

from vault.audit import (
    AuditQuery,
    Column,
    CrossCheck,
    Table,
    build_audit,
    cross_check_lines,
    table_lines,
)
from vault.audit._render import JOB_TABLE, count_lines
from vault.audit._table import fit

text = st.text(max_size=30)
small = st.integers(min_value=-(10**9), max_value=10**12)


def old_sized_table(rows: list[tuple[str, ...]], sep: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [sep.join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]


@given(
    st.integers(min_value=1, max_value=5).flatmap(
        lambda n: st.lists(st.tuples(*[text] * n), min_size=1, max_size=8)
    ),
    st.sampled_from([" ", "  "]),
)
def test_sized_table_as_the_jobs_users_config_and_log_tables(
    rows: list[tuple[str, ...]], sep: str
) -> None:
    printer = Table.sized([Column(h, gap=sep) for h in rows[0]], rows[1:])
    assert list(printer.lines(rows[1:])) == old_sized_table(rows, sep)
    # log prints its heading and each line itself, with detail lines between them
    assert [printer.heading(), *map(printer.line, rows[1:])] == old_sized_table(rows, sep)


def old_job_lines(
    jobs: Sequence[tuple[str, str, str, str, int, int, Mapping[str, int]]], width: int
) -> list[str]:
    head = f"{'JOB':<8} {'TYPE':<5} {'STATUS':<8} {'ARCHIVED (UTC)':<16} {'ENT':>5} {'MAP':>5} "
    rest = max(width - len(head), 8)
    lines = [head + "COUNTS"]
    for job_id, file_type, status, when, entities, size, counts in jobs:
        wrapped = count_lines(counts, rest)
        lines.append(
            f"{job_id[:8]:<8} {file_type[:5]:<5} {status[:8]:<8} "
            f"{when:<16} {entities:>5} {size:>5} " + wrapped[0]
        )
        lines.extend(" " * len(head) + more for more in wrapped[1:])
    return [fit(line, width) for line in lines]


job = st.tuples(
    text, text, text, text, small, small, st.dictionaries(text, small, max_size=6)
)  # fmt: skip


@given(st.lists(job, max_size=6), st.sampled_from([80, 60, 120, 20]))
def test_job_table_as_the_audit_table(
    jobs: list[tuple[str, str, str, str, int, int, Mapping[str, int]]], width: int
) -> None:
    table = Table(JOB_TABLE.columns, width=width)
    rest = max(width - table.indent, 8)
    got = list(table.lines(jobs, wrap=lambda counts: count_lines(counts, rest)))
    assert got == old_job_lines(jobs, width)


def old_cross_check_lines(checks: Sequence[CrossCheck], width: int) -> list[str]:
    lines = [f"{'JOB':<8} {'SERVER':>7} {'FOUND':>7}  RESULT"]
    for c in checks:
        if not c.checked:
            lines.append(f"{c.job_id[:8]:<8} {c.entity_count:>7} {'-':>7}  not checked: {c.reason}")
        else:
            result = ", ".join(c.flags) if c.flags else "ok"
            lines.append(f"{c.job_id[:8]:<8} {c.entity_count:>7} {c.occurrences:>7}  {result}")
    return [fit(line, width) for line in lines]


check = st.builds(
    CrossCheck,
    job_id=text,
    checked=st.booleans(),
    reason=text,
    occurrences=small,
    entity_count=small,
    flags=st.lists(text, max_size=3).map(tuple),
)


@given(st.lists(check, max_size=6), st.sampled_from([80, 30]))
def test_cross_check_table_as_before(checks: list[CrossCheck], width: int) -> None:
    got = cross_check_lines(checks, width=width)
    assert got[: len(checks) + 1] == old_cross_check_lines(checks, width)


def test_only_the_last_column_may_be_free() -> None:
    table = Table((Column("A"), Column("B", 3)))
    try:
        table.heading()
    except ValueError as exc:
        assert "needs a width" in str(exc)
    else:
        raise AssertionError("a free first column was accepted")


def test_table_lines_of_an_empty_report_keeps_its_totals() -> None:
    lines = table_lines(build_audit([], AuditQuery()))
    assert lines[0].startswith("JOB      TYPE  STATUS   ARCHIVED (UTC)     ENT   MAP COUNTS")
    assert lines[1:] == ["", "0 job(s), 0 entities reported by the server, 0 map entries"]
