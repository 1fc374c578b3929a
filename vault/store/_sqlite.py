"""The SQLite backend: file creation, pragmas, transactions, migrations, maintenance.

Design choices (the backend-neutral ones are in ``_database``):

- One connection per store in autocommit mode; every write runs in an explicit
  ``BEGIN IMMEDIATE ... COMMIT`` (``write()``), because a deferred transaction that later
  writes can fail with "database is locked" despite the busy timeout.
- Pragmas on every connection: WAL, ``synchronous=FULL``, ``busy_timeout``, ``foreign_keys``,
  ``secure_delete``. The file is created 0600 before SQLite touches it; SQLite gives its
  ``-wal`` and ``-shm`` files the mode of the database file, and ``open`` tightens any
  sidecar that is looser.
- ``sqlite3`` errors are translated into ``StoreError`` here and never leave this package.
- The file format is the one every earlier version wrote: the migrations' SQL is SQLite's.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, Self, TypeVar

from vault._dataclass import dataclass
from vault.errors import IntegrityError, StoreError, VaultBusy, VaultExists, VaultNotFound
from vault.store._database import Database
from vault.store._migrations import LOG_TRIGGERS, MIGRATIONS, MIGRATIONS_TABLE, unknown_schema

BUSY_TIMEOUT_MS = 30_000
SIDECARS = ("-wal", "-shm")

P = ParamSpec("P")
T = TypeVar("T")


def _translated(func: Callable[P, T]) -> Callable[P, T]:
    """Turn any ``sqlite3`` error (or undecodable schema text) raised by ``func`` into a
    ``StoreError`` or ``IntegrityError``."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except sqlite3.Error as exc:
            raise store_error(exc) from exc
        except UnicodeDecodeError as exc:  # a damaged name in the schema table itself
            raise IntegrityError("the vault holds a damaged text value") from exc

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def store_error(exc: sqlite3.Error) -> StoreError | IntegrityError:
    # One line, bounded: a damaged schema makes SQLite quote whole CREATE statements.
    lines = str(exc).splitlines()
    text = lines[0][:160] if lines else type(exc).__name__
    if "Could not decode" in text:
        return IntegrityError("the vault holds a damaged text value")
    if "locked" in text or "busy" in text:
        return VaultBusy("the vault is busy: another process held its lock for too long")
    if "not a database" in text or "malformed" in text:
        return StoreError(f"the vault file is damaged or not a questa-vault database ({text})")
    if "append-only" in text:
        return StoreError("the access log is append-only")
    # sqlite3 messages name tables and columns, never bound values.
    return StoreError(f"vault database error: {text}")


def _check_is_vault(path: Path) -> None:
    """Refuse (``StoreError``) a file that is not a vault, reading it through a read-only
    connection, so that somebody else's SQLite file is left byte for byte as it was.

    A vault has our migrations table, its first recorded migration is our first one, and it
    has the ``vault_meta`` table that migration makes. Later unknown migrations pass here:
    ``_migrate`` reports a vault of a newer version.
    """
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise store_error(exc) from exc
    try:
        _check_schema(path, conn)
    except IntegrityError:
        raise
    except StoreError as exc:
        if "not a database" not in str(exc):
            raise
        raise StoreError(f"{path} is damaged or not a questa-vault database") from exc
    finally:
        conn.close()


@_translated
def _check_schema(path: Path, conn: sqlite3.Connection) -> None:
    not_a_vault = StoreError(f"{path} is not a questa-vault database")
    # One statement for the catalogue: our two tables, and the columns of the migrations one.
    found = conn.execute(
        "SELECT name, CASE WHEN name = 'schema_migrations' THEN (SELECT group_concat(c, ',') "
        "FROM (SELECT name AS c FROM pragma_table_info('schema_migrations') ORDER BY cid)) END "
        "FROM sqlite_master WHERE type = 'table' AND name IN ('schema_migrations', 'vault_meta')"
    ).fetchall()
    tables = {str(r[0]): r[1] for r in found}
    if not {"schema_migrations", "vault_meta"} <= set(tables):
        raise not_a_vault
    if tables["schema_migrations"] != "id,name,applied_at":
        raise not_a_vault
    first = conn.execute("SELECT name FROM schema_migrations ORDER BY id LIMIT 1").fetchone()
    if first is None or first[0] != MIGRATIONS[0][0]:
        raise not_a_vault


def check_new_file(path: Path) -> None:
    """Refuse a place a new vault file cannot go, each case in its own words: a vault already
    there (``VaultExists``), a directory, or another file (never overwritten)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create a vault at {path}: {exc.strerror}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise StoreError(
            f"{path} is a directory: give the path of the new vault file "
            f"(such as {path / 'vault.db'})"
        )
    try:
        _check_is_vault(path)
    except StoreError:
        raise VaultExists(
            f"{path} exists and is not a questa-vault database; refusing to overwrite it"
        ) from None
    raise VaultExists(f"a vault already exists at {path}; refusing to overwrite it")


def check_existing_file(path: Path) -> None:
    """Before opening: one clear line for a path that holds no vault file (``VaultNotFound``
    when nothing is there, naming a missing directory; ``StoreError`` for a directory, a
    special file or one that cannot be read)."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        parent = path.parent
        if parent.exists() and not parent.is_dir():
            raise VaultNotFound(
                f"no vault at {path}: {parent} is a file, not a directory"
            ) from None
        if not parent.is_dir():
            raise VaultNotFound(
                f"no vault at {path}: the directory {parent} does not exist "
                "(questa-vault init creates a new vault and its directory)"
            ) from None
        raise VaultNotFound(f"no vault at {path}: run questa-vault init") from None
    except OSError as exc:
        raise StoreError(f"cannot open the vault {path}: {exc.strerror}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise StoreError(
            f"{path} is a directory, not a vault file: give the vault file's path "
            "(--vault, QUESTA_VAULT or `vault` in the settings file)"
        )
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path} is not a regular file, so not a vault")
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as exc:
        raise StoreError(f"cannot open the vault {path}: {exc.strerror}") from exc


class SqliteDatabase(Database):
    """An open vault file."""

    dialect = "sqlite"

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        super().__init__(path)
        self.path = path
        self._conn = conn

    # ----------------------------------------------------------------- opening

    @classmethod
    def create(cls, path: Path) -> Self:
        """Create a new vault file (mode 0600) with the current schema; ``VaultExists``."""
        path = Path(path)
        check_new_file(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError as exc:  # appeared since the check
            raise VaultExists(
                f"a vault already exists at {path}; refusing to overwrite it"
            ) from exc
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror}") from exc
        os.close(fd)
        for suffix in SIDECARS:  # leftovers of an older file of that name would be replayed
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
        try:
            return cls._connect(path, new=True)
        except BaseException:
            cls.remove(path)
            raise

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open an existing vault and bring its schema up to date; ``VaultNotFound``."""
        path = Path(path)
        check_existing_file(path)
        return cls._connect(path, new=False)

    @classmethod
    def _connect(cls, path: Path, *, new: bool) -> Self:
        if not new:
            # Before anything can write: the WAL pragma and the migrations change the file.
            _check_is_vault(path)
        try:
            # The timeout is SQLite's busy timeout (no PRAGMA needed for it).
            conn = sqlite3.connect(
                str(path),
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except sqlite3.Error as exc:
            raise store_error(exc) from exc
        store = cls(path, conn)
        try:
            store._configure()
            store._migrate(new=new)
            store._tighten_modes()
        except BaseException:
            conn.close()
            raise
        return store

    @_translated
    def _configure(self) -> None:
        c = self._conn
        mode = c.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise StoreError("the vault file cannot use write-ahead logging")
        c.execute("PRAGMA synchronous = FULL")
        c.execute("PRAGMA foreign_keys = ON")
        c.execute("PRAGMA secure_delete = ON")

    @_translated
    def _migrate(self, *, new: bool) -> None:
        known = [name for name, _ in MIGRATIONS]
        if not new:
            # The usual case, one read and no write lock: nothing to apply. (A vault that
            # lacks migrations, or has unknown ones, goes on to the locked path below.)
            applied = [
                r[0] for r in self._conn.execute("SELECT name FROM schema_migrations ORDER BY id")
            ]
            if applied == known:
                return
        with self.write():
            self._conn.execute(MIGRATIONS_TABLE)
            applied = [
                r[0] for r in self._conn.execute("SELECT name FROM schema_migrations ORDER BY id")
            ]
            if applied != known[: len(applied)]:
                raise unknown_schema(applied)
            for number, (name, statements) in enumerate(MIGRATIONS, start=1):
                if name in applied:
                    continue
                for sql in statements:
                    self._conn.execute(sql)
                self._conn.execute(
                    "INSERT INTO schema_migrations (id, name, applied_at) "
                    "VALUES (?, ?, julianday('now'))",
                    (number, name),
                )

    def _tighten_modes(self) -> None:
        for name in (str(self.path), *(f"{self.path}{s}" for s in SIDECARS)):
            with contextlib.suppress(FileNotFoundError, PermissionError):
                mode = stat.S_IMODE(os.stat(name).st_mode)
                if mode & 0o077:
                    os.chmod(name, 0o600)

    @staticmethod
    def remove(path: Path) -> None:
        """Delete a vault file and its sidecars (after a failed ``create``)."""
        for name in (str(path), *(f"{path}{s}" for s in SIDECARS)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def same_database(self, other: Database) -> bool:
        """The same file: device and inode (a symlink, a hard link, a relative or absolute
        spelling all resolve to it)."""
        if not isinstance(other, SqliteDatabase):
            return False
        try:
            mine, theirs = os.stat(self.path), os.stat(other.path)
        except OSError:
            return False
        return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)

    def discard(self) -> None:
        self.close()
        self.remove(self.path)

    def settings(self) -> dict[str, int | str]:
        """The connection settings that matter for safety (for ``verify`` and tests)."""
        out: dict[str, int | str] = {}
        for name in (
            "journal_mode",
            "synchronous",
            "busy_timeout",
            "foreign_keys",
            "secure_delete",
        ):
            value = self.query(f"PRAGMA {name}")[0][0]
            out[name] = value if isinstance(value, int) else str(value)
        return out

    def tables(self) -> list[str]:
        rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [str(r[0]) for r in rows]

    # ----------------------------------------------------------------- transactions

    def _begin_write(self) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise store_error(exc) from exc

    def _begin_read(self) -> None:
        try:
            self._conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise store_error(exc) from exc

    def _commit(self) -> None:
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise store_error(exc) from exc

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("ROLLBACK")

    def _end_read(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("COMMIT")

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            return list(self._conn.execute(sql, tuple(params)).fetchall())
        except sqlite3.Error as exc:
            raise store_error(exc) from exc

    def _change(self, sql: str, params: Sequence[Any]) -> int:
        try:
            return int(self._conn.execute(sql, tuple(params)).rowcount)
        except sqlite3.Error as exc:
            raise store_error(exc) from exc

    def _change_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise store_error(exc) from exc

    # ----------------------------------------------------------------- maintenance

    @_translated
    def integrity_check(self) -> list[str]:
        """SQLite's own page-level check; an empty list when the file is sound."""
        rows = self.query("PRAGMA integrity_check")
        problems = [str(r[0]) for r in rows]
        return [] if problems == ["ok"] else problems

    def copy_to(self, target: sqlite3.Connection) -> None:
        """Copy the whole database into ``target`` through the SQLite backup API (a
        consistent online copy; ``_maintenance.backup``)."""
        try:
            with self._lock:
                self._conn.backup(target)
        except sqlite3.Error as exc:
            raise store_error(exc) from exc

    # ----------------------------------------------------------------- verify support

    def log_guarded(self) -> bool:
        """Whether both triggers that keep the access log append-only are in place as defined
        (two catalogue rows: cheap enough to ask before every release)."""
        names = tuple(LOG_TRIGGERS)
        marks = ", ".join("?" * len(names))
        rows = self.query(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})",
            names,
        )
        actual = {str(r[0]): _normalise_sql(r[1]) for r in rows}
        return all(actual.get(n) == sql for n, sql in LOG_TRIGGERS.items())

    def schema_problems(self) -> list[str]:
        """How the file's schema differs from the one the migrations make (dropped triggers,
        altered tables, unknown objects, unexpected migrations); empty when it matches."""
        problems: list[str] = []
        applied = self.migrations()
        known = [name for name, _ in MIGRATIONS]
        if applied != known:
            problems.append(f"applied migrations {applied} differ from the expected {known}")
        expected = _expected_schema()
        actual = {
            (str(r[0]), str(r[1])): _normalise_sql(r[2])
            for r in self.query("SELECT type, name, sql FROM sqlite_master")
        }
        for key in sorted(set(expected) - set(actual)):
            problems.append(f"{key[0]} {key[1]} is missing")
        for key in sorted(set(actual) - set(expected)):
            problems.append(f"unexpected {key[0]} {key[1]}")
        for key in sorted(set(actual) & set(expected)):
            if actual[key] != expected[key]:
                problems.append(f"{key[0]} {key[1]} differs from its definition")
        return problems


def _normalise_sql(sql: object) -> str:
    return " ".join(str(sql).split()) if sql is not None else ""


@functools.cache
def _expected_schema() -> dict[tuple[str, str], str]:
    """``(type, name) -> SQL`` of a fresh database with every migration applied."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(MIGRATIONS_TABLE)
        for _, statements in MIGRATIONS:
            for sql in statements:
                conn.execute(sql)
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    finally:
        conn.close()
    return {(str(r[0]), str(r[1])): _normalise_sql(r[2]) for r in rows}


@dataclass(frozen=True)
class Layout:
    """What the migrations make, by name: tables with their columns, indexes, triggers."""

    tables: dict[str, tuple[str, ...]]
    keys: dict[str, tuple[str, ...]]  # primary-key columns of each table
    indexes: frozenset[str]
    triggers: frozenset[str]


@functools.cache
def expected_layout() -> Layout:
    """The layout of a fresh database with every migration applied (for other backends).
    Computed once per process (an in-memory database: milliseconds, and PostgreSQL asks
    before every release); callers only read it."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(MIGRATIONS_TABLE)
        for _, statements in MIGRATIONS:
            for sql in statements:
                conn.execute(sql)
        objects = conn.execute(
            "SELECT type, name FROM sqlite_master WHERE sql IS NOT NULL"
        ).fetchall()
        info = {
            str(name): conn.execute(f'PRAGMA table_info("{name}")').fetchall()
            for kind, name in objects
            if kind == "table"
        }
    finally:
        conn.close()
    return Layout(
        tables={name: tuple(str(r[1]) for r in rows) for name, rows in info.items()},
        keys={
            name: tuple(str(r[1]) for r in sorted((r for r in rows if r[5]), key=lambda r: r[5]))
            for name, rows in info.items()
        },
        indexes=frozenset(str(n) for k, n in objects if k == "index"),
        triggers=frozenset(str(n) for k, n in objects if k == "trigger"),
    )
