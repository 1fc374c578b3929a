"""The optional OS keyring (extra ``keyring``): where the passphrase and the API token may live
instead of a file or an environment variable.

Used only when the settings file says ``keyring = true``: probing a desktop keyring on every
command could pop up an unlock dialog nobody asked for. Entries are stored under the service
name ``questa-vault``; the passphrase entry is per vault file and user, the token entry per API
URL, so two vaults or two services never share a secret by accident. Errors of the keyring
library are translated here and never carry the secret.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from vault.errors import ConfigError, MissingExtra

SERVICE = "questa-vault"


def _library() -> ModuleType:
    try:
        return importlib.import_module("keyring")
    except ModuleNotFoundError as exc:
        raise MissingExtra(
            "the OS keyring needs the keyring extra: pip install 'questa-vault[keyring]' "
            "(or set keyring = false with questa-vault config set keyring false)"
        ) from exc


def passphrase_entry(vault_path: str, user: str) -> str:
    return f"passphrase:{user}@{vault_path}"


def token_entry(api_url: str) -> str:
    return f"token:{api_url.rstrip('/')}"


def get_secret(entry: str) -> str | None:
    """The stored secret, or None when there is none."""
    library = _library()
    try:
        value = library.get_password(SERVICE, entry)
    except Exception as exc:  # the backends raise their own types; none may leak the secret
        raise ConfigError(f"the OS keyring could not be read ({type(exc).__name__})") from exc
    return value if isinstance(value, str) and value else None


NO_KEYRING = "no OS keyring is available on this machine (install and unlock one, or use a file)"


def set_secret(entry: str, secret: str) -> None:
    library = _library()
    errors = importlib.import_module("keyring.errors")
    try:
        library.set_password(SERVICE, entry, secret)
    except errors.NoKeyringError as exc:
        raise ConfigError(NO_KEYRING) from exc
    except Exception as exc:
        raise ConfigError(f"the OS keyring refused the secret ({type(exc).__name__})") from exc


def delete_secret(entry: str) -> bool:
    """Remove the entry; False when there was none."""
    library = _library()
    errors = importlib.import_module("keyring.errors")
    try:
        library.delete_password(SERVICE, entry)
    except errors.PasswordDeleteError:
        return False
    except errors.NoKeyringError as exc:
        raise ConfigError(NO_KEYRING) from exc
    except Exception as exc:
        raise ConfigError(f"the OS keyring could not delete ({type(exc).__name__})") from exc
    return True
