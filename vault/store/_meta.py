"""``db.meta``: the vault's own settings (``vault_id``, ``created_at``, ``format``)."""

from __future__ import annotations

from vault.store._base import Queries


class Meta(Queries):
    """The vault's own key-value settings (``vault_meta``)."""

    def get(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM vault_meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set(self, key: str, value: str) -> None:
        self._exec(
            "INSERT INTO vault_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
