"""The audit listing formatted inside SQLite (``vault.audit.fast_listing``) writes exactly the
bytes of the ordinary renderers (``table_lines``, ``csv_rows`` + ``csv.writer``,
``report_to_dict`` + the JSON layout), on generated vaults full of unusual values; where it
cannot, it declines (None) and the CLI renders the ordinary way, errors included."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from custody_kit import FAST
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vault.audit import (
    AuditQuery,
    csv_rows,
    fast_listing,
    json_document,
    list_audit,
    report_to_dict,
    table_lines,
)
from vault.cli._terminal import inert_json, inert_lines
from vault.custody import Custodian
from vault.models import FILE_TYPES, JOB_STATUSES

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
COLUMNS = (
    "job_id, status, file_type, source, created_at, submitted_at, fetched_at, archived_at, "
    "expires_at, entity_count, map_size, entity_counts, shared_placeholders, "
    "placeholder_like_originals, file_size, chunk_count, ciphertext_size, key_version, seal, "
    "updated_at, api_url"
)
FORMATS = ("table", "csv", "json")


def ordinary(db: Any, query: AuditQuery, fmt: str) -> str:
    """What ``audit --format fmt`` prints through the ordinary renderers (vault/cli/audit.py)."""
    listing = list_audit(db, query, recipients=fmt == "json")
    if fmt == "table":
        return "\n".join(table_lines(listing)) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(csv_rows(listing))
        return out.getvalue()
    data = report_to_dict(listing)
    encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    return json_document(data, {"jobs": list(map(encode, data.pop("jobs")))}) + "\n"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vault with users alice, bob and "Zoë \\"q\\"" (no jobs), copied for each example."""
    path = tmp_path_factory.mktemp("listing") / "template.db"
    with Custodian.create(path, user="alice", passphrase="p", kdf=FAST) as kr:
        kr.add_user("bob", passphrase="p", kdf=FAST, actor="alice")
    conn = sqlite3.connect(path)
    with conn:  # job ids outside the rule too: the database's own rule dropped, as by a writer
        conn.execute("DROP TRIGGER jobs_id_rule")
        conn.execute("DROP TRIGGER jobs_id_rule_update")
    with conn:  # a name the CLI would refuse, as a damaged or foreign vault may hold
        conn.execute(
            "INSERT INTO users (name, enabled, created_at, public_key) "
            "SELECT ?, 1, created_at, public_key FROM users WHERE name = 'bob'",
            ('Zoë "q"',),
        )
    conn.close()
    return path


def vault_with(template: Path, tmp_path: Path, jobs: list[dict[str, Any]]) -> Path:
    path = tmp_path / f"v{len(list(tmp_path.iterdir()))}.db"
    shutil.copyfile(template, path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        users = dict(conn.execute("SELECT name, id FROM users"))
        conn.execute("BEGIN")
        for job in jobs:
            values = {
                "chunk_count": 1, "seal": None, "updated_at": 1.0, "shared_placeholders": 0,
                "placeholder_like_originals": 0, "ciphertext_size": 10, "api_url": None, **job,
            }  # fmt: skip
            grants = values.pop("grants")
            names = COLUMNS.split(", ")
            conn.execute(
                f"INSERT INTO jobs ({COLUMNS}) VALUES ({', '.join('?' * len(names))})",
                [values[n] for n in names],
            )
            for name, version in grants:
                conn.execute(
                    "INSERT OR IGNORE INTO grants (job_id, user_id, key_version, sealed_dek, "
                    "created_at) VALUES (?, ?, ?, x'00', 1.0)",
                    (job["job_id"], users[name], version),
                )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return path


PLAIN_IDS = st.one_of(
    st.text("0123456789abcdef", min_size=32, max_size=32),
    st.uuids().map(str),
    st.sampled_from(["job-1", "a", "A_b.c", "x:y"]),
)
ODD_TEXT = st.sampled_from(
    ["", "a,b", 'q"uote', "new\nline", "cr\r", "tab\t", "-lead", "=1+2", "+x", "@x", "é",
     "bell\x07", "\x85", "\u202e", "back\\slash", "long-file-type", "a" * 40, "😀", " "]
)  # fmt: skip
TIMES = st.one_of(
    st.none(),
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.integers(min_value=0, max_value=4_000_000_000),
    st.sampled_from([1699999994.9999999999, 1700000000.9995, 0.0, 253402300799.5, -1.5, 1e13]),
)
PLAIN_NAMES = st.sampled_from(["PERSON_NAME", "EMAIL_ADDRESS", "IBAN", "DATE", "X1", "_"])
PLAIN_COUNTS = st.dictionaries(PLAIN_NAMES, st.integers(0, 60), max_size=4).map(
    lambda d: json.dumps(d, sort_keys=True)
)
PLAIN_TIMES = st.one_of(
    st.none(),
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    st.integers(min_value=0, max_value=4_000_000_000),
)
COUNTS_TEXT = st.one_of(
    PLAIN_COUNTS,
    st.sampled_from(
        ['{"B": 1, "A": 2}', '{"A":1}', ' {"A": 1}', '{"A": 1, "A": 2}', '{"A": true}',
         '{"A": 1.0}', '{"A": 99999999999999999999}', '{"\\u00e9": 1}', '{"a,b": 1}',
         '{"A": -3}', '{"A": 1e2}', "[]", '{"A": {"B": 1}}', '{"-A": 1}', '{"a b": 1}',
         '{"A": 0}', '{"VERY_LONG_ENTITY_TYPE_NAME_THAT_WRAPS": 123456}', "{}",
         '{"A": -0}', '{"A": -0, "B": 7}', '{"B": 2, "DATE": -0}']
    ),
)  # fmt: skip


@st.composite
def job_rows(draw: st.DrawFn, plain: bool) -> dict[str, Any]:
    odd = not plain and draw(st.booleans())
    counts = draw(st.integers(-20, 200_000) if odd else st.integers(0, 500))
    return {
        "job_id": draw(PLAIN_IDS if not odd else st.one_of(PLAIN_IDS, ODD_TEXT)),
        "status": draw(st.sampled_from(JOB_STATUSES)),
        "file_type": draw(st.sampled_from(FILE_TYPES) if not odd else ODD_TEXT),
        "source": draw(st.sampled_from(["upload", "text"]) if not odd else ODD_TEXT),
        **{
            name: draw(TIMES if odd else PLAIN_TIMES)
            for name in ("created_at", "submitted_at", "fetched_at", "archived_at", "expires_at")
        },
        "entity_count": counts,
        "map_size": draw(st.integers(0, 500)),
        "entity_counts": draw(COUNTS_TEXT if odd else PLAIN_COUNTS),
        "file_size": draw(st.integers(0, 10**12)),
        "key_version": draw(st.integers(1, 3)),
        "api_url": draw(st.sampled_from([None, "http://127.0.0.1:8000", "https://api.example/v1"])
                        if not odd else st.one_of(st.none(), ODD_TEXT)),
        "grants": draw(
            st.lists(
                st.tuples(st.sampled_from(["alice", "bob", 'Zoë "q"'] if odd else ["alice", "bob"]),
                          st.integers(1, 3)),
                max_size=3,
            )
        ),
    }  # fmt: skip


def unique(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for job in jobs:
        seen.setdefault(job["job_id"], job)
    return list(seen.values())


QUERIES = st.one_of(
    st.just(AuditQuery()),
    st.builds(
        AuditQuery,
        statuses=st.lists(st.sampled_from(JOB_STATUSES), max_size=2, unique=True).map(tuple),
        file_types=st.lists(st.sampled_from(FILE_TYPES), max_size=2, unique=True).map(tuple),
    ),
    st.builds(AuditQuery, since=st.just(1_000_000_000.0), until=st.just(3_000_000_000.0)),
)


def fast_text(db: Any, query: AuditQuery, fmt: str) -> str | None:
    """The fast listing as one text (it comes in pieces, written one after the other)."""
    parts = fast_listing(db, query, fmt)
    return None if parts is None else "".join(parts)


def check_same(path: Path, query: AuditQuery) -> dict[str, bool]:
    """For each format: the fast text equals the ordinary text (when the ordinary path can
    render at all); returns which formats took the fast path."""
    taken = {}
    with Custodian.open(path) as kr:
        for fmt in FORMATS:
            fast = fast_text(kr.db, query, fmt)
            try:
                expected = ordinary(kr.db, query, fmt)
            except Exception as exc:  # the ordinary path refuses a damaged vault
                assert fast is None, f"{fmt}: fast path wrote a listing the ordinary one refuses"
                taken[fmt] = False
                del exc
                continue
            if fast is not None:
                assert fast == expected, fmt
                # the CLI writes the fast text as it is: nothing in it to make inert
                assert inert_lines(fast) == fast == inert_json(fast), fmt
            taken[fmt] = fast is not None
    return taken


@PROPERTY
@given(jobs=st.lists(job_rows(plain=False), max_size=12).map(unique), query=QUERIES)
def test_same_bytes_on_unusual_rows(
    template: Path, tmp_path: Path, jobs: list[dict[str, Any]], query: AuditQuery
) -> None:
    check_same(vault_with(template, tmp_path, jobs), query)


@pytest.mark.parametrize(
    "archived_at",
    [253402300799.0, 253402300799.5, 253402300799.999, 253402300800.0, 0.0, 0.5, -0.5],
)
def test_regression_the_last_second_of_9999_prints_alike(
    template: Path, tmp_path: Path, archived_at: float
) -> None:
    """Found by the property above in CI: 9999-12-31T23:59:59.5 was printed by the SQL
    listing (it floors to the whole second) and as unknown by the ordinary formatters (they
    compared the unfloored time with 23:59:59). Both now print every time whose whole second
    is in the years 1970-9999."""
    job = {
        "job_id": "0" * 32, "status": "pending", "file_type": "", "source": "",
        "created_at": None, "submitted_at": None, "fetched_at": None,
        "archived_at": archived_at, "expires_at": None, "entity_count": 0, "map_size": 0,
        "entity_counts": "{}", "file_size": 0, "key_version": 1, "api_url": None, "grants": [],
    }  # fmt: skip
    check_same(vault_with(template, tmp_path, [job]), AuditQuery())


@PROPERTY
@given(jobs=st.lists(job_rows(plain=True), max_size=12).map(unique), query=QUERIES)
def test_plain_rows_take_the_fast_path(
    template: Path, tmp_path: Path, jobs: list[dict[str, Any]], query: AuditQuery
) -> None:
    """Ordinary vault contents (hex or UUID ids, known types, canonical counts, times in range)
    are written by SQLite, so the comparison above is not vacuous."""
    taken = check_same(vault_with(template, tmp_path, jobs), query)
    assert taken == {"table": True, "csv": True, "json": True}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("column", "value"),
    [("entity_count", "'many'"), ("created_at", "'yesterday'"), ("entity_counts", "'{\"A\": 1.5}'"),
     ("entity_counts", "'not json'"), ("job_id", "x'00ff'")],
)  # fmt: skip
def test_a_damaged_row_is_refused_as_before(
    template: Path, tmp_path: Path, cli_invoke: Any, fmt: str, column: str, value: str
) -> None:
    """A damaged row: the fast path declines and the CLI fails closed (exit 5), printing no
    job, exactly as the ordinary path does."""
    job = {
        "job_id": "a" * 32, "status": "archived", "file_type": "csv", "source": "upload",
        "created_at": 1.0, "submitted_at": 1.0, "fetched_at": 2.0, "archived_at": 2.0,
        "expires_at": None, "entity_count": 1, "map_size": 1, "entity_counts": '{"A": 1}',
        "file_size": 1, "key_version": 1, "grants": [("alice", 1)],
    }  # fmt: skip
    path = vault_with(template, tmp_path, [job, {**job, "job_id": "b" * 32}])
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(f"UPDATE jobs SET {column} = {value} WHERE job_id = ?", ("b" * 32,))
    conn.close()
    with Custodian.open(path) as kr:
        assert fast_listing(kr.db, AuditQuery(), fmt) is None
    result = cli_invoke(["--vault", str(path), "audit", "--format", fmt])
    assert result.exit_code == 5, result.output
    assert "aaaaaaaa" not in result.stdout


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_prints_the_fast_listing(
    template: Path, tmp_path: Path, cli_invoke: Any, fmt: str
) -> None:
    jobs = [
        {"job_id": f"{n:032x}", "status": "archived", "file_type": "csv", "source": "upload",
         "created_at": 1e9 + n, "submitted_at": None, "fetched_at": 1e9 + n + 0.5,
         "archived_at": 1e9 + n + 0.75, "expires_at": None, "entity_count": n, "map_size": n,
         "entity_counts": json.dumps({"PERSON_NAME": n, "EMAIL_ADDRESS": 1}, sort_keys=True),
         "file_size": 10 * n, "key_version": 1, "grants": [("alice", 1), ("bob", 1)]}
        for n in range(5)
    ]  # fmt: skip
    path = vault_with(template, tmp_path, jobs)
    with Custodian.open(path) as kr:
        fast = fast_text(kr.db, AuditQuery(), fmt)
        assert fast is not None
        assert fast == ordinary(kr.db, AuditQuery(), fmt)
    result = cli_invoke(["--vault", str(path), "audit", "--format", fmt])
    assert result.exit_code == 0, result.output
    assert result.stdout == fast


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("column", ["job_id", "file_type", "source"])
@pytest.mark.parametrize("value", ["new\nline", "cr\rx", "a,b", 'q"x', "-x", "=x", "tab\tx", "é"])
def test_a_value_that_needs_quoting_or_escaping(
    template: Path, tmp_path: Path, fmt: str, column: str, value: str
) -> None:
    """Regression (found by the property test): a line break in the source made the fast CSV
    path write an unquoted two-line row. Every text column, every kind of odd value: the same
    bytes as the ordinary renderers, whichever path writes them."""
    job = {
        "job_id": "a" * 32, "status": "archived", "file_type": "csv", "source": "upload",
        "created_at": 1.0, "submitted_at": 1.0, "fetched_at": 2.0, "archived_at": 2.0,
        "expires_at": None, "entity_count": 1, "map_size": 1, "entity_counts": '{"A": 1}',
        "file_size": 1, "key_version": 1, "grants": [("alice", 1)],
    }  # fmt: skip
    path = vault_with(template, tmp_path, [job, {**job, "job_id": "b" * 32, column: value}])
    with Custodian.open(path) as kr:
        fast = fast_text(kr.db, AuditQuery(), fmt)
        if fast is not None:
            assert fast == ordinary(kr.db, AuditQuery(), fmt)


@pytest.mark.parametrize("when", [-1.5, -0.5, -1.0, 0.0])
def test_regression_a_pending_job_with_a_time_before_1970(
    template: Path, tmp_path: Path, when: float
) -> None:
    """Found by the property above (random run): a pending job whose archive time is just before
    the epoch printed 1969-12-31 23:59 on one path and a blank on the other."""
    job = {
        "job_id": "b" * 32, "status": "pending", "file_type": "csv", "source": "upload",
        "created_at": when, "submitted_at": when, "fetched_at": when, "archived_at": when,
        "expires_at": when, "entity_count": 0, "map_size": 0, "entity_counts": "{}",
        "file_size": 0, "key_version": 1, "api_url": None, "grants": [],
    }  # fmt: skip
    check_same(vault_with(template, tmp_path, [job]), AuditQuery())


@PROPERTY
@given(
    jobs=st.lists(job_rows(plain=True), max_size=12).map(unique),
    query=QUERIES,
    times=st.lists(st.one_of(st.none(), st.integers(1, 4_000_000_000).map(float)), min_size=5,
                   max_size=5),
)  # fmt: skip
def test_whole_second_times_let_sqlite_write_every_json_line(
    template: Path, tmp_path: Path, jobs: list[dict[str, Any]], query: AuditQuery, times: list
) -> None:
    """Times in whole seconds: SQLite writes the whole JSON line (no Python object per job),
    and the bytes are still the ordinary renderers'."""
    names = ("created_at", "submitted_at", "fetched_at", "archived_at", "expires_at")
    for job in jobs:
        job.update(zip(names, times, strict=True))
    path = vault_with(template, tmp_path, jobs)
    assert check_same(path, query)["json"]
    with Custodian.open(path) as kr:
        _, body = kr.db.audit.listing_json(
            since=query.since, until=query.until, statuses=query.statuses,
            file_types=query.file_types,
        )  # fmt: skip
    assert body is not None


def test_a_fraction_of_a_second_goes_the_python_way(template: Path, tmp_path: Path) -> None:
    """A time SQLite cannot write as ``repr`` does (a fraction): the JSON lines are joined in
    Python, with the same bytes."""
    job = {
        "job_id": "a" * 32, "status": "archived", "file_type": "csv", "source": "upload",
        "created_at": 1.0, "submitted_at": 1.0, "fetched_at": 2.0,
        "archived_at": 1764729600.1234567, "expires_at": None, "entity_count": 1, "map_size": 1,
        "entity_counts": '{"A": 1}', "file_size": 1, "key_version": 1, "grants": [("alice", 1)],
    }  # fmt: skip
    path = vault_with(template, tmp_path, [job])
    assert check_same(path, AuditQuery())["json"]
    with Custodian.open(path) as kr:
        _, body = kr.db.audit.listing_json()
    assert body is None


@pytest.mark.parametrize(
    "texts",
    [
        ['{"A": 1', '"B": 2}', "{}, {}"],  # two halves of one object, and one text of two
        ['{"A": [{}', "{}]}", "{}, {}"],
        ['{"A": 1}', '{"B": 2}, {"C": 3}', '{"D": 4'],
        ['{"A": 1}', "{}{}"],
    ],
)
def test_counts_texts_parsed_together_are_still_read_one_by_one(
    template: Path, tmp_path: Path, texts: list[str]
) -> None:
    """The distinct counts texts are parsed as one JSON array: texts that would only parse
    joined to their neighbours (or split in two) are refused, as the ordinary path refuses
    each of them alone."""
    jobs = [
        {"job_id": f"{n:032x}", "status": "archived", "file_type": "csv", "source": "upload",
         "created_at": 1.0, "submitted_at": 1.0, "fetched_at": 2.0, "archived_at": 2.0 + n,
         "expires_at": None, "entity_count": 1, "map_size": 1, "entity_counts": text,
         "file_size": 1, "key_version": 1, "grants": [("alice", 1)]}
        for n, text in enumerate(texts)
    ]  # fmt: skip
    path = vault_with(template, tmp_path, jobs)
    assert check_same(path, AuditQuery()) == {"table": False, "csv": False, "json": False}


def _plain_job(n: int, counts: str, grants: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "job_id": f"{n:032x}", "status": "archived", "file_type": "csv", "source": "upload",
        "created_at": 1.0, "submitted_at": 1.0, "fetched_at": 2.0, "archived_at": 2.0 + n,
        "expires_at": None, "entity_count": 1, "map_size": 1, "entity_counts": counts,
        "file_size": 1, "key_version": 1, "grants": grants,
    }  # fmt: skip


def test_regression_minus_zero_count_is_not_written_as_its_text(
    template: Path, tmp_path: Path
) -> None:
    """The CSV's count columns come from one ``json_extract`` of every type, which writes an
    integer as its text stands: ``-0`` would be written ``-0`` where the CSV writer writes 0.
    Such a vault takes the ordinary path (a cell starting with "-"); the same counts written
    ``0`` take the fast one."""
    minus = vault_with(template, tmp_path, [_plain_job(0, '{"A": -0, "B": 7}', []),
                                            _plain_job(1, '{"A": 2}', [])])  # fmt: skip
    assert check_same(minus, AuditQuery())["csv"] is False
    zero = vault_with(template, tmp_path, [_plain_job(0, '{"A": 0, "B": 7}', []),
                                           _plain_job(1, '{"A": 2}', [])])  # fmt: skip
    assert check_same(zero, AuditQuery())["csv"] is True
    with Custodian.open(zero) as kr:
        text = fast_text(kr.db, AuditQuery(), "csv")
    assert text is not None and text.splitlines()[1:] == [
        f"{0:032x},csv,archived,upload,1970-01-01T00:00:01Z,1970-01-01T00:00:02Z,"
        "1970-01-01T00:00:02Z,1,1,1,0,7",
        f"{1:032x},csv,archived,upload,1970-01-01T00:00:01Z,1970-01-01T00:00:02Z,"
        "1970-01-01T00:00:03Z,1,1,1,2,0",
    ]


def test_recipients_without_a_sort_for_up_to_two_holders(template: Path, tmp_path: Path) -> None:
    """Jobs with no, one, two and three holders (granted in an order other than by name): the
    JSON listing names them sorted as the ordinary path does; up to two without a sort per
    job, three or more through the sorted subquery."""
    path = vault_with(template, tmp_path, [])
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO users (name, enabled, created_at, public_key) "
            "SELECT 'carol', 1, created_at, public_key FROM users WHERE name = 'bob'"
        )
    conn.close()
    jobs = [
        _plain_job(0, '{"A": 1}', []),
        _plain_job(1, '{"A": 1}', [("bob", 1)]),
        _plain_job(2, '{"A": 1}', [("carol", 1), ("alice", 1)]),
        _plain_job(3, '{"A": 1}', [("carol", 1), ("bob", 1), ("alice", 1)]),
        _plain_job(4, '{"A": 1}', [("carol", 1), ("bob", 2), ("alice", 2)]),
    ]
    shutil.copyfile(path, tmp_path / "base.db")
    path = vault_with(tmp_path / "base.db", tmp_path, jobs)
    assert check_same(path, AuditQuery())["json"] is True
    with Custodian.open(path) as kr:
        text = fast_text(kr.db, AuditQuery(), "json")
    assert text is not None
    holders = [json.loads(line.rstrip(","))["recipients"]
               for line in text.splitlines() if line.startswith('    {"job_id"')]  # fmt: skip
    assert holders == [[], ["bob"], ["alice", "carol"], ["alice", "bob", "carol"], ["carol"]]


def test_a_job_field_missing_from_the_listing_row_is_named() -> None:
    """A new JobMeta field without its JobListRow mirror stops every listing at import; the
    error must say where and what (it was a bare "different fields" ImportError)."""
    from dataclasses import fields

    from vault.models import JobInfo
    from vault.store._audit import JobListRow, check_list_row

    info = [(f.name, f.type) for f in fields(JobInfo)]
    row = [
        (name, getattr(k, "__forward_arg__", k)) for name, k in JobListRow.__annotations__.items()
    ]
    check_list_row(info, row)  # the real pair agrees
    with pytest.raises(TypeError, match=r"_audit\.py: JobListRow .*missing: label"):
        check_list_row([*info[:-1], ("label", "str | None"), info[-1]], row)
