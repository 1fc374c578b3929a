"""Paths and defaults: where the vault lives, and the tunable constants everyone shares.

Nothing here reads the environment; the CLI does that and passes values in.
"""

from __future__ import annotations

from pathlib import Path

APP_NAME = "questa-vault"
# Named in messages and docs only: never a default, so no file goes to a third party unasked.
HOSTED_DEMO_URL = "https://demo.questa-ai.online"
RETENTION_SECONDS = 3600
EXPIRY_WARNING_SECONDS = 600
CHUNK_SIZE = 1024 * 1024


def default_vault_path() -> Path:
    """The platform's user data directory, ``questa-vault/vault.db``."""
    import platformdirs  # only when no --vault/QUESTA_VAULT is given: it costs a cold start

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "vault.db"


def default_config_path() -> Path:
    """The platform's user config directory, ``questa-vault/config.toml``."""
    import platformdirs  # see default_vault_path

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"
