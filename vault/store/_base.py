"""``Queries``: what the query objects (``db.users``, ``db.jobs``, ``db.grants``, ``db.blobs``,
``db.log``, ``db.meta``, ``db.audit``) share: the open ``Database`` and its statements.

They write SQL once, in the subset both backends accept, and ask ``dialect`` where the
engines differ in substance. Every mutating statement runs inside the caller's
``db.write()`` (the database refuses otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the database builds its query objects: imported for the types only
    from vault.store._database import Database, Dialect


class Queries:
    """The queries of one part of the vault, over an open ``Database``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def dialect(self) -> Dialect:
        return self.db.dialect

    def read(self) -> AbstractContextManager[None]:
        """A consistent snapshot for several reads; joins an open transaction."""
        return self.db.read()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.query(sql, params)

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.db.execute(sql, params)

    def _write_returning(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A mutating statement with ``RETURNING`` (inside ``db.write()``): its rows."""
        return self.db.execute_returning(sql, params)

    def _exec_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.db.execute_many(sql, rows)
