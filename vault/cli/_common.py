"""What the commands share about a vault: opening it (as ``vault.Vault``, the same facade a
pipeline uses), choosing the acting and the reading user, unlocking, and the options of a new
key's derivation cost. Each command module holds only its commands; none repeats how a vault
is opened or a user unlocked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

import vault.crypto as crypto  # a lazy package: only init, user add, passwd derive keys
from vault.api import Unlocked, Vault
from vault.cli._app import AppContext, is_dash, read_stdin_secret, warn_if_shared
from vault.cli._harden import harden_process
from vault.cli._terminal import reason
from vault.errors import InputError, UnknownUser

if TYPE_CHECKING:
    from vault.crypto import KdfParams

F = TypeVar("F", bound=Callable[..., Any])


def open_vault(ctx: AppContext) -> Vault:
    """The vault at ``--vault`` (``VaultNotFound``: "no vault at PATH: run questa-vault init")."""
    return Vault.open(ctx.vault_path)


def login_name() -> str:
    """The operating-system login name (the last fallback for ``--user``)."""
    import getpass  # only when no user is named (cold start: it loads termios)

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def acting_user(ctx: AppContext, vault: Vault) -> str:
    """``--user``, else the vault's only enabled user, else the login name."""
    return ctx.user or vault.default_user() or login_name()


def reading_user(ctx: AppContext, vault: Vault) -> str:
    """The user to unlock: ``--user``, else the only enabled user, else the login name when
    it is a user; otherwise an error that lists the users and says how to choose one."""
    if ctx.user is not None:
        return acting_user(ctx, vault)
    default = vault.default_user()  # read once: it is a query
    if default is not None:
        return default
    user = login_name()
    enabled = [u.name for u in vault.users() if u.enabled]
    if user in enabled:
        return user
    more = f" and {len(enabled) - 10} more" if len(enabled) > 10 else ""
    shown = ", ".join(enabled[:10]) + more
    raise UnknownUser(
        f"this vault has {len(enabled)} users ({shown}) and none was chosen: add "
        "--user NAME, set QUESTA_VAULT_USER, or run questa-vault config set user NAME"
    )


def unlock(ctx: AppContext, vault: Vault, *, key_file: Path | None = None) -> Unlocked:
    """The reading user (``reading_user``) unlocked with the passphrase, or with a ``keygen``
    key file given here or as the global ``--key-file``: what every command that releases
    plaintext or uses a key (restore, export, show --reveal, audit --deep, grant, revoke,
    passwd, verify --deep) goes through."""
    user = reading_user(ctx, vault)
    key_file = key_file or ctx.key_file
    harden_process()  # before any secret is read: no core dump holds the key or originals
    if key_file is not None:
        if is_dash(key_file):
            ctx.claim_stdin("--key-file")
            data = read_stdin_secret("--key-file")
        else:
            try:
                data = key_file.read_bytes()
                warn_if_shared(key_file)
            except OSError as exc:
                raise InputError(f"cannot read key file {key_file}: {reason(exc)}") from exc
        return vault.unlock_with_key(user, data)
    return vault.unlock(user, ctx.passphrase(prompt=f"Passphrase for {user}", user=user))


def kdf_options(func: F) -> F:
    """``--kdf-memory``, ``--kdf-passes``, ``--kdf-lanes`` (Argon2id cost of a new key) and
    ``--unsafe-kdf`` (accept a cost below the floor: tests and demos only)."""
    func = click.option(
        "--unsafe-kdf",
        is_flag=True,
        help="Accept KDF settings below the floor (tests and demos only; recorded in the vault "
        "and shown by `user list`).",
    )(func)
    func = click.option("--kdf-lanes", type=int, help="Argon2id lanes (parallelism) [default: 4].")(
        func
    )
    func = click.option("--kdf-passes", type=int, help="Argon2id passes [default: 3].")(func)
    func = click.option(
        "--kdf-memory", type=int, metavar="KIB", help="Argon2id memory in KiB [default: 65536]."
    )(func)
    return func


def kdf_params(
    memory: int | None, passes: int | None, lanes: int | None, unsafe: bool = False
) -> KdfParams:
    """The KDF options as parameters (checked against the floor and the ceilings before any
    work; below the floor only with ``unsafe``)."""
    if memory is None and passes is None and lanes is None:
        params = crypto.default_kdf()
    elif crypto.argon2_available():
        base = crypto.KdfParams()
        params = crypto.KdfParams(
            "argon2id",
            memory if memory is not None else base.memory_kib,
            passes if passes is not None else base.passes,
            lanes if lanes is not None else base.lanes,
        )
    else:  # scrypt: N is a power of two, one pass
        n = 1 << max(1, (memory or 2**17).bit_length() - 1)
        params = crypto.KdfParams("scrypt", n, 1, lanes or 1)
    params = replace(params, unsafe=unsafe)
    params.check()
    return params
