"""Audit views (vault.audit): filters, totals, renderings and the deep cross-check."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from office_kit import make_docx, make_pdf, make_xlsx

from vault.audit import (
    AuditQuery,
    audit_time,
    build_audit,
    cross_check,
    cross_check_lines,
    cross_check_to_dict,
    csv_rows,
    iso_time,
    parse_when,
    placeholder_type,
    report_to_dict,
    table_lines,
)
from vault.custody._jobs import job_info
from vault.errors import InputError
from vault.models import JobContent, JobInfo


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def job(
    job_id: str,
    *,
    status: str = "archived",
    file_type: str = "csv",
    archived: str | None = "2024-05-10T12:00:00",
    counts: dict[str, int] | None = None,
    entity_count: int | None = None,
    submitted: str | None = None,
) -> JobInfo:
    counts = counts if counts is not None else {"PERSON_NAME": 2, "EMAIL_ADDRESS": 1}
    return JobInfo(
        job_id=job_id,
        status=status,  # type: ignore[arg-type]
        file_type=file_type,
        source="upload",
        created_at=ts(archived) - 60 if archived else None,
        submitted_at=ts(submitted) if submitted else None,
        fetched_at=ts(archived) if archived else None,
        archived_at=ts(archived) if archived else None,
        expires_at=None,
        entity_count=sum(counts.values()) if entity_count is None else entity_count,
        map_size=len(counts),
        entity_counts=counts,
        file_size=100,
        key_version=1,
        recipients=("alice",),
    )


NOW = ts("2024-06-01T00:00:00")


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2024-05-01", False, ts("2024-05-01T00:00:00")),
        ("2024-05-31", True, ts("2024-06-01T00:00:00")),
        ("2024-05-01T08:30", False, ts("2024-05-01T08:30:00")),
        ("2024-05-01T08:30:00+02:00", False, ts("2024-05-01T06:30:00")),
        ("2024-05-01 08:30:15", True, ts("2024-05-01T08:30:15")),
        ("30d", False, NOW - 30 * 86400),
        ("12h", False, NOW - 12 * 3600),
        ("2w", False, NOW - 14 * 86400),
        ("45m", False, NOW - 45 * 60),
        ("1714521600", False, ts("2024-05-01T00:00:00")),
        ("1714521600.5", True, ts("2024-05-01T00:00:00") + 0.5),
        ("now", False, NOW),
        ("today", False, ts("2024-06-01T00:00:00")),
        ("Today", True, ts("2024-06-02T00:00:00")),
        ("yesterday", False, ts("2024-05-31T00:00:00")),
        ("yesterday", True, ts("2024-06-01T00:00:00")),
    ],
)
def test_parse_when(text: str, end: bool, expected: float) -> None:
    assert parse_when(text, now=NOW, end=end) == expected


def test_today_and_yesterday_are_whole_utc_days_at_any_time_of_day() -> None:
    late = ts("2024-06-01T23:59:59")
    assert parse_when("today", now=late) == ts("2024-06-01T00:00:00")
    assert parse_when("yesterday", now=late, end=True) == ts("2024-06-01T00:00:00")


@pytest.mark.parametrize("text", ["tomorrow", "2024-13-01", "30y", "", "-5d", "last week"])
def test_parse_when_rejects(text: str) -> None:
    with pytest.raises(InputError, match="cannot read the time"):
        parse_when(text, now=NOW)


def test_audit_time_falls_back_for_jobs_never_archived() -> None:
    pending = job("p", status="pending", archived=None, submitted="2024-05-02T00:00:00")
    assert audit_time(pending) == ts("2024-05-02T00:00:00")
    assert audit_time(job("a")) == ts("2024-05-10T12:00:00")
    assert audit_time(job("n", archived=None)) is None


def test_totals_per_type_status_and_file_type() -> None:
    jobs = [
        job("a", counts={"PERSON_NAME": 2, "EMAIL_ADDRESS": 1}),
        job("b", file_type="text", counts={"EMAIL_ADDRESS": 4}),
        job("c", status="erased", counts={"IBAN": 1}),
        job("d", status="pending", archived=None, counts={}, submitted="2024-05-11T00:00:00"),
    ]
    report = build_audit(jobs)
    t = report.totals
    assert t.jobs == 4
    assert dict(t.by_entity_type) == {"EMAIL_ADDRESS": 5, "PERSON_NAME": 2, "IBAN": 1}
    assert list(t.by_entity_type) == ["EMAIL_ADDRESS", "PERSON_NAME", "IBAN"]
    assert dict(t.by_status) == {"pending": 1, "archived": 2, "erased": 1}
    assert dict(t.by_file_type) == {"csv": 3, "text": 1}
    assert t.entity_count == 8
    assert t.map_size == 4
    assert [j.job_id for j in report.jobs] == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (AuditQuery(), ["old", "may1", "may31", "june", "pend"]),
        (AuditQuery(since=ts("2024-05-01T00:00:00")), ["may1", "may31", "june", "pend"]),
        (
            AuditQuery(since=ts("2024-05-01T00:00:00"), until=ts("2024-06-01T00:00:00")),
            ["may1", "may31", "pend"],
        ),
        (AuditQuery(statuses=("pending",)), ["pend"]),
        (AuditQuery(statuses=("archived", "erased")), ["old", "may1", "may31", "june"]),
        (AuditQuery(file_types=("text",)), ["may31"]),
        (AuditQuery(file_types=("csv",), until=ts("2024-05-01T00:00:00")), ["old"]),
    ],
)
def test_filters(query: AuditQuery, expected: list[str]) -> None:
    jobs = [
        job("june", archived="2024-06-01T00:00:00"),
        job("may31", archived="2024-05-31T23:59:59", file_type="text"),
        job("may1", archived="2024-05-01T00:00:00", status="erased"),
        job("old", archived="2024-04-30T23:59:59"),
        job("pend", status="pending", archived=None, submitted="2024-05-15T00:00:00"),
        job("nodate", status="failed", archived=None),
    ]
    if not query.statuses and not query.file_types and query.since is None:
        expected = [*expected, "nodate"]
    report = build_audit(jobs, query)
    assert sorted(j.job_id for j in report.jobs) == sorted(expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"statuses": ("done",)}, "unknown status done"),
        ({"since": 10.0, "until": 5.0}, "--since must be earlier than --until"),
    ],
)
def test_query_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        AuditQuery(**kwargs)


def test_json_shape_is_stable() -> None:
    report = build_audit([job("a")], AuditQuery(since=ts("2024-05-01T00:00:00")))
    data = json.loads(json.dumps(report_to_dict(report)))
    assert list(data) == ["filters", "totals", "jobs"]
    assert data["filters"] == {
        "since": ts("2024-05-01T00:00:00"),
        "until": None,
        "status": [],
        "type": [],
    }
    why = (
        "the audit JSON's job keys are a public shape: a new job field adds its key here and "
        "to docs/cli.md (`show --json`, `audit --json`), with a CHANGELOG line"
    )
    assert data["jobs"][0] == {
        "job_id": "a",
        "status": "archived",
        "file_type": "csv",
        "source": "upload",
        "created_at": ts("2024-05-10T11:59:00"),
        "submitted_at": None,
        "fetched_at": ts("2024-05-10T12:00:00"),
        "archived_at": ts("2024-05-10T12:00:00"),
        "expires_at": None,
        "entity_count": 3,
        "map_size": 2,
        "entity_counts": {"PERSON_NAME": 2, "EMAIL_ADDRESS": 1},
        "file_size": 100,
        "key_version": 1,
        "recipients": ["alice"],
        "shared_placeholders": 0,
        "placeholder_like_originals": 0,
        "ciphertext_size": 0,
        "api_url": None,
    }, why
    assert "jobs" not in report_to_dict(report, include_jobs=False)


def test_csv_has_a_column_per_entity_type() -> None:
    report = build_audit([job("a"), job("b", counts={"IBAN": 3})])
    buf = io.StringIO()
    csv.writer(buf).writerows(csv_rows(report))
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [r["job_id"] for r in rows] == ["a", "b"]
    assert rows[0]["PERSON_NAME"] == "2" and rows[0]["IBAN"] == "0"
    assert rows[1]["IBAN"] == "3" and rows[1]["EMAIL_ADDRESS"] == "0"
    assert rows[1]["archived_at"] == "2024-05-10T12:00:00Z"


def test_table_fits_80_columns_even_with_many_types() -> None:
    many = {f"CUSTOM_LABEL_NUMBER_{i}": i for i in range(1, 30)}
    jobs = [job("550e8400-e29b-41d4-a716-446655440000", counts=many), job("b")]
    lines = table_lines(build_audit(jobs))
    assert max(len(line) for line in lines) <= 80
    assert lines[0].startswith("JOB      TYPE  STATUS   ARCHIVED (UTC)")
    assert lines[1].startswith("550e8400 csv   archived 2024-05-10 12:00   ")
    assert "2 job(s)" in "\n".join(lines)
    b_line = next(i for i, line in enumerate(lines) if line.startswith("b "))
    assert all(line.startswith(" " * 53) for line in lines[2:b_line])  # continuation lines
    words = " ".join(line[53:] for line in lines[1:b_line]).split(" ")
    assert words[:2] == ["CUSTOM_LABEL_NUMBER_29:29", "CUSTOM_LABEL_NUMBER_28:28"]
    assert len(words) == 29  # every type shown
    summary = table_lines(build_audit(jobs), include_jobs=False)
    assert not any(line.startswith("JOB") for line in summary)


@pytest.mark.parametrize(
    ("placeholder", "kind"),
    [
        ("[PERSON_NAME_1]", "PERSON_NAME"),
        ("[EMAIL_ADDRESS_12]", "EMAIL_ADDRESS"),
        ("[SECRET_3]", "SECRET"),
        ("[my label_7]", "my label"),
        ("odd", "odd"),
    ],
)
def test_placeholder_type(placeholder: str, kind: str) -> None:
    assert placeholder_type(placeholder) == kind


def content(text: str | bytes, mapping: dict[str, str], entity_count: int, file_type="csv"):
    data = text.encode() if isinstance(text, str) else text
    return JobContent(
        job_id="j1",
        status="archived",
        file_type=file_type,
        created_at=0.0,
        entity_count=entity_count,
        content=data,
        mapping=mapping,
    )


@pytest.mark.parametrize(
    ("text", "mapping", "count", "flags", "missing", "unused", "occurrences"),
    [
        (
            "name\n[PERSON_NAME_1]\n[PERSON_NAME_1]\n[EMAIL_ADDRESS_2]\n",
            {"Ann": "[PERSON_NAME_1]", "a@x.io": "[EMAIL_ADDRESS_2]"},
            3,
            (),
            (),
            (),
            3,
        ),
        (
            "[PERSON_NAME_1] and [PERSON_NAME_10] [Your Name] [option1]",
            {"Ann": "[PERSON_NAME_1]"},
            1,
            ("missing-from-map",),
            ("[PERSON_NAME_10]",),
            (),
            1,
        ),
        (
            "[Ref: Ann Smith, AHV 756.1234.5678_97] [my label_7] [PERSON_NAME_1]",
            {"Ann": "[PERSON_NAME_1]"},
            1,
            ("missing-from-map",),
            (),
            (),
            1,
        ),
        (
            "[PERSON_NAME_1]",
            {"Ann": "[PERSON_NAME_1]", "Bob": "[PERSON_NAME_2]"},
            2,
            ("unused-map-entries", "count-mismatch"),
            (),
            ("[PERSON_NAME_2]",),
            1,
        ),
        ("[[SECRET_3]]", {"x": "[SECRET_3]"}, 5, ("count-mismatch",), (), (), 1),
        ("caf\xe9 [IBAN_1]".encode("latin-1"), {"x": "[IBAN_1]"}, 1, (), (), (), 1),
    ],
)
def test_cross_check(text, mapping, count, flags, missing, unused, occurrences) -> None:
    check = cross_check(content(text, mapping, count))
    assert check.checked
    assert check.flags == flags
    assert check.flagged == bool(flags)
    assert check.missing_from_map == missing
    assert check.unused_map_entries == unused
    assert check.occurrences == occurrences


SPLIT_RUNS = [("Dear [PERSON", {"bold": True}), ("_NAME_1], see [X_", {}), ("2]", {"italic": True})]
DOCUMENTS = {
    "docx": make_docx(SPLIT_RUNS, "and [PERSON_NAME_1] again", header="[PERSON_NAME_9]"),
    "excel": make_xlsx(
        {"S": {"A1": "Dear [PERSON_NAME_1], see [X_2]", "A2": "[PERSON_NAME_1]", "B1": 5}}
    )
    + b"",
    "pdf": make_pdf("Dear [PERSON_NAME_1], see [X_2]", "and [PERSON_NAME_1]"),
}
MAP = {"Ann": "[PERSON_NAME_1]", "Bo": "[X_2]", "Cy": "[UNUSED_3]"}


@pytest.mark.parametrize("file_type", ["pdf", "docx", "excel"])
def test_cross_check_reads_documents(file_type: str) -> None:
    check = cross_check(content(DOCUMENTS[file_type], MAP, 3, file_type))
    assert check.checked
    assert check.occurrences == 3
    assert check.unused_map_entries == ("[UNUSED_3]",)
    if file_type == "docx":  # the header's placeholder is not in the map
        assert check.missing_from_map == ("[PERSON_NAME_9]",)
        assert check.flags == ("missing-from-map", "unused-map-entries")
    else:
        assert check.flags == ("unused-map-entries",)


@pytest.mark.parametrize("file_type", ["pdf", "docx", "excel"])
def test_cross_check_reports_unreadable_documents(file_type: str) -> None:
    check = cross_check(content(b"%PDF [PERSON_NAME_9]", {"Ann": "[X_1]"}, 1, file_type))
    assert not check.checked and not check.flagged
    assert f"the archived {file_type} file cannot be read" in check.reason
    assert "Ann" not in check.reason


def test_cross_check_report_names_placeholders_never_originals() -> None:
    c = content("[PERSON_NAME_1] [ZIP_CODE_4]", {"Ann Original": "[PERSON_NAME_2]"}, 1)
    checks = [cross_check(c), cross_check(replace(c, job_id="j2", file_type="pdf"))]
    text = "\n".join(cross_check_lines(checks))
    assert "Ann Original" not in text
    assert "j1: not in the map: [PERSON_NAME_1] [ZIP_CODE_4]" in text
    assert "j1: never used in the file: [PERSON_NAME_2]" in text
    assert "not checked: the archived pdf file cannot be read" in text


@pytest.mark.parametrize(
    ("token", "named"),
    [
        ("[PERSON_NAME_10]", True),
        ("[x_1]", True),
        ("[A" + "B" * 63 + "_1]", True),
        ("[Ref: Johanna Quisling-Marx, AHV 756.1234.5678_97]", False),
        ("[my label_7]", False),
        ("[A" + "B" * 64 + "_1]", False),
        ("[1ABC_2]", False),
        ("[Jöhanna_3]", False),
        ("[ANN-SMITH_1]", False),
    ],
)
def test_cross_check_names_only_strict_placeholders(token: str, named: bool) -> None:
    """A token of the file the map lacks is listed only in the strict [LABEL_N] shape; any
    other placeholder-shaped text could be personal data, so it is counted, never shown."""
    check = cross_check(content(f"{token} {token} [PERSON_NAME_1]", {"Ann": "[PERSON_NAME_1]"}, 1))
    shown = "\n".join(cross_check_lines([check])) + json.dumps(cross_check_to_dict(check))
    assert check.flags == ("missing-from-map",)
    if named:
        assert check.missing_from_map == (token,)
        assert check.other_tokens == 0
        assert token in shown
    else:
        assert check.missing_from_map == ()
        assert check.other_tokens == 2
        assert token not in shown and token[1:-1] not in shown
        assert "j1: not in the map: 2 other placeholder-shaped token(s), not shown" in shown
        assert cross_check_to_dict(check)["other_tokens"] == 2


def test_iso_time() -> None:
    assert iso_time(None) is None
    assert iso_time(ts("2024-05-01T00:00:00")) == "2024-05-01T00:00:00Z"


# --------------------------------------------------------------------------- summarize


@pytest.fixture
def mixed_custodian(vault_location):
    from custody_kit import StepClock, new_vault, sample_job

    from vault.custody import Custodian

    path = vault_location  # a SQLite file, then a PostgreSQL database
    new_vault(path).close()
    clock = StepClock(start=ts("2024-05-01T00:00:00"), step=DAY)
    kr = Custodian.open(path, clock=clock)
    kr.store_job(sample_job("a"), actor="alice")
    kr.store_job(sample_job("b", mapping={"x@y.z": "[EMAIL_ADDRESS_1]"}), actor="alice")
    kr.store_job(replace(sample_job("c", mapping={}), file_type="text"), actor="alice")
    kr.store_job(sample_job("d", status="failed", error="no", mapping={}), actor="alice")
    kr.record_pending(
        "e", file_type="pdf", source="upload", submitted_at=ts("2024-05-02T12:00:00"),
        filename=None, options=None, actor="alice",
    )  # fmt: skip
    kr.record_pending(
        "f", file_type="csv", source="upload", submitted_at=None,
        filename=None, options=None, actor="alice",
    )  # fmt: skip
    kr.mark_expired("f", actor="alice")
    with kr.db.write():
        kr.db.jobs.put(replace(kr.db.jobs.get("b"), status="erased", seal=None))
    yield kr
    kr.close()


DAY = 86400.0


@pytest.mark.parametrize(
    "query",
    [
        AuditQuery(),
        AuditQuery(statuses=("archived",)),
        AuditQuery(statuses=("erased", "pending")),
        AuditQuery(file_types=("csv",)),
        AuditQuery(since=ts("2024-05-02T00:00:00")),
        AuditQuery(since=ts("2024-05-02T00:00:00"), until=ts("2024-05-03T00:00:00")),
        AuditQuery(until=ts("2024-05-01T00:00:01"), file_types=("csv", "text")),
        AuditQuery(statuses=("expired",)),
    ],
)
def test_summarize_in_sqlite_equals_build_audit(mixed_custodian, query: AuditQuery) -> None:
    from vault.audit import summarize

    expected = build_audit(mixed_custodian.list_jobs(), query).totals
    fast = summarize(mixed_custodian.db, query)
    assert fast.jobs == () and fast.query == query
    assert fast.totals == expected
    assert expected.jobs > 0  # every query here selects something
    assert list(fast.totals.by_entity_type) == list(expected.by_entity_type)
    assert list(fast.totals.by_file_type) == list(expected.by_file_type)


@pytest.mark.parametrize(
    "query",
    [
        AuditQuery(),
        AuditQuery(statuses=("archived",)),
        AuditQuery(statuses=("erased", "pending")),
        AuditQuery(file_types=("csv",)),
        AuditQuery(since=ts("2024-05-02T00:00:00")),
        AuditQuery(until=ts("2024-05-01T00:00:01"), file_types=("csv", "text")),
    ],
)
def test_load_audit_in_sqlite_equals_build_audit(mixed_custodian, query: AuditQuery) -> None:
    """Filters and order pushed into SQLite, JobInfo built by the store's fast path: the same
    report (jobs, their order, recipients, counts) as filtering the custodian's list in Python."""
    from vault.audit import load_audit

    expected = build_audit(mixed_custodian.list_jobs(), query)
    fast = load_audit(mixed_custodian.db, query)
    assert fast == expected
    assert [j.job_id for j in fast.jobs] == [j.job_id for j in expected.jobs]
    assert expected.jobs  # every query here selects something
    rows = {r.job_id: r for r in mixed_custodian.db.jobs.all()}
    recipients = mixed_custodian.db.jobs.recipients()
    for job in fast.jobs:  # the old row-by-row construction gives equal JobInfo
        assert job == job_info(rows[job.job_id], recipients.get(job.job_id, ()))
    from vault.audit import list_audit, table_lines

    listing = list_audit(mixed_custodian.db, query)  # the lean rows `audit` lists
    assert listing.totals == expected.totals
    assert [dict(zip(r._fields, r, strict=True)) for r in listing.jobs] == [
        vars(j) for j in expected.jobs
    ]
    assert [r.audit_time for r in listing.jobs] == [j.audit_time for j in expected.jobs]
    assert table_lines(listing) == table_lines(expected)
    assert csv_rows(listing) == csv_rows(expected)
    assert report_to_dict(listing) == report_to_dict(expected)
    assert any(r.recipients for r in listing.jobs)  # so the next check can fail
    bare = list_audit(mixed_custodian.db, query, recipients=False)
    assert [r._replace(recipients=()) for r in listing.jobs] == list(bare.jobs)


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_audit_listing_is_the_same_on_every_backend(
    mixed_custodian, vault_location, cli_invoke, fmt: str
) -> None:
    """`audit --format FMT` prints what the ordinary renderers make of the vault's jobs,
    whichever path writes it: formatted inside SQLite, or (PostgreSQL, or rows SQLite cannot
    write) rendered in Python."""
    from vault.audit import json_document

    report = build_audit(mixed_custodian.list_jobs(), AuditQuery())
    if fmt == "table":
        expected = "\n".join(table_lines(report)) + "\n"
    elif fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(csv_rows(report))
        expected = out.getvalue()
    else:
        data = report_to_dict(report)
        encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
        expected = json_document(data, {"jobs": [encode(job) for job in data.pop("jobs")]}) + "\n"
    result = cli_invoke(["--vault", str(vault_location), "audit", "--format", fmt])
    assert result.exit_code == 0, result.output
    assert result.stdout == expected
