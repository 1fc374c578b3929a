"""Commands that manage the vault and who can read it: ``init``, ``user``, ``keygen``,
``passwd`` (the helpers they share with other commands are in ``_common``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

import vault.crypto as crypto  # a lazy package: only keygen and init need cryptography
from vault.api import Vault
from vault.cli._app import (
    AppContext,
    Command,
    Group,
    cli,
    emit_json,
    is_dash,
    json_option,
    pass_app,
    read_secret,
    refuse_dash,
    table,
    utc_time,
)
from vault.cli._common import acting_user, kdf_options, kdf_params, login_name, open_vault, unlock
from vault.cli._jobref import complete_users
from vault.cli._terminal import echo
from vault.errors import InputError, StoreError

if TYPE_CHECKING:
    from vault.models import UserInfo

NEW_PASSPHRASE_ENV = "QUESTA_VAULT_NEW_PASSPHRASE"  # noqa: S105  (a variable name)


# --------------------------------------------------------------------------- init


@click.command("init", cls=Command)
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
    Vault.check_new(ctx.vault_path)  # before the passphrase is asked for
    passphrase = _warn_if_short(
        ctx, ctx.passphrase(confirm=True, prompt=f"New passphrase for {user}"), unsafe=unsafe_kdf
    )
    with Vault.create(ctx.vault_path, user=user, passphrase=passphrase, kdf=params) as v:
        [info] = [u for u in v.users() if u.name == user]
        if as_json:
            emit_json({"vault": str(v.path), "vault_id": v.vault_id, "user": _user_json(info)})
        ctx.say(f"created vault {v.path} with user {user}")


# --------------------------------------------------------------------------- user


@click.group("user", cls=Group)
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
    with open_vault(ctx) as v:
        actor = acting_user(ctx, v)
        v.custodian.check_may_change("user-add", actor)  # before a passphrase is asked for
        if any(u.name == name for u in v.users()):  # before a passphrase is asked for
            raise InputError(f"user {name} already exists")
        if public_key is not None:
            try:
                if is_dash(public_key):
                    ctx.claim_stdin("--public-key")
                    data = sys.stdin.buffer.read()
                else:
                    data = public_key.read_bytes()
            except OSError as exc:
                raise InputError(f"cannot read {public_key}: {exc.strerror}") from exc
            info = v.add_public_user(name, data, actor=actor)
        else:
            params = kdf_params(kdf_memory, kdf_passes, kdf_lanes, unsafe_kdf)
            passphrase = _new_passphrase(
                ctx,
                new_passphrase_file,
                unsafe=unsafe_kdf,
                prompt=f"Passphrase for new user {name}",
            )
            info = v.add_user(name, passphrase=passphrase, kdf=params, actor=actor)
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
    with open_vault(ctx) as v:
        users = v.users()
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
@click.option(
    "--force",
    is_flag=True,
    help="Also when NAME is the only enabled reader of a job (it becomes unreadable for good).",
)
@json_option
@pass_app
def user_disable(ctx: AppContext, name: str, force: bool, as_json: bool) -> None:
    """Disable a user: no new job is sealed to them and they cannot unlock. Cannot be undone.

    Their grants stay in the vault (a disabled user cannot use them); `revoke` removes them
    and re-keys the jobs. Refused when NAME is the only enabled reader of a job (naming the
    jobs: grant them to someone first), unless --force.

    \b
    Example:
      questa-vault user disable bob
    """
    with open_vault(ctx) as v:
        changed = v.disable_user(name, actor=acting_user(ctx, v), force=force)
        [info] = [u for u in v.users() if u.name == name]
    if as_json:
        emit_json(_user_json(info))
    ctx.say(f"disabled user {name}" if changed else f"user {name} was already disabled")


# --------------------------------------------------------------------------- keygen


@click.command("keygen", cls=Command)
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


@click.command("passwd", cls=Command)
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
    with open_vault(ctx) as v:
        unlocked = unlock(ctx, v)
        new = _new_passphrase(ctx, new_passphrase_file, unsafe=unsafe_kdf)
        unlocked.change_passphrase(new, params)
    if as_json:
        emit_json({"user": unlocked.user, "changed": True, "kdf": params.algorithm})
    ctx.say(f"changed the passphrase of {unlocked.user}")


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


SHORT_PASSPHRASE = 12  # characters; below this a new passphrase gets a warning


def _warn_if_short(ctx: AppContext, secret: str, *, unsafe: bool) -> str:
    """A new passphrase, with a warning on stderr when it is short: the key derivation slows
    guessing down, it cannot make a short passphrase safe. Never refused; no warning with
    --unsafe-kdf (tests and demos, which accept weak settings on purpose)."""
    if len(secret) < SHORT_PASSPHRASE and not unsafe:
        ctx.say(
            f"warning: the new passphrase has only {len(secret)} characters; anyone holding "
            f"the vault file can try to guess it: use {SHORT_PASSPHRASE} or more "
            "(a phrase of several words)"
        )
    return secret


def _new_passphrase(
    ctx: AppContext, path: Path | None, *, unsafe: bool, prompt: str = "New passphrase"
) -> str:
    """A passphrase to set (``passwd``, ``user add``): ``--new-passphrase-file``, else env
    QUESTA_VAULT_NEW_PASSPHRASE, else a hidden prompt twice. Never QUESTA_VAULT_PASSPHRASE or
    the global ``--passphrase-file``: they hold the acting user's secret, and taking it
    silently would wrap the new key under that secret. With QUESTA_VAULT_PASSPHRASE set (a
    script) or no terminal, a missing new passphrase is refused rather than prompted for."""
    if path is not None:
        if is_dash(path) and str(ctx.passphrase_file) == "-":
            raise click.UsageError("the current and the new passphrase cannot both come from stdin")
        return _warn_if_short(ctx, read_secret(path, prompt=prompt), unsafe=unsafe)
    value = os.environ.get(NEW_PASSPHRASE_ENV)
    if value is not None:
        if not value:
            raise InputError("the new passphrase is empty")
        return _warn_if_short(ctx, value, unsafe=unsafe)
    hint = f"give the new passphrase with --new-passphrase-file or {NEW_PASSPHRASE_ENV}"
    if os.environ.get("QUESTA_VAULT_PASSPHRASE") is not None:
        raise InputError(f"{hint}: the current passphrase is not reused for it")
    if not sys.stdin.isatty():
        raise InputError(f"{hint} (no terminal to ask it at)")
    return _warn_if_short(ctx, read_secret(None, confirm=True, prompt=prompt), unsafe=unsafe)


for _command in (init_command, user_group, keygen_command, passwd_command):
    cli.add_command(_command)
