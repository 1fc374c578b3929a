"""The PostgreSQL backend (psycopg 3): connecting, transactions, migrations, maintenance.

The only module that imports ``psycopg``. A vault is the set of tables in the connection's
current schema (normally ``public`` of the database the URL names).

Design choices (the backend-neutral ones are in ``_database``):

- One connection per store in autocommit mode; ``write()`` is ``BEGIN`` (read committed)
  followed by ``pg_advisory_xact_lock`` on the vault's key, so writes of every host are
  serialised exactly as SQLite's ``BEGIN IMMEDIATE`` serialises them: the log head a writer
  reads is the head it appends after, and the chain cannot fork. ``lock_timeout`` bounds the
  wait like SQLite's busy timeout. ``read()`` is a ``REPEATABLE READ READ ONLY`` snapshot.
- Credentials only through libpq (password file, service file, environment); the URL has no
  password (``_location``). ``connect_timeout`` bounds an unreachable server.
- Errors become one-line ``StoreError``s here (``VaultAccessDenied`` for refused
  credentials); only PostgreSQL's primary message is used, never its DETAIL, which may
  quote row values. A lost connection rolls the transaction back on the server: nothing of
  it is written.
- The schema comes from the same migrations as SQLite's, translated by ``_pg_schema``.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Self

import psycopg
from psycopg import errors as pg_errors

from vault.config import DatabaseUrl
from vault.errors import (
    ConnectionLost,
    IntegrityError,
    RoleRefused,
    StoreError,
    VaultAccessDenied,
    VaultBusy,
    VaultError,
    VaultExists,
    VaultNotFound,
)
from vault.store._database import Database
from vault.store._migrations import MIGRATIONS, MIGRATIONS_TABLE, unknown_schema
from vault.store._pg_schema import (
    CHAIN_REFUSED,
    EXTRA_TABLES,
    FIRST_TABLES,
    LOCK_CLASS,
    SEARCH_PATH,
    TIME_REFUSED,
    Guard,
    guards,
    postgres_extras,
    postgres_migration,
    postgres_statements,
)
from vault.store._sqlite import expected_layout

CONNECT_TIMEOUT_S = 10
LOCK_TIMEOUT_MS = 30_000
# The advisory-lock key of a vault: a constant of ours mixed with the schema's name.
_BEGIN_WRITE = (
    "BEGIN ISOLATION LEVEL READ COMMITTED; "
    f"SELECT pg_advisory_xact_lock({LOCK_CLASS}, hashtext(current_schema()))"
)
# Every trigger of the vault's schema with its function, for comparing with ``guards``.
_TRIGGERS_SQL = (
    "SELECT current_schema(), t.tgname, c.relname, t.tgtype, t.tgenabled, p.proname, "
    "pn.nspname, l.lanname, p.prosrc, p.prosecdef, array_to_string(p.proconfig, ';'), "
    "p.proowner = c.relowner, "
    "t.tgqual IS NULL AND t.tgnargs = 0 AND t.tgattr = ''::int2vector, "
    "(SELECT count(*) FROM pg_rewrite r WHERE r.ev_class = c.oid) "
    "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace "
    "JOIN pg_language l ON l.oid = p.prolang "
    "WHERE n.nspname = current_schema() AND NOT t.tgisinternal"
)


@lru_cache(maxsize=512)
def _sql(text: str) -> str:
    """The store's shared SQL in PostgreSQL's spelling: ``?`` -> ``%s``, BLOB casts -> BYTEA."""
    return text.replace("%", "%%").replace("?", "%s").replace("AS BLOB)", "AS BYTEA)")


NO_DB_LOGIN_HINT = (
    "the database server asks a password for {where} and none was found: put it in ~/.pgpass "
    "or the file PGPASSFILE names (host:port:database:role:password, mode 0600; for a Unix "
    "socket the host is the socket's directory), a service file, or PGPASSWORD (docs/team.md)"
)
BAD_DB_LOGIN_HINT = (
    "the database server refused the password for {where}: check the role's line in "
    "~/.pgpass or the file PGPASSFILE names (host:port:database:role:password), the service "
    "file, or PGPASSWORD (docs/team.md)"
)


NOT_OWNER = (
    "a vault is created (init, migrate) by the role that owns the database: "
    "CREATE DATABASE name OWNER questa_admin, then run it as questa_admin (docs/team.md)"
)


def _error(exc: psycopg.Error, where: str, *, connecting: bool = False) -> VaultError:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    lines = (primary or str(exc)).strip().splitlines()
    text = (lines[0] if lines else type(exc).__name__)[:200]
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return RoleRefused(f"the database role may not do this ({text})")
    if isinstance(exc, pg_errors.RaiseException) and "append-only" in text:
        return StoreError("the access log is append-only")
    if isinstance(exc, pg_errors.CheckViolation) and CHAIN_REFUSED in text:
        return IntegrityError(f"{CHAIN_REFUSED} (another writer, or a forged entry)")
    if TIME_REFUSED in text:
        return StoreError(f"{TIME_REFUSED}: check this machine's clock")
    if isinstance(exc, pg_errors.LockNotAvailable | pg_errors.QueryCanceled):
        return VaultBusy("the vault is busy: another process held its lock for too long")
    if isinstance(exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
        return VaultBusy("the vault is busy: a concurrent change conflicted; try again")
    if isinstance(exc, pg_errors.InvalidAuthorizationSpecification | pg_errors.InvalidPassword):
        return VaultAccessDenied(f"the database server refused the credentials for {where}")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        lowered = text.lower()
        if "no password supplied" in lowered:
            return VaultAccessDenied(NO_DB_LOGIN_HINT.format(where=where))
        if "password authentication failed" in lowered:
            return VaultAccessDenied(BAD_DB_LOGIN_HINT.format(where=where))
        if "password" in lowered or "authentication" in lowered or "role" in lowered:
            return VaultAccessDenied(f"the database server refused the credentials for {where}")
        if "does not exist" in lowered and "database" in lowered:
            return VaultNotFound(f"no vault at {where}: the database does not exist")
        if connecting:
            return ConnectionLost(f"cannot connect to the vault database {where} ({text})")
        return ConnectionLost(
            f"lost or could not open the connection to the vault database {where} ({text}); "
            "a transaction in progress was rolled back: run the command again"
        )
    return StoreError(f"vault database error: {text}")


class PostgresDatabase(Database):
    """An open PostgreSQL vault."""

    dialect = "postgresql"

    def __init__(self, url: DatabaseUrl, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        super().__init__(url)
        self.url = url
        self._conn = conn

    # ----------------------------------------------------------------- opening

    @classmethod
    def _connection(cls, url: DatabaseUrl) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            conn = psycopg.connect(
                url.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                prepare_threshold=None,
                fallback_application_name="questa-vault",
            )
            # One round trip. JIT off: compiling costs more than it saves on the vault's
            # queries (audit totals over a million jobs: ~0.3 s slower with it).
            conn.execute(
                f"SET lock_timeout = {LOCK_TIMEOUT_MS}; SET TIME ZONE 'UTC'; SET jit = off"
            )
        except psycopg.Error as exc:
            raise _error(exc, str(url), connecting=True) from exc
        return conn

    @classmethod
    def create(cls, url: DatabaseUrl) -> Self:
        """Make the vault's schema in an empty database; ``VaultExists`` if it holds a vault,
        ``StoreError`` if it holds anything else."""
        db = cls(url, cls._connection(url))
        try:
            tables = db.tables()
            if "vault_meta" in tables:
                raise VaultExists(f"a vault already exists at {url}; refusing to overwrite it")
            others = db.query(  # views, sequences, functions... of the vault's schema too
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('v', 'm', 'S', 'f') "
                "UNION ALL SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = current_schema() LIMIT 1"
            )
            if tables or others:
                raise StoreError(
                    f"the database at {url} is not empty and not a questa-vault database; "
                    "create the vault in an empty database"
                )
            db._migrate()
        except RoleRefused as exc:
            db.close()
            raise RoleRefused(f"{exc}; {NOT_OWNER}") from exc
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def open(cls, url: DatabaseUrl) -> Self:
        """Open a vault and bring its schema up to date; ``VaultNotFound``, ``StoreError``."""
        db = cls(url, cls._connection(url))
        try:
            db._migrate(db._check_is_vault())
        except BaseException:
            db.close()
            raise
        return db

    def _check_is_vault(self) -> list[str]:
        """The applied migrations; ``VaultNotFound`` (no table) or ``StoreError`` (not a
        vault). Two round trips: the catalogue (tables, and the columns of the migrations
        table), then the migrations themselves (every open pays these)."""
        found = self.query(
            "SELECT c.relname, CASE WHEN c.relname = 'schema_migrations' THEN "
            "(SELECT string_agg(a.attname::text, ',' ORDER BY a.attnum) FROM pg_attribute a "
            "WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) END, "
            "has_table_privilege(c.oid, 'SELECT') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        )
        tables = {str(r[0]): r[1] for r in found}
        if any(str(r[0]) == "schema_migrations" and not r[2] for r in found):
            # A vault whose tables this role may not read: the grants were never run here
            # (after init, or after a migrate into a new database).
            raise StoreError(
                "the database role has no access to this vault's tables: run the grants of "
                "docs/team.md (after init, and after migrate into a new database)"
            )
        if not tables:
            raise VaultNotFound(f"no vault at {self.url}: run questa-vault init")
        not_a_vault = StoreError(f"{self.url} is not a questa-vault database")
        if not ({"schema_migrations", "vault_meta"} | FIRST_TABLES) <= set(tables):
            raise not_a_vault  # (every table of the first migration, not just two names)
        if str(tables["schema_migrations"] or "").split(",")[:3] != ["id", "name", "applied_at"]:
            raise not_a_vault
        applied = self.migrations()
        if not applied or applied[0] != MIGRATIONS[0][0]:
            raise not_a_vault
        return applied

    def _migrate(self, applied: list[str] | None = None) -> None:
        """Apply the migrations this vault lacks (``applied``: what ``_check_is_vault``
        read; None for a new vault)."""
        known = [name for name, _ in MIGRATIONS]
        if applied is not None and applied == known:
            return  # the usual case: no write transaction, so read-only roles can open
        with self.write():
            if "schema_migrations" not in self.tables():
                for sql in postgres_statements(MIGRATIONS_TABLE):
                    self._change(sql, ())
            applied = self.migrations()
            if applied != known[: len(applied)]:
                raise unknown_schema(applied)
            for number, (name, statements) in enumerate(MIGRATIONS, start=1):
                if name in applied:
                    continue
                for sql in postgres_migration(statements):
                    self._change(sql, ())
                self._change(
                    "INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)",
                    (number, name, time.time() / 86400.0 + 2440587.5),  # a Julian day, as SQLite
                )
            schema = str(self.query("SELECT current_schema()")[0][0])
            for sql in postgres_extras(schema):  # after any migration: rebuilt to match
                self._change(sql, ())

    def close(self) -> None:
        with self._lock, contextlib.suppress(psycopg.Error):
            self._conn.close()

    def same_database(self, other: Database) -> bool:
        """The same database and schema, decided by the server: this connection takes a
        session advisory lock under a random key and ``other`` tries to take it too. Advisory
        locks belong to a database, so it fails exactly when both connections are in the
        same database of the same server (however the URLs spell host, port and parameters);
        then the vault's schemas are compared. Needs no privilege beyond connecting."""
        if not isinstance(other, PostgresDatabase):
            return False
        while True:
            key = secrets.randbits(62)
            if self.query("SELECT pg_try_advisory_lock(?)", (key,))[0][0]:
                break
        try:
            free = bool(other.query("SELECT pg_try_advisory_lock(?)", (key,))[0][0])
            if free:
                other.query("SELECT pg_advisory_unlock(?)", (key,))
        finally:
            self.query("SELECT pg_advisory_unlock(?)", (key,))
        if free:
            return False
        schema = "SELECT current_schema()"
        return bool(self.query(schema)[0][0] == other.query(schema)[0][0])

    def discard(self) -> None:
        self.close()
        fresh = type(self)(self.url, self._connection(self.url))
        try:
            fresh.drop_schema()
        finally:
            fresh.close()

    def drop_schema(self) -> None:
        """Remove every object the migrations made (after a failed ``Custodian.create``)."""
        with self._lock, contextlib.suppress(psycopg.Error):
            if self._depth:
                self._rollback()
                self._depth, self._writing = 0, False
            for table in self.tables():
                self._conn.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
            for (function,) in self._conn.execute(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = current_schema() AND p.proname LIKE '%\\_fn'"
            ).fetchall():
                self._conn.execute(f'DROP FUNCTION IF EXISTS "{function}"()')

    def missing_privileges(self, wanted: Sequence[tuple[str, str]]) -> list[str]:
        if not wanted:
            return []
        values = ", ".join("(?, ?)" for _ in wanted)
        rows = self.query(
            f"SELECT v.t, v.p FROM (VALUES {values}) AS v(t, p) WHERE NOT "
            "has_table_privilege(format('%I.%I', current_schema(), v.t), v.p)",
            [x for pair in wanted for x in pair],
        )
        return [f"{p} on {t}" for t, p in rows]

    def settings(self) -> dict[str, int | str]:
        out: dict[str, int | str] = {}
        for name in ("default_transaction_isolation", "lock_timeout", "synchronous_commit"):
            out[name] = str(self.query(f"SHOW {name}")[0][0])
        out["server_version"] = str(self.query("SHOW server_version")[0][0])
        return out

    def tables(self) -> list[str]:
        # The catalogue itself, not information_schema: its views cost tens of milliseconds,
        # and every open asks.
        return [
            str(r[0])
            for r in self.query(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
                "ORDER BY c.relname"
            )
        ]

    def _columns(self) -> dict[str, list[str]]:
        """The columns of every table of the vault's schema, in their order."""
        out: dict[str, list[str]] = {}
        for table, column in self.query(
            "SELECT c.relname, a.attname FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum"
        ):
            out.setdefault(str(table), []).append(str(column))
        return out

    # ----------------------------------------------------------------- transactions

    def _run(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        """Run one statement. Between transactions a connection the server dropped (a
        restart, an idle timeout, an administrator) is opened again once and the statement
        retried; inside a transaction the loss is an error: the server rolled it back."""
        try:
            return self._conn.execute(sql, params)
        except psycopg.OperationalError as exc:
            if self._depth or not self._conn.broken:
                raise _error(exc, str(self.url)) from exc
            failure = exc
        except psycopg.Error as exc:
            raise _error(exc, str(self.url)) from exc
        with contextlib.suppress(psycopg.Error):
            self._conn.close()
        self._conn = self._connection(self.url)
        try:
            return self._conn.execute(sql, params)
        except psycopg.Error as exc:
            raise _error(exc, str(self.url)) from failure

    def _begin_write(self) -> None:
        # One round trip, so a retry after a dropped connection repeats both or neither.
        self._run(_BEGIN_WRITE)

    def _begin_read(self) -> None:
        self._run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _commit(self) -> None:
        # Never through _run's retry: a COMMIT sent again on a new connection "succeeds" (no
        # transaction in progress) while the server rolled the lost one back, so a release
        # would go on with no log entry and an erase would report a change never made.
        try:
            self._conn.execute("COMMIT")
        except psycopg.OperationalError as exc:
            if not self._conn.broken:
                raise _error(exc, str(self.url)) from exc
            raise ConnectionLost(
                "the connection to the PostgreSQL server was lost while committing: the change "
                "was most likely not made (check with questa-vault log before trying again)"
            ) from exc
        except psycopg.Error as exc:
            raise _error(exc, str(self.url)) from exc

    def _rollback(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._conn.execute("ROLLBACK")

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cursor = self._run(_sql(sql), tuple(params))
        if cursor.description is None:
            return []
        return [tuple(r) for r in cursor.fetchall()]

    def _change(self, sql: str, params: Sequence[Any]) -> int:
        return int(self._run(_sql(sql) if params else sql, tuple(params)).rowcount)

    def _change_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            with self._conn.cursor() as cursor:
                cursor.executemany(_sql(sql), [tuple(r) for r in rows])
        except psycopg.Error as exc:
            raise _error(exc, str(self.url)) from exc

    # ----------------------------------------------------------------- maintenance

    def integrity_check(self) -> list[str]:
        """PostgreSQL checks its pages itself (checksums, WAL); nothing to add here."""
        self.query("SELECT 1")
        return []

    def _guard_problems(
        self, *, log_only: bool, rows: list[tuple[Any, ...]] | None = None
    ) -> list[str]:
        """How the schema's triggers differ from ``guards``: missing, not firing in every
        ordinary session (``tgenabled`` other than O or A: disabled, or ``ENABLE REPLICA``),
        on another table or event, or calling a function that is not the one the schema made
        (its body, language, search path, owner, SECURITY DEFINER). One catalogue read
        (``rows``: that read, already made by ``log_head_guarded``)."""
        if rows is None:
            rows = self.query(_TRIGGERS_SQL)
        schema = str(rows[0][0]) if rows else str(self.query("SELECT current_schema()")[0][0])
        found = {(str(r[1]), str(r[2])): r for r in rows}
        problems: list[str] = []
        if any(str(r[2]) == "access_log" and int(r[13]) for r in rows):
            problems.append("table access_log has rules (they could rewrite or drop entries)")
        for guard in guards(schema):
            if log_only and guard.table != "access_log":
                continue
            row = found.get((guard.name, guard.table))
            if row is None:
                problems.append(f"trigger {guard.name} is missing")
            elif str(row[4]) not in ("O", "A"):
                problems.append(f"trigger {guard.name} is disabled or fires only on replicas")
            elif int(row[3]) != guard.tgtype or not row[12]:
                # another timing or event, a WHEN condition, a column list, arguments
                problems.append(f"trigger {guard.name} does not fire as defined")
            elif not _same_function(guard, schema, row):
                problems.append(f"trigger {guard.name} calls an altered function")
        return problems

    def log_guarded(self) -> bool:
        """The triggers that keep the access log append-only and chained are in place, enabled
        for every session, and call the functions the schema made (one catalogue read)."""
        return not self._guard_problems(log_only=True)

    def log_head_guarded(self, head_sql: str) -> tuple[list[tuple[Any, ...]], bool]:
        """The log head's rows and ``log_guarded()`` in one round trip: both statements take
        no parameter, so they go as one simple query and come back as two result sets."""
        with self._lock:
            cursor = self._run(f"{head_sql}; {_TRIGGERS_SQL}")
            head = [tuple(r) for r in cursor.fetchall()]
            if not cursor.nextset():
                raise StoreError("internal: the trigger catalogue read returned nothing")
            triggers = [tuple(r) for r in cursor.fetchall()]
        return head, not self._guard_problems(log_only=True, rows=triggers)

    def schema_problems(self) -> list[str]:
        """Missing or extra tables, columns, indexes and append-only triggers compared with
        what the migrations make; applied migrations that differ."""
        problems: list[str] = []
        applied = self.migrations()
        known = [name for name, _ in MIGRATIONS]
        if applied != known:
            problems.append(f"applied migrations {applied} differ from the expected {known}")
        layout = expected_layout()
        columns = self._columns()
        for table in sorted(set(layout.tables) - set(columns)):
            problems.append(f"table {table} is missing")
        for table in sorted(set(columns) - set(layout.tables) - EXTRA_TABLES):
            problems.append(f"unexpected table {table}")
        for table in sorted(EXTRA_TABLES - set(columns)):
            problems.append(f"table {table} is missing")
        for table in sorted(set(columns) & set(layout.tables)):
            if [c for c in columns[table] if c != "rowid"] != list(layout.tables[table]):
                problems.append(f"table {table} differs from its definition")
        indexes = {
            str(r[0])
            for r in self.query(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            )
        }
        for index in sorted(layout.indexes - indexes):
            problems.append(f"index {index} is missing")
        problems += self._guard_problems(log_only=False)
        return problems


def _same_function(guard: Guard, schema: str, row: tuple[Any, ...]) -> bool:
    """Whether a ``_TRIGGERS_SQL`` row calls ``guard``'s function as the schema made it."""
    return (
        str(row[5]) == guard.function
        and str(row[6]) == schema
        and str(row[7]) == "plpgsql"
        and str(row[8]) == guard.body
        and bool(row[9]) == guard.security_definer
        and str(row[10] or "") == f"search_path={SEARCH_PATH}"
        and bool(row[11])
    )
