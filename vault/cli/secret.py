"""``secret set|delete``: keep the passphrase or the API token in the OS keyring (extra
``keyring``; see ``_secrets``), so scripts need neither a file nor an environment variable.

A passphrase is stored only after it has unlocked the user (a wrong one is never kept). The
commands read the secret from ``--from-file`` (``-``: standard input) or a hidden prompt,
never from the command line. Reading from the keyring happens only with ``keyring = true``
in the settings file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vault.cli._app import (
    AppContext,
    Group,
    api_options,
    cli,
    is_dash,
    pass_app,
    read_secret,
    require_api_url,
)
from vault.cli._common import open_vault, reading_user
from vault.cli._secrets import delete_secret, passphrase_entry, set_secret, token_entry
from vault.errors import InputError

_KINDS = click.Choice(["passphrase", "token"])


@click.group("secret", cls=Group)
def secret_group() -> None:
    """Keep the passphrase or the API token in the OS keyring (needs the keyring extra).

    Then enable reading them with `config set keyring true`. The passphrase entry is per
    vault file and user, the token entry per API URL.

    \b
    Example:
      questa-vault secret set passphrase
      questa-vault secret set token --from-file token.txt
      questa-vault config set keyring true
    """


@secret_group.command("set")
@click.argument("kind", type=_KINDS)
@click.option(
    "--from-file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Read the secret from this file, '-' for stdin (else a hidden prompt).",
)
@api_options
@pass_app
def secret_set(
    ctx: AppContext,
    kind: str,
    from_file: Path | None,
    api_url: str | None,
    token_file: Path | None,
) -> None:
    """Store the passphrase (of --user in --vault) or the API token (of --api-url).

    The passphrase is checked against the vault first; nothing is stored if it does not
    unlock the user. --token-file is the same as --from-file for a token.

    \b
    Example:
      questa-vault --user alice secret set passphrase
      printf %s "$TOKEN" | questa-vault secret set token --from-file -
    """
    source = from_file or (token_file if kind == "token" else None)
    if source is not None and is_dash(source):
        ctx.claim_stdin("--from-file")
    if kind == "token":
        url = require_api_url(api_url)
        secret = _read(source, "API token")
        set_secret(token_entry(url), secret)
        ctx.say(f"stored the API token for {url} in the OS keyring")
        return
    with open_vault(ctx) as vault:
        user = reading_user(ctx, vault)
        secret = _read(source, f"Passphrase for {user}")
        vault.unlock(user, secret)  # WrongPassphrase (exit 4): nothing is stored
    set_secret(passphrase_entry(str(ctx.vault_path), user), secret)
    ctx.say(f"stored the passphrase of {user} for {ctx.vault_path} in the OS keyring")


def _read(path: Path | None, prompt: str) -> str:
    if path is not None:
        return read_secret(path, prompt=prompt)
    if not sys.stdin.isatty():
        raise InputError("give the secret with --from-file FILE (or '-' for stdin)")
    # The prompt, not QUESTA_VAULT_PASSPHRASE: this command stores what the person types.
    return read_secret(None, prompt=prompt, use_env=False)


@secret_group.command("delete")
@click.argument("kind", type=_KINDS)
@api_options
@pass_app
def secret_delete(ctx: AppContext, kind: str, api_url: str | None, token_file: Path | None) -> None:
    """Remove the stored passphrase (of --user in --vault) or API token (of --api-url).

    \b
    Example:
      questa-vault secret delete token --api-url https://anonymizer.example.internal
    """
    if kind == "token":
        url = require_api_url(api_url)
        entry, what = token_entry(url), f"the API token for {url}"
    else:
        with open_vault(ctx) as vault:
            user = reading_user(ctx, vault)
        entry, what = passphrase_entry(str(ctx.vault_path), user), f"the passphrase of {user}"
    if delete_secret(entry):
        ctx.say(f"removed {what} from the OS keyring")
    else:
        ctx.say(f"the OS keyring held no entry for {what}")


cli.add_command(secret_group)
