"""The PostgreSQL schema, derived from the one list of migrations (``_migrations``).

The migrations are written once, in SQLite's SQL (that text is the SQLite file format and is
compared by ``verify``). This module turns each statement into PostgreSQL's, so a migration
added for SQLite applies on PostgreSQL too, in the same order and the same transaction as its
``schema_migrations`` row. ``tests/test_pg_schema.py`` applies every migration on a real server
and compares the resulting tables, columns, indexes and triggers with SQLite's, so a statement
this translator does not understand fails there, not in production.

The translation, statement by statement:

- ``CREATE TABLE`` / ``ALTER TABLE ... ADD COLUMN``: ``INTEGER`` -> ``BIGINT``, ``REAL`` ->
  ``DOUBLE PRECISION`` (SQLite's REAL is 8 bytes; PostgreSQL's is 4), ``BLOB`` -> ``BYTEA``;
  ``TEXT`` -> ``TEXT COLLATE "C"`` (compared and sorted byte-wise, as SQLite does); column
  names PostgreSQL reserves (``user``) are quoted. Every new table also gets a
  ``rowid`` identity column, so "in the order stored" (``ORDER BY rowid``) means the same on
  both engines. An ``INTEGER PRIMARY KEY`` is a plain ``BIGINT PRIMARY KEY``: the store
  assigns such ids itself inside the write lock (``max + 1``, as SQLite does).
- ``CREATE TRIGGER name BEFORE UPDATE|DELETE ON t BEGIN SELECT RAISE(ABORT, 'msg'); END``: a
  PL/pgSQL function raising ``msg`` and a row trigger calling it; a ``DELETE`` guard also gets
  a ``BEFORE TRUNCATE`` statement trigger, which SQLite has no need of.
- ``CREATE [UNIQUE] INDEX``, ``UPDATE``, ``INSERT``, ``DELETE``: unchanged.
- Anything else raises ``NotImplementedError`` naming the statement's start.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

RESERVED_COLUMNS = frozenset({"user", "order", "group", "table", "default", "check", "limit"})

_TYPES = (
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
    (re.compile(r"\bTEXT\b", re.IGNORECASE), 'TEXT COLLATE "C"'),
)
_CREATE_TABLE = re.compile(
    r"^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL
)
_ADD_COLUMN = re.compile(
    r"^\s*ALTER\s+TABLE\s+(\w+)\s+ADD\s+(COLUMN\s+)?(\w+)\s+(.*)$", re.IGNORECASE | re.DOTALL
)
_TRIGGER = re.compile(
    r"^\s*CREATE\s+TRIGGER\s+(\w+)\s+BEFORE\s+(UPDATE|DELETE|INSERT)\s+ON\s+(\w+)\s+"
    r"BEGIN\s+SELECT\s+RAISE\s*\(\s*ABORT\s*,\s*'([^']*)'\s*\)\s*;\s*END\s*$",
    re.IGNORECASE | re.DOTALL,
)
_PASS_THROUGH = re.compile(
    r"^\s*(CREATE\s+(UNIQUE\s+)?INDEX|UPDATE|INSERT|DELETE)\b", re.IGNORECASE
)


def _column_line(line: str) -> str:
    stripped = line.strip()
    if not stripped:
        return line
    first = stripped.split()[0]
    if first.lower() in RESERVED_COLUMNS:
        stripped = f'"{first}"{stripped[len(first) :]}'
    for pattern, replacement in _TYPES:
        stripped = pattern.sub(replacement, stripped)
    return stripped


def _split_columns(body: str) -> list[str]:
    """The comma-separated parts of a CREATE TABLE body (commas inside parentheses kept)."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(body):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return parts


def postgres_statements(sql: str) -> list[str]:
    """PostgreSQL statements doing what the SQLite statement ``sql`` does."""
    table = _CREATE_TABLE.match(sql)
    if table:
        if_not_exists, name, body = table.groups()
        columns = [_column_line(part) for part in _split_columns(body)]
        columns.append("rowid BIGINT GENERATED ALWAYS AS IDENTITY")
        joined = ",\n    ".join(columns)
        return [f"CREATE TABLE {if_not_exists or ''}{name} (\n    {joined}\n)"]
    column = _ADD_COLUMN.match(sql)
    if column:
        name, _, col, rest = column.groups()
        return [f"ALTER TABLE {name} ADD COLUMN {_column_line(f'{col} {rest}')}"]
    trigger = _TRIGGER.match(sql)
    if trigger:
        name, event, target, message = trigger.groups()
        function = f"{name}_fn"
        out = [
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$body$ BEGIN RAISE EXCEPTION '{message}'; END $body$",
            f"CREATE TRIGGER {name} BEFORE {event.upper()} ON {target} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        ]
        if event.upper() == "DELETE":
            out.append(
                f"CREATE TRIGGER {name}_truncate BEFORE TRUNCATE ON {target} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
        return out
    if _PASS_THROUGH.match(sql):
        return [sql]
    start = " ".join(sql.split())[:60]
    raise NotImplementedError(f"no PostgreSQL translation for: {start}")


# PostgreSQL only, beyond the migrations: per-type entity counts of every job, kept by a
# trigger, so ``audit --summary`` adds up narrow rows instead of parsing a million JSON texts
# (store/_audit.py). Derived data: rebuilt from ``jobs`` whenever it is (re)created, never
# copied by ``migrate``; the function runs as its owner so the archiver needs no privilege
# on the table. Created (or brought up to date) in the same transaction as the migrations.
EXTRA_TABLES = frozenset({"audit_entity_counts"})
EXTRA_TRIGGERS = frozenset({"jobs_audit_entity_counts"})
POSTGRES_EXTRAS: Sequence[str] = (
    """
    CREATE TABLE IF NOT EXISTS audit_entity_counts (
        job_id      TEXT COLLATE "C" NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
        status      TEXT COLLATE "C" NOT NULL,
        file_type   TEXT COLLATE "C" NOT NULL,
        audit_time  DOUBLE PRECISION,
        entity_type TEXT COLLATE "C" NOT NULL,
        count       BIGINT NOT NULL,
        PRIMARY KEY (job_id, entity_type)
    )
    """,
    """
    CREATE OR REPLACE FUNCTION jobs_audit_entity_counts_fn() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $body$
    BEGIN
        DELETE FROM audit_entity_counts WHERE job_id = NEW.job_id;
        INSERT INTO audit_entity_counts
        SELECT NEW.job_id, NEW.status, NEW.file_type,
               COALESCE(NEW.archived_at, NEW.fetched_at, NEW.submitted_at, NEW.created_at),
               e.key, e.value::bigint
        FROM jsonb_each_text(NEW.entity_counts::jsonb) AS e;
        RETURN NULL;
    END $body$
    """,
    "DROP TRIGGER IF EXISTS jobs_audit_entity_counts ON jobs",
    "CREATE TRIGGER jobs_audit_entity_counts AFTER INSERT OR UPDATE ON jobs "
    "FOR EACH ROW EXECUTE FUNCTION jobs_audit_entity_counts_fn()",
    "TRUNCATE audit_entity_counts",
    "INSERT INTO audit_entity_counts SELECT j.job_id, j.status, j.file_type, "
    "COALESCE(j.archived_at, j.fetched_at, j.submitted_at, j.created_at), e.key, "
    "e.value::bigint FROM jobs j, jsonb_each_text(j.entity_counts::jsonb) AS e",
)


def postgres_migration(statements: Sequence[str]) -> list[str]:
    """A whole migration's statements for PostgreSQL."""
    return [out for sql in statements for out in postgres_statements(sql)]
