"""Commands that manage the vault and who can read it: ``init``, ``user``, ``keygen``,
``passwd``; and the helpers every reading command shares (``open_vault``, ``acting_user``,
``unlock_session``), so no command repeats how a vault is opened or a user unlocked.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

import vault.crypto as crypto  # a lazy package: only keygen and init need cryptography
from vault.api import Unlocked
from vault.cli._app import (
    AppContext,
    cli,
    emit_json,
    is_dash,
    json_option,
    pass_app,
    read_secret,
    read_stdin_secret,
    refuse_dash,
    table,
    utc_time,
)
from vault.cli._harden import harden_process
from vault.cli._jobref import complete_users
from vault.cli._terminal import echo, reason
from vault.custody import Custodian
from vault.errors import InputError, StoreError, UnknownUser

if TYPE_CHECKING:
    from vault.crypto import KdfParams
    from vault.custody import Session
    from vault.models import UserInfo

F = TypeVar("F", bound=Callable[..., Any])

NEW_PASSPHRASE_ENV = "QUESTA_VAULT_NEW_PASSPHRASE"  # noqa: S105  (a variable name)


# --------------------------------------------------------------------------- shared helpers


def open_vault(ctx: AppContext) -> Custodian:
    """The vault at ``--vault`` (``VaultNotFound``: "no vault at PATH: run questa-vault init")."""
    return Custodian.open(ctx.vault_path)


def login_name() -> str:
    """The operating-system login name (the last fallback for ``--user``)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def acting_user(ctx: AppContext, custodian: Custodian) -> str:
    """``--user``, else the vault's only enabled user, else the login name."""
    return ctx.user or custodian.default_user() or login_name()


def reading_user(ctx: AppContext, custodian: Custodian) -> str:
    """The user to unlock: ``--user``, else the only enabled user, else the login name when
    it is a user; otherwise an error that lists the users and says how to choose one."""
    user = acting_user(ctx, custodian)
    if ctx.user is not None or custodian.default_user() is not None:
        return user
    enabled = [u.name for u in custodian.list_users() if u.enabled]
    if user in enabled:
        return user
    more = f" and {len(enabled) - 10} more" if len(enabled) > 10 else ""
    shown = ", ".join(enabled[:10]) + more
    raise UnknownUser(
        f"this vault has {len(enabled)} users ({shown}) and none was chosen: add "
        "--user NAME, set QUESTA_VAULT_USER, or run questa-vault config set user NAME"
    )


def unlock_session(
    ctx: AppContext, custodian: Custodian, *, key_file: Path | None = None
) -> Session:
    """Unlock the reading user (``reading_user``) with the passphrase (or with a ``keygen``
    key file, given here or as the global ``--key-file``)."""
    user = reading_user(ctx, custodian)
    key_file = key_file or ctx.key_file
    harden_process()  # before any secret is read: no core dump holds the key or originals
    if key_file is not None:
        if is_dash(key_file):
            ctx.claim_stdin("--key-file")
            data = read_stdin_secret("--key-file")
        else:
            try:
                data = key_file.read_bytes()
            except OSError as exc:
                raise InputError(f"cannot read key file {key_file}: {reason(exc)}") from exc
        return custodian.unlock_with_key(user, data)
    return custodian.unlock(user, ctx.passphrase(prompt=f"Passphrase for {user}", user=user))


def unlock(ctx: AppContext, custodian: Custodian, *, key_file: Path | None = None) -> Unlocked:
    """The acting user unlocked as the API's ``Unlocked``: what every command that releases
    plaintext (restore, export, show --reveal, audit --deep) goes through."""
    return Unlocked(unlock_session(ctx, custodian, key_file=key_file))


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


# --------------------------------------------------------------------------- init


@click.command("init")
@click.option("--user", "name", help="Name of the first user (default: --user, else login name).")
@kdf_options
@json_option
@pass_app
def init_command(
    ctx: AppContext,
    name: str | None,
    kdf_memory: int | None,
    kdf_passes: int | None,
    kdf_lanes: int | None,
    unsafe_kdf: bool,
    as_json: bool,
) -> None:
    """Create the vault and its first user (asks for that user's passphrase twice).

    The file and its -wal/-shm companions are created with mode 0600; an existing vault
    is never overwritten.

    \b
    Example:
      questa-vault --vault team.db init --user alice
    """
    user = name or ctx.user or login_name()
    params = kdf_params(kdf_memory, kdf_passes, kdf_lanes, unsafe_kdf)
    Custodian.check_new(ctx.vault_path)  # before the passphrase is asked for
    passphrase = ctx.passphrase(confirm=True, prompt=f"New passphrase for {user}")
    with Custodian.create(ctx.vault_path, user=user, passphrase=passphrase, kdf=params) as kr:
        [info] = [u for u in kr.list_users() if u.name == user]
        if as_json:
            emit_json({"vault": str(kr.path), "vault_id": kr.vault_id, "user": _user_json(info)})
        ctx.say(f"created vault {kr.path} with user {user}")


# --------------------------------------------------------------------------- user


@click.group("user")
def user_group() -> None:
    """Manage who can read the vault: add, list, disable users.

    \b
    Example:
      questa-vault user add bob
      questa-vault user add recovery --public-key recovery.pub
      questa-vault user list
    """


@user_group.command("add")
@click.argument("name")
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(path_type=Path, dir_okay=False, exists=True, allow_dash=True),
    help="Add a user by public key only (PEM, as keygen prints it; '-' for stdin); no "
    "passphrase asked.",
)
@click.option(
    "--new-passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Read the new user's passphrase from FILE, '-' for stdin (else env "
    f"{NEW_PASSPHRASE_ENV}, else a prompt).",
)
@kdf_options
@json_option
@pass_app
def user_add(
    ctx: AppContext,
    name: str,
    public_key: Path | None,
    new_passphrase_file: Path | None,
    kdf_memory: int | None,
    kdf_passes: int | None,
    kdf_lanes: int | None,
    unsafe_kdf: bool,
    as_json: bool,
) -> None:
    """Add a user. New jobs are sealed to every enabled user; existing jobs need `grant`.

    Without --public-key, takes the new user's passphrase from --new-passphrase-file, else
    env QUESTA_VAULT_NEW_PASSPHRASE, else asks it twice at the terminal, and keeps the private key
    here, wrapped under it. Never from QUESTA_VAULT_PASSPHRASE or the global
    --passphrase-file: those hold the acting user's secret.

    \b
    Example:
      questa-vault user add bob
      questa-vault keygen -o recovery.key > recovery.pub
      questa-vault user add recovery --public-key recovery.pub
      questa-vault keygen -o recovery.key | questa-vault user add recovery --public-key -
    """
    if public_key is not None and new_passphrase_file is not None:
        raise click.UsageError("--public-key and --new-passphrase-file do not go together")
    with open_vault(ctx) as kr:
        actor = acting_user(ctx, kr)
        if public_key is not None:
            try:
                if is_dash(public_key):
                    ctx.claim_stdin("--public-key")
                    data = sys.stdin.buffer.read()
                else:
                    data = public_key.read_bytes()
            except OSError as exc:
                raise InputError(f"cannot read {public_key}: {exc.strerror}") from exc
            info = kr.add_public_user(name, data, actor=actor)
        else:
            params = kdf_params(kdf_memory, kdf_passes, kdf_lanes, unsafe_kdf)
            passphrase = _new_passphrase(
                ctx, new_passphrase_file, prompt=f"Passphrase for new user {name}"
            )
            info = kr.add_user(name, passphrase=passphrase, kdf=params, actor=actor)
    if as_json:
        emit_json(_user_json(info))
    ctx.say(f"added user {info.name} (key {info.fingerprint})")


@user_group.command("list")
@json_option
@pass_app
def user_list(ctx: AppContext, as_json: bool) -> None:
    """List the vault's users (no secret needed).

    \b
    Example:
      questa-vault user list --json
    """
    with open_vault(ctx) as kr:
        users = kr.list_users()
    if as_json:
        emit_json([_user_json(u) for u in users])
        return
    rows: list[tuple[str, ...]] = [
        ("NAME", "STATUS", "PRIVATE KEY", "FINGERPRINT", "CREATED (UTC)")
    ]
    rows += [
        (
            u.name,
            "enabled" if u.enabled else "disabled",
            ("in vault, UNSAFE KDF" if u.unsafe_kdf else "in vault")
            if u.has_private_key
            else "offline",
            u.fingerprint,
            utc_time(u.created_at),
        )
        for u in users
    ]
    table(rows)


@user_group.command("disable")
@click.argument("name", shell_complete=complete_users)
@json_option
@pass_app
def user_disable(ctx: AppContext, name: str, as_json: bool) -> None:
    """Disable a user: no new job is sealed to them and they cannot unlock.

    Their grants stay in the vault (a disabled user cannot use them); `revoke` removes them
    and re-keys the jobs.

    \b
    Example:
      questa-vault user disable bob
    """
    with open_vault(ctx) as kr:
        kr.disable_user(name, actor=acting_user(ctx, kr))
        [info] = [u for u in kr.list_users() if u.name == name]
    if as_json:
        emit_json(_user_json(info))
    ctx.say(f"disabled user {name}")


# --------------------------------------------------------------------------- keygen


@click.command("keygen")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    callback=refuse_dash(
        "stdout carries the public key, and a private key belongs in a 0600 file, not in a "
        "pipe, a terminal's scrollback or a log"
    ),
    help="Private key file to write (mode 0600; never overwritten; not '-').",
)
@json_option
@pass_app
def keygen_command(ctx: AppContext, output: Path, as_json: bool) -> None:
    """Make an X25519 key pair: write the private key to FILE, print the public key.

    Keep the private key off this machine (an offline recovery key); give the public key
    to `user add NAME --public-key`.

    \b
    Example:
      questa-vault keygen -o recovery.key > recovery.pub
    """
    private, public = crypto.generate_keypair()
    try:
        fd = os.open(output, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError as exc:
        raise InputError(f"{output} already exists; refusing to overwrite it") from exc
    except OSError as exc:
        raise StoreError(f"cannot create {output}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(crypto.private_key_pem(private))
        fh.flush()
        os.fsync(fh.fileno())
    pem = crypto.public_key_pem(public).decode("ascii")
    if as_json:
        emit_json({"private_key_file": str(output), "public_key_pem": pem})
    else:
        echo(pem, nl=False)
    ctx.say(f"wrote private key {output} (mode 0600)")


# --------------------------------------------------------------------------- passwd


@click.command("passwd")
@click.option(
    "--new-passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Read the new passphrase from FILE, '-' for stdin (else env "
    f"{NEW_PASSPHRASE_ENV}, else a prompt).",
)
@kdf_options
@json_option
@pass_app
def passwd_command(
    ctx: AppContext,
    new_passphrase_file: Path | None,
    kdf_memory: int | None,
    kdf_passes: int | None,
    kdf_lanes: int | None,
    unsafe_kdf: bool,
    as_json: bool,
) -> None:
    """Change the user's passphrase (the current one is asked first).

    \b
    Example:
      questa-vault --user alice passwd
    """
    params = kdf_params(kdf_memory, kdf_passes, kdf_lanes, unsafe_kdf)
    with open_vault(ctx) as kr:
        session = unlock_session(ctx, kr)
        new = _new_passphrase(ctx, new_passphrase_file)
        session.change_passphrase(new, params)
    if as_json:
        emit_json({"user": session.user, "changed": True, "kdf": params.algorithm})
    ctx.say(f"changed the passphrase of {session.user}")


def _user_json(u: UserInfo) -> dict[str, object]:
    """A user as JSON: the keys of ``user list --json``."""
    return {
        "name": u.name,
        "enabled": u.enabled,
        "has_private_key": u.has_private_key,
        "unsafe_kdf": u.unsafe_kdf,
        "fingerprint": u.fingerprint,
        "created_at": u.created_at,
    }


def _new_passphrase(ctx: AppContext, path: Path | None, *, prompt: str = "New passphrase") -> str:
    """A passphrase to set (``passwd``, ``user add``): ``--new-passphrase-file``, else env
    QUESTA_VAULT_NEW_PASSPHRASE, else a hidden prompt twice. Never QUESTA_VAULT_PASSPHRASE or
    the global ``--passphrase-file``: they hold the acting user's secret, and taking it
    silently would wrap the new key under that secret. With QUESTA_VAULT_PASSPHRASE set (a
    script) or no terminal, a missing new passphrase is refused rather than prompted for."""
    if path is not None:
        if is_dash(path) and str(ctx.passphrase_file) == "-":
            raise click.UsageError("the current and the new passphrase cannot both come from stdin")
        return read_secret(path, prompt=prompt)
    value = os.environ.get(NEW_PASSPHRASE_ENV)
    if value is not None:
        if not value:
            raise InputError("the new passphrase is empty")
        return value
    hint = f"give the new passphrase with --new-passphrase-file or {NEW_PASSPHRASE_ENV}"
    if os.environ.get("QUESTA_VAULT_PASSPHRASE") is not None:
        raise InputError(f"{hint}: the current passphrase is not reused for it")
    if not sys.stdin.isatty():
        raise InputError(f"{hint} (no terminal to ask it at)")
    return read_secret(None, confirm=True, prompt=prompt)


for _command in (init_command, user_group, keygen_command, passwd_command):
    cli.add_command(_command)

__all__ = [
    "acting_user",
    "kdf_options",
    "kdf_params",
    "login_name",
    "open_vault",
    "reading_user",
    "unlock",
    "unlock_session",
]
