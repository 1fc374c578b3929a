"""``db.users``: the users table (names, public keys, wrapped private keys, KDF settings)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vault.errors import StoreError
from vault.store._base import Queries
from vault.store._rows import UserRow, checked

_COLUMNS = (
    "id, name, enabled, created_at, public_key, wrapped_key, kdf_algorithm, kdf_memory_kib, "
    "kdf_passes, kdf_lanes, kdf_salt, key_changed_at"
)
# Binary columns are read through CAST, as in JOB_SELECT.
_SELECT = (
    "id, name, enabled, created_at, CAST(public_key AS BLOB), CAST(wrapped_key AS BLOB), "
    "kdf_algorithm, kdf_memory_kib, kdf_passes, kdf_lanes, CAST(kdf_salt AS BLOB), "
    "key_changed_at"
)


class Users(Queries):
    """The vault's users, by name."""

    def insert(self, row: UserRow) -> int:
        """Insert a user (``row.id`` is ignored); the new id. ``StoreError`` if the name exists."""
        if self.get(row.name) is not None:
            raise StoreError(f"user {row.name} already exists")
        self._exec(
            f"INSERT INTO users ({_COLUMNS}) VALUES "
            "((SELECT COALESCE(MAX(id), 0) + 1 FROM users), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.name,
                int(row.enabled),
                row.created_at,
                row.public_key,
                row.wrapped_key,
                row.kdf_algorithm,
                row.kdf_memory_kib,
                row.kdf_passes,
                row.kdf_lanes,
                row.kdf_salt,
                row.key_changed_at,
            ),
        )
        found = self.get(row.name)
        if found is None:
            raise StoreError("internal: a user vanished inside its own transaction")
        return found.id

    def get(self, name: str) -> UserRow | None:
        rows = self._query(f"SELECT {_SELECT} FROM users WHERE name = ?", (name,))
        return _user(rows[0]) if rows else None

    def all(self) -> list[UserRow]:
        """Every user, in the order they were added (read once per write transaction)."""
        return list(self.db.memo("users", ("users",), self._read_all))

    def _read_all(self) -> list[UserRow]:
        return [_user(r) for r in self._query(f"SELECT {_SELECT} FROM users ORDER BY id")]

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._exec("UPDATE users SET enabled = ? WHERE name = ?", (int(enabled), name))

    def update_key(
        self,
        name: str,
        *,
        wrapped_key: bytes,
        kdf_algorithm: str,
        kdf_memory_kib: int,
        kdf_passes: int,
        kdf_lanes: int,
        kdf_salt: bytes,
        changed_at: float,
    ) -> None:
        """A new wrapping of the user's private key (a changed passphrase)."""
        self._exec(
            "UPDATE users SET wrapped_key = ?, kdf_algorithm = ?, kdf_memory_kib = ?, "
            "kdf_passes = ?, kdf_lanes = ?, kdf_salt = ?, key_changed_at = ? WHERE name = ?",
            (
                wrapped_key,
                kdf_algorithm,
                kdf_memory_kib,
                kdf_passes,
                kdf_lanes,
                kdf_salt,
                changed_at,
                name,
            ),
        )


@checked("user")
def _user(r: Sequence[Any]) -> UserRow:
    return UserRow(
        id=int(r[0]),
        name=str(r[1]),
        enabled=bool(r[2]),
        created_at=float(r[3]),
        public_key=bytes(r[4]),
        wrapped_key=None if r[5] is None else bytes(r[5]),
        kdf_algorithm=r[6],
        kdf_memory_kib=r[7],
        kdf_passes=r[8],
        kdf_lanes=r[9],
        kdf_salt=None if r[10] is None else bytes(r[10]),
        key_changed_at=r[11],
    )
