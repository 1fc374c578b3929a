"""Audit listings formatted inside SQLite: the fixed columns of each job's line as text, built
by the same statement that filters and orders the jobs, so a 100,000-job ``audit`` listing
does not build a Python object per value.

Each statement returns, per job, the pieces of its line that SQLite formats exactly as the
Python renderers in ``vault.audit`` do (text columns, integers, UTC times), plus the raw
``entity_counts`` text, which the caller parses once per distinct text. A value SQLite cannot
format the same way (a time out of range, a column of the wrong type) makes its piece NULL;
the caller then renders the whole listing the ordinary way, so the fast path never decides
what a damaged or unusual row looks like. See ``vault.audit._listing`` for the checks on the
text and ``tests/test_report_listing.py`` for the byte-for-byte comparison.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import fields
from typing import Any, Literal

from vault._dataclass import dataclass
from vault.errors import StoreError
from vault.models import JOB_INFO_FIELDS, JobInfo
from vault.store._audit import AUDIT_TIME_SQL, JobTotalsRow, _where
from vault.store._base import Queries

ListingKind = Literal["table", "csv", "json"]

# Years 1970-9999: the range where SQLite's strftime and the Python formatters agree (both
# floor to whole seconds; SQLite gets the floor from the CAST, as it rounds to milliseconds).
_MAX_TIME = 253_402_300_800
# The page cache while a listing sorts (negative: KiB; pages are only used as needed).
_SORT_CACHE_KIB = -262_144


def _typed(column: str, kind: str) -> str:
    return f"typeof({column}) = '{kind}'"


def _time(column: str, fmt: str, unknown: str) -> str:
    """``column`` as UTC text in ``fmt``; ``unknown`` when NULL; NULL when out of range or not
    a number (a text compares greater than any number, so it fails the range test)."""
    return (
        f"CASE WHEN {column} IS NULL THEN '{unknown}' "
        f"WHEN {column} >= 0 AND {column} < {_MAX_TIME} "
        f"THEN strftime('{fmt}', CAST({column} AS INTEGER), 'unixepoch') END"
    )


# Each JobInfo field's SQL type test and how the JSON line writes it, by its annotation (the
# one definition in ``vault.models``); a field of another annotation makes the JSON listing go
# the ordinary way (``_json_select``), and is not type-checked here.
_KIND_OF = {
    "str": "text",
    "JobStatus": "text",
    "str | None": "text?",
    "int": "int",
    "float | None": "time",
    "Mapping[str, int]": "counts",
    "tuple[str, ...]": "recipients",
}
_FIELD_KINDS: dict[str, str] = {
    f.name: _KIND_OF.get(str(f.type), "unknown") for f in fields(JobInfo)
}
_TYPE_TESTS = {
    "text": "typeof({c}) = 'text'",
    "text?": "typeof({c}) IN ('text', 'null')",
    "int": "typeof({c}) = 'integer'",
    "time": "typeof({c}) IN ('real', 'integer', 'null')",
    "counts": "typeof({c}) = 'text'",
}
# Every column of a JobInfo field has its type (as the ordinary path checks, even of columns a
# format does not show): else the line is NULL.
_ROW_TYPES = " AND ".join(
    _TYPE_TESTS[kind].format(c=name) for name, kind in _FIELD_KINDS.items() if kind in _TYPE_TESTS
)
_TEXT_FIELDS = [name for name, kind in _FIELD_KINDS.items() if kind in ("text", "text?")]

_CSV_TIMES = ("created_at", "fetched_at", "archived_at")
# The CSV line's fixed columns, written by one ``printf`` (a concatenation per value copies the
# growing line each time). ``printf`` writes a NULL as nothing, so a time it cannot write is
# declined by the condition instead (``_csv_select``).
_CSV_COLUMNS = [
    "job_id",
    "file_type",
    "status",
    "source",
    *(_time(name, "%Y-%m-%dT%H:%M:%SZ", "") for name in _CSV_TIMES),
    "entity_count",
    "map_size",
    "file_size",
]
_CSV_TIMES_IN_RANGE = " AND ".join(
    f"({name} IS NULL OR ({name} >= 0 AND {name} < {_MAX_TIME}))" for name in _CSV_TIMES
)


def _csv_select(types: int) -> str:
    """The CSV line of a job (without its line break) with ``types`` count columns, from
    ``json_extract`` with a path parameter per type; NULL when SQLite cannot write it as the
    CSV writer would (a value of the wrong type, a time out of range).

    Two or more types are one ``json_extract`` of every path (one parse of the counts text
    per job instead of one per type), which returns the values as a JSON array,
    ``[3,null,12]``: without its brackets and with ``null`` (a type the job lacks) as ``0``,
    that is the count columns. SQLite writes each integer as its text stands, so the caller
    must refuse ``-0`` (a single ``json_extract`` gives 0, as Python does): a cell starting
    with ``-``, which it refuses anyway."""
    if types >= 2:
        paths = ", ".join(["?"] * types)
        counts = [f"replace(trim(json_extract(entity_counts, {paths}), '[]'), 'null', '0')"]
    else:
        counts = ["IFNULL(json_extract(entity_counts, ?), 0)"] * types
    columns = [*_CSV_COLUMNS, *counts]
    form = _sql_text(",".join(["%s"] * len(columns)))
    return (
        f"CASE WHEN {_ROW_TYPES} AND {_CSV_TIMES_IN_RANGE} "
        f"THEN printf({', '.join([form, *columns])}) END"
    )


# The table's columns up to COUNTS: 8, 5, 8, 16, 5 and 5 wide; counts that would widen a
# column make the line NULL (the Python table would shorten the whole line instead).
_TABLE_LINE = (
    "CASE WHEN entity_count BETWEEN -9999 AND 99999 AND map_size BETWEEN -9999 AND 99999 "
    # printf writes a NULL argument as nothing: a time it cannot write must decline the line
    f"AND ({AUDIT_TIME_SQL} IS NULL OR ({AUDIT_TIME_SQL} >= 0 AND {AUDIT_TIME_SQL} < {_MAX_TIME})) "
    "THEN printf('%-8.8s %-5.5s %-8.8s %-16s %5d %5d ', job_id, file_type, status, "
    + _time(AUDIT_TIME_SQL, "%Y-%m-%d %H:%M", "-")
    + ", entity_count, map_size) END"
)
# A double quote in a text value would end the JSON string early: such a row is NULL.
_JSON_PLAIN = "instr(" + " || ".join(f"IFNULL({name}, '')" for name in _TEXT_FIELDS) + ", '\"') = 0"


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The users holding a grant at the job's key version, by name, as a JSON array; ``[]`` for
# none. A double quote in a name is written as a backslash, which no listing the caller
# accepts holds (JSON would need an escape there): it then declines.
_RECIPIENTS_SORTED = (
    "IFNULL((SELECT '[' || group_concat('\"' || replace(name, '\"', '\\') || '\"', ', ') || ']' "
    "FROM (SELECT u.name AS name FROM grants AS g JOIN users AS u ON u.id = g.user_id "
    "WHERE g.job_id = jobs.job_id AND g.key_version = jobs.key_version ORDER BY u.name)), '[]')"
)
# The same text without a sort per job (a sorter per row is most of the subquery's cost) for
# the usual jobs, those with at most two holders: no name is ``[]``, one is ``["a"]``, two are
# ``["min", "max"]`` (``min``/``max`` compare as ``ORDER BY`` does, by the column's collation;
# ``count(name)``, like ``group_concat``, skips a NULL name). NULL for three or more: then the
# sorted form above.
_RECIPIENTS_FEW = (
    "(SELECT CASE count(u.name) WHEN 0 THEN '[]' "
    "WHEN 1 THEN '[\"' || replace(min(u.name), '\"', '\\') || '\"]' "
    "WHEN 2 THEN '[\"' || replace(min(u.name), '\"', '\\') || '\", \"' || "
    "replace(max(u.name), '\"', '\\') || '\"]' END "
    "FROM grants AS g JOIN users AS u ON u.id = g.user_id "
    "WHERE g.job_id = jobs.job_id AND g.key_version = jobs.key_version)"
)
_RECIPIENTS = f"IFNULL({_RECIPIENTS_FEW}, {_RECIPIENTS_SORTED})"


def _json_select(fields: Sequence[str]) -> tuple[str, str] | None:
    """The JSON line's SELECT list (the keys of ``show --json`` in the order of ``fields``,
    ``JobInfo``'s) and the Python template that joins a row's columns into the line.

    SQLite writes everything with ``printf`` except the times: a float is written by Python
    (``%s`` is its ``repr``, as the JSON encoder writes it; SQLite would round it), so each
    time is a column of its own, a number or the text ``null``. The counts text goes in
    verbatim (the caller checks that every one is what the encoder writes) and again as the
    last column, which the template consumes without writing (``%.0s``). The first column is
    NULL when a value cannot be written this way (wrong type, a double quote in a text, a
    time out of range). None for a field this module does not know."""
    columns: list[str] = []
    fmt: list[str] = []  # printf format and arguments of the current text column
    args: list[str] = []
    ranges: list[str] = []

    def close() -> None:
        format_sql = _sql_text("".join(fmt))
        columns.append(f"printf({', '.join([format_sql, *args])})")
        fmt.clear()
        args.clear()

    for n, name in enumerate(fields):
        key = ("{" if n == 0 else ", ") + f'"{name}": '
        kind = _FIELD_KINDS.get(name)
        if kind == "text":
            fmt.append(key + '"%s"')
            args.append(name)
        elif kind == "text?":
            fmt.append(key + "%s")
            args.append(f"IFNULL('\"' || {name} || '\"', 'null')")
        elif kind in ("int", "counts"):
            fmt.append(key + "%s")
            args.append(name)
        elif kind == "time":
            fmt.append(key)
            close()
            columns.append(f"IFNULL({name}, 'null')")
            ranges.append(f"IFNULL({name} BETWEEN -1e18 AND 1e18, 1)")
        elif kind == "recipients":
            fmt.append(key + "%s")
            args.append(_RECIPIENTS)
        else:
            return None
    fmt.append("}")
    close()
    checks = " AND ".join([_ROW_TYPES, _JSON_PLAIN, *ranges])
    columns[0] = f"CASE WHEN {checks} THEN {columns[0]} END"
    columns.append("entity_counts")
    return ", ".join(columns), "%s" * (len(columns) - 1) + "%.0s"


# A JSON time SQLite writes exactly as Python's ``repr`` does: a whole number of seconds
# (1 <= t < 1e15: ``repr`` writes the digits and ``.0``). Anything else, such as the fraction
# of a ``time.time()`` reading (``repr`` writes the shortest text that reads back the same,
# which SQLite cannot), is NULL: the listing then goes the way that writes times in Python
# (``_json_select``). Integer-to-text is cheap; SQLite's float formatting is not.
def _json_time(column: str) -> tuple[str, str]:
    """``column`` as JSON text (NULL when SQLite cannot write it), and the condition for not
    NULL."""
    whole = f"CAST({column} AS INTEGER)"
    writable = (
        f"({column} IS NULL OR typeof({column}) = 'integer' OR "
        f"({column} = {whole} AND {column} >= 1 AND {column} < 1e15))"
    )
    text = (
        f"CASE WHEN {column} IS NULL THEN 'null' "
        f"WHEN typeof({column}) = 'integer' THEN CAST({column} AS TEXT) "
        f"WHEN {column} = {whole} AND {column} >= 1 AND {column} < 1e15 "
        f"THEN CAST({whole} AS TEXT) || '.0' END"
    )
    return text, writable


def _json_line(fields: Sequence[str]) -> tuple[str, str] | None:
    """The whole JSON line of a job as one ``printf`` (``_json_select`` with the times
    written by SQLite too, ``_json_time``; one call, not a concatenation per value, which
    copies the growing line each time), NULL when a value cannot be written this way; and
    the condition that the times can be written, which the caller checks first (``printf``
    writes a NULL argument as nothing). None for a field this module does not know."""
    if _json_select(fields) is None:
        return None
    fmt: list[str] = []
    args: list[str] = []
    checks: list[str] = []
    for n, name in enumerate(fields):
        key = ("{" if n == 0 else ", ") + f'"{name}": '
        kind = _FIELD_KINDS[name]
        if kind == "text":
            fmt.append(key + '"%s"')
            args.append(name)
        elif kind == "text?":
            fmt.append(key + "%s")
            args.append(f"IFNULL('\"' || {name} || '\"', 'null')")
        elif kind in ("int", "counts"):
            fmt.append(key + "%s")
            args.append(name)
        elif kind == "time":
            text, writable = _json_time(name)
            fmt.append(key + "%s")
            args.append(text)
            checks.append(writable)
        else:  # recipients
            fmt.append(key + "%s")
            args.append(_RECIPIENTS)
    fmt.append("}")
    line = f"printf({', '.join([_sql_text(''.join(fmt)), *args])})"
    return f"CASE WHEN {_ROW_TYPES} AND {_JSON_PLAIN} THEN {line} END", " AND ".join(checks)


_JSON_LINE = _json_line(JOB_INFO_FIELDS)
_SELECTS: dict[str, tuple[str, str] | None] = {
    "csv": ("{csv}", "%s"),
    "table": (f"CASE WHEN {_ROW_TYPES} THEN {_TABLE_LINE} END, entity_counts", "%s%.0s"),
    "json": _json_select(JOB_INFO_FIELDS),
}


@dataclass(frozen=True)
class ListingRows:
    """One snapshot's pieces of an audit listing, in audit order (oldest first, then by job
    id), and the totals per (status, file type) of the same jobs."""

    rows: list[tuple[Any, ...]]
    template: str  # joins a row's columns into its line (``_json_select``)
    groups: tuple[JobTotalsRow, ...]


class ListingQueries(Queries):
    """The audit listing's formatting SELECT and the reads it needs besides. Call them inside
    one ``read()`` for one snapshot. SQLite only (its ``strftime``, ``printf``, ``typeof``):
    on another backend each raises ``StoreError`` and the listing goes the ordinary way."""

    def listing_rows(
        self,
        kind: ListingKind,
        *,
        types: Sequence[str] = (),
        since: float | None = None,
        until: float | None = None,
        statuses: Sequence[str] = (),
        file_types: Sequence[str] = (),
    ) -> ListingRows:
        """The pieces of each selected job's line for ``kind`` (see the module docstring; a
        piece is NULL where SQLite cannot write it as Python would), and the group totals.

        ``csv``: (line without the newline,), one count column per name of ``types`` (which
        must be plain names: letters, digits, ``_``). ``table``: (line up to COUNTS, counts
        text). ``json``: see ``_json_select``; ``ListingRows.template % row`` is the line.
        """
        where, params = _where(since, until, statuses, file_types)
        order = f"IFNULL({AUDIT_TIME_SQL}, 0.0), job_id"
        chosen = _SELECTS[kind]
        if chosen is None:
            raise StoreError(f"internal: no {kind} listing for these job fields")
        select, template = chosen
        if kind == "csv":
            select = _csv_select(len(types))
            params = [f'$."{name}"' for name in types] + params
        sql = f"SELECT {select} FROM jobs{where} ORDER BY {order}"
        groups_sql = (
            "SELECT status, file_type, count(*), sum(entity_count), sum(map_size), "
            f"sum(file_size) FROM jobs{where} GROUP BY status, file_type ORDER BY status, file_type"
        )
        with self.read(), self._sort_memory():
            rows = self._rows(sql, params)
            groups = self._rows(groups_sql, params[len(types) if kind == "csv" else 0 :])
        groups_rows = tuple(JobTotalsRow(*g) for g in groups)
        return ListingRows(rows=rows, template=template, groups=groups_rows)

    def listing_csv(
        self,
        types: Sequence[str],
        *,
        since: float | None = None,
        until: float | None = None,
        statuses: Sequence[str] = (),
        file_types: Sequence[str] = (),
    ) -> tuple[str, int, int]:
        """The CSV listing's lines (``listing_rows("csv")``) joined by line breaks inside
        SQLite, one string instead of a Python object per job; with the number of jobs and
        of lines (fewer when a line is NULL, which ``group_concat`` skips)."""
        select = _csv_select(len(types))
        where, params = _where(since, until, statuses, file_types)
        order = f"IFNULL({AUDIT_TIME_SQL}, 0.0), job_id"
        with self._sort_memory():
            ((body, jobs, lines),) = self._rows(
                f"SELECT IFNULL(group_concat(line, char(10)), ''), count(*), count(line) FROM "
                f"(SELECT {select} AS line FROM jobs{where} ORDER BY {order})",
                [f'$."{name}"' for name in types] + params,
            )
        return str(body), int(jobs), int(lines)

    def listing_json(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        statuses: Sequence[str] = (),
        file_types: Sequence[str] = (),
    ) -> tuple[ListingRows, str | None]:
        """The JSON listing's group totals and, when SQLite can write every selected job's
        line itself (``_json_line``; checked first, in the same scan as the totals), all the
        lines joined by ``,\\n    `` inside SQLite: no Python object per job. Otherwise the
        text is None and ``rows`` holds the pieces of ``listing_rows("json")``."""
        if _JSON_LINE is None:
            raise StoreError("internal: no json listing for these job fields")
        line, writable = _JSON_LINE
        where, params = _where(since, until, statuses, file_types)
        order = f"IFNULL({AUDIT_TIME_SQL}, 0.0), job_id"
        with self.read():
            groups = self._rows(
                "SELECT status, file_type, count(*), sum(entity_count), sum(map_size), "
                f"sum(file_size), sum({writable}) FROM jobs{where} "
                "GROUP BY status, file_type ORDER BY status, file_type",
                params,
            )
            jobs = sum(int(g[2]) for g in groups)
            if jobs == sum(int(g[6] or 0) for g in groups):
                with self._sort_memory():
                    ((body, lines),) = self._rows(
                        "SELECT IFNULL(group_concat(line, ',' || char(10) || '    '), ''), "
                        f"count(line) FROM (SELECT {line} AS line FROM jobs{where} "
                        f"ORDER BY {order})",
                        params,
                    )
                if lines == jobs:
                    totals = tuple(JobTotalsRow(*g[:6]) for g in groups)
                    return ListingRows(rows=[], template="", groups=totals), str(body)
            # A time, or (rarely) another value, SQLite cannot write as Python would.
            rows = self.listing_rows(
                "json", since=since, until=until, statuses=statuses, file_types=file_types
            )
            return rows, None

    def listing_counts(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        statuses: Sequence[str] = (),
        file_types: Sequence[str] = (),
    ) -> list[Any]:
        """The ``entity_counts`` text of each selected job (no order)."""
        where, params = _where(since, until, statuses, file_types)
        return [r[0] for r in self._rows(f"SELECT entity_counts FROM jobs{where}", params)]

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self.dialect != "sqlite":
            raise StoreError(f"no SQL-formatted audit listing on {self.dialect}")
        return self._query(sql, params)

    @contextlib.contextmanager
    def _sort_memory(self) -> Iterator[None]:
        """A page cache large enough for the listing's sort: SQLite sorts in memory up to
        the cache size (2 MiB by default) and spills the rest to temporary files, which for
        100,000 formatted lines (10 to 50 MB) costs a fifth of the statement. Restored
        afterwards."""
        if self.dialect != "sqlite":
            raise StoreError(f"no SQL-formatted audit listing on {self.dialect}")
        ((before,),) = self._query("PRAGMA cache_size")
        self._query(f"PRAGMA cache_size = {_SORT_CACHE_KIB}")
        try:
            yield
        finally:
            self._query(f"PRAGMA cache_size = {int(before)}")
