"""Opening a vault database: the location picks the backend (a path is a SQLite file, a
``postgresql://`` URL a PostgreSQL database)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.config import DatabaseUrl, Location, vault_location
from vault.store._database import Database
from vault.store._sqlite import SqliteDatabase, check_new_file

if TYPE_CHECKING:
    from vault.store._postgres import PostgresDatabase


def create_database(location: Location | str) -> Database:
    """A new vault with the current schema; ``VaultExists`` if one is there."""
    where = vault_location(location)
    if isinstance(where, DatabaseUrl):
        return _postgres().create(where)
    return SqliteDatabase.create(where)


def check_new_location(location: Location | str) -> None:
    """Refuse, before any work, a file location where ``create_database`` would fail: a vault
    or another file already there, a directory (a database is checked by ``create``)."""
    where = vault_location(location)
    if not isinstance(where, DatabaseUrl):
        check_new_file(where)


def open_database(location: Location | str) -> Database:
    """An existing vault, its schema brought up to date; ``VaultNotFound``."""
    where = vault_location(location)
    if isinstance(where, DatabaseUrl):
        return _postgres().open(where)
    return SqliteDatabase.open(where)


def _postgres() -> type[PostgresDatabase]:
    """The PostgreSQL backend, imported on first use: psycopg loads asyncio, which a command
    on a SQLite vault should not pay for at start-up (tests/test_cold_start.py)."""
    from vault.store._postgres import PostgresDatabase

    return PostgresDatabase
