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
- ``CREATE TRIGGER name BEFORE UPDATE|DELETE|INSERT ON t [WHEN cond] BEGIN SELECT
  RAISE(ABORT, 'msg'); END``: a PL/pgSQL function raising ``msg`` (when ``cond`` holds: the
  condition is written in SQL both engines read, ``NEW.x``/``OLD.x`` included) and a row
  trigger calling it; a ``DELETE`` guard also gets a ``BEFORE TRUNCATE`` statement trigger,
  which SQLite has no need of.
- ``CREATE [UNIQUE] INDEX``, ``UPDATE``, ``INSERT``, ``DELETE``: unchanged.
- Anything else raises ``NotImplementedError`` naming the statement's start.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

from vault._dataclass import dataclass
from vault.store._migrations import MIGRATIONS

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
    r"(?:WHEN\s+(.+?)\s+)?"
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
        name, event, target, when, message = trigger.groups()
        function = f"{name}_fn"
        out = [
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql "
            f"SET search_path = {SEARCH_PATH} AS $body${_raise_body(message, when)}$body$",
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


# Every function the schema makes runs with this search path, and names every relation with
# its schema. Without it a role that can fire a trigger could put a TEMP table of the same
# name in front of the real one (``pg_temp`` is searched first for relations unless named,
# last, here) and have the function use it: with SECURITY DEFINER, as the vault's owner.
SEARCH_PATH = "pg_catalog, pg_temp"
# The advisory-lock class of a vault's writers (``_postgres``); the log's chain trigger takes
# the same lock, so even a writer that forgot it cannot interleave with one that did not.
LOCK_CLASS = zlib.crc32(b"questa-vault") & 0x7FFFFFFF
GENESIS = "0" * 64  # the previous hash of the first log entry (``crypto.GENESIS_HASH``)


# The tables the first migration makes: a database without all of them is not a vault, even
# with tables named like two of ours (read at every open, so taken from the text, cheaply).
FIRST_TABLES = frozenset(
    match.group(2) for sql in MIGRATIONS[0][1] if (match := _CREATE_TABLE.match(sql)) is not None
)


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Guard:
    """A trigger the schema makes, as the catalogue must show it: the table, ``tgtype`` (the
    bits of row/statement, before/after and the events), the function and the exact text of
    its body, whether it runs as its owner."""

    name: str
    table: str
    tgtype: int
    function: str
    body: str
    security_definer: bool = False


# tgtype bits (PostgreSQL's pg_trigger.h): ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16,
# TRUNCATE 32.
_TG_ROW, _TG_BEFORE, _TG_INSERT, _TG_DELETE, _TG_UPDATE, _TG_TRUNCATE = 1, 2, 4, 8, 16, 32
_EVENT_BITS = {"INSERT": _TG_INSERT, "DELETE": _TG_DELETE, "UPDATE": _TG_UPDATE}


def _raise_body(message: str, when: str | None = None) -> str:
    if when is None:
        return f" BEGIN RAISE EXCEPTION '{message}'; END "
    # SQLite's WHEN clause as a test in the body: a WHEN on the PostgreSQL trigger itself
    # would be a condition ``verify`` reads as altered (and one more thing to compare)
    condition = " ".join(when.split())
    return f" BEGIN IF {condition} THEN RAISE EXCEPTION '{message}'; END IF; RETURN NEW; END "


def _audit_body(s: str) -> str:
    return f"""
BEGIN
    DELETE FROM {s}.audit_entity_counts WHERE job_id = NEW.job_id;
    INSERT INTO {s}.audit_entity_counts
    SELECT NEW.job_id, NEW.status, NEW.file_type,
           COALESCE(NEW.archived_at, NEW.fetched_at, NEW.submitted_at, NEW.created_at),
           e.key, e.value::bigint
    FROM jsonb_each_text(NEW.entity_counts::jsonb) AS e;
    RETURN NULL;
END """


CHAIN_REFUSED = "the access log refused an entry that does not follow its head"
# How far an entry's time may be from the server's clock (seconds), for every role but the
# table's owner: the time is inside the hashed entry, so it is checked, never rewritten.
MAX_CLOCK_SKEW_S = 300
TIME_REFUSED = "the access log refused an entry whose time is more than 5 minutes from the server"


def _chain_body(s: str) -> str:
    return f"""
DECLARE
    head_seq bigint;
    head_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_CLASS}, hashtext(TG_TABLE_SCHEMA::text));
    SELECT seq, entry_hash INTO head_seq, head_hash
    FROM {s}.access_log ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := '{GENESIS}';
    END IF;
    IF NEW.seq IS DISTINCT FROM head_seq + 1 OR NEW.prev_hash IS DISTINCT FROM head_hash THEN
        RAISE EXCEPTION '{CHAIN_REFUSED}' USING ERRCODE = 'check_violation';
    END IF;
    IF NOT (abs(NEW.time - extract(epoch FROM clock_timestamp())::double precision)
            <= {MAX_CLOCK_SKEW_S})
       AND NOT pg_has_role(session_user,
                           (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID),
                           'MEMBER') THEN
        RAISE EXCEPTION '{TIME_REFUSED}' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NEW;
END """


def migration_guards() -> list[Guard]:
    """The triggers the migrations' ``CREATE TRIGGER`` statements become (see the module
    docstring), in the order they are made."""
    out: list[Guard] = []
    for _, statements in MIGRATIONS:
        for sql in statements:
            trigger = _TRIGGER.match(sql)
            if not trigger:
                continue
            name, event, target, when, message = trigger.groups()
            function, body = f"{name}_fn", _raise_body(message, when)
            bits = _TG_ROW | _TG_BEFORE | _EVENT_BITS[event.upper()]
            out.append(Guard(name, target, bits, function, body))
            if event.upper() == "DELETE":
                truncate = _TG_BEFORE | _TG_TRUNCATE
                out.append(Guard(f"{name}_truncate", target, truncate, function, body))
    return out


def extra_guards(schema: str) -> list[Guard]:
    """The triggers PostgreSQL has beyond the migrations (``postgres_extras``)."""
    s = quote_ident(schema)
    return [
        Guard(
            "access_log_chain", "access_log", _TG_ROW | _TG_BEFORE | _TG_INSERT,
            "access_log_chain_fn", _chain_body(s),
        ),
        Guard(
            "jobs_audit_entity_counts", "jobs", _TG_ROW | _TG_INSERT | _TG_UPDATE,
            "jobs_audit_entity_counts_fn", _audit_body(s), security_definer=True,
        ),
    ]  # fmt: skip


def guards(schema: str) -> list[Guard]:
    """Every trigger of a current PostgreSQL vault, as ``verify`` and the check before every
    release expect it."""
    return [*migration_guards(), *extra_guards(schema)]


# PostgreSQL only, beyond the migrations, made (or brought up to date) in the same transaction
# as any migration, so a new version of them comes with a migration (``m004``):
# - per-type entity counts of every job, kept by a trigger, so ``audit --summary`` adds up
#   narrow rows instead of parsing a million JSON texts (store/_audit.py). Derived data:
#   rebuilt from ``jobs`` whenever it is (re)created, never copied by ``migrate``; the function
#   runs as its owner so the archiver needs no privilege on the table;
# - a check that every new log entry follows the head (seq = head + 1, prev_hash = the head's
#   hash), under the writers' lock: a role that may append (the archiver, an analyst) cannot
#   append an entry off the chain, which would otherwise stop every release;
# - every function's search path fixed (``SEARCH_PATH``), the append-only ones included.
EXTRA_TABLES = frozenset({"audit_entity_counts"})
EXTRA_TRIGGERS = frozenset({"jobs_audit_entity_counts", "access_log_chain"})


def postgres_extras(schema: str) -> list[str]:
    """The statements making the extras in ``schema`` (the vault's, ``current_schema()``)."""
    s = quote_ident(schema)
    out = [
        f"""
        CREATE TABLE IF NOT EXISTS {s}.audit_entity_counts (
            job_id      TEXT COLLATE "C" NOT NULL REFERENCES {s}.jobs (job_id) ON DELETE CASCADE,
            status      TEXT COLLATE "C" NOT NULL,
            file_type   TEXT COLLATE "C" NOT NULL,
            audit_time  DOUBLE PRECISION,
            entity_type TEXT COLLATE "C" NOT NULL,
            count       BIGINT NOT NULL,
            PRIMARY KEY (job_id, entity_type)
        )
        """
    ]
    for function in dict.fromkeys(g.function for g in migration_guards()):
        out.append(f"ALTER FUNCTION {s}.{function}() SET search_path = {SEARCH_PATH}")
    for guard in extra_guards(schema):
        definer = " SECURITY DEFINER" if guard.security_definer else ""
        out += [
            f"CREATE OR REPLACE FUNCTION {s}.{guard.function}() RETURNS trigger "
            f"LANGUAGE plpgsql{definer} SET search_path = {SEARCH_PATH} "
            f"AS $body${guard.body}$body$",
            f"DROP TRIGGER IF EXISTS {guard.name} ON {s}.{guard.table}",
        ]
    out += [
        f"CREATE TRIGGER jobs_audit_entity_counts AFTER INSERT OR UPDATE ON {s}.jobs "
        f"FOR EACH ROW EXECUTE FUNCTION {s}.jobs_audit_entity_counts_fn()",
        f"CREATE TRIGGER access_log_chain BEFORE INSERT ON {s}.access_log "
        f"FOR EACH ROW EXECUTE FUNCTION {s}.access_log_chain_fn()",
        f"TRUNCATE {s}.audit_entity_counts",
        f"INSERT INTO {s}.audit_entity_counts SELECT j.job_id, j.status, j.file_type, "
        "COALESCE(j.archived_at, j.fetched_at, j.submitted_at, j.created_at), e.key, "
        f"e.value::bigint FROM {s}.jobs j, jsonb_each_text(j.entity_counts::jsonb) AS e",
    ]
    return out


def postgres_migration(statements: Sequence[str]) -> list[str]:
    """A whole migration's statements for PostgreSQL."""
    return [out for sql in statements for out in postgres_statements(sql)]
