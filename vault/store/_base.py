"""``StoreBase``: what the query classes share: the open ``Database`` and its statements.

``Store`` (rows) and ``AuditQueries`` (aggregates) build on it; they write SQL once, in the
subset both backends accept, and ask ``dialect`` where the engines differ in substance.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from vault.store._database import Database, Dialect


class StoreBase:
    """An open vault database and the statement helpers of the query classes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def dialect(self) -> Dialect:
        return self.db.dialect

    def write(self) -> AbstractContextManager[None]:
        """One write transaction (one writer per vault); nested calls join."""
        return self.db.write()

    def read(self) -> AbstractContextManager[None]:
        """A consistent snapshot for several reads; joins an open transaction."""
        return self.db.read()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.query(sql, params)

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.db.execute(sql, params)

    def _exec_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.execute_many(sql, rows)
