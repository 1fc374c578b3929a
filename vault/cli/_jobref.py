"""Job ids as people type them: the short ids ``audit`` prints are accepted everywhere as
unique prefixes, and shell completion offers job ids and user names.

A prefix needs at least ``MIN_PREFIX`` characters, and an exact id always wins, so a job whose
id happens to be another's prefix stays reachable. An ambiguous prefix is an error that
names a few of the matches; nothing is guessed. Completion opens the vault the command line
names (``--vault``, else env, else the settings file, else the default) and never fails
loudly: a shell's tab key should not print tracebacks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import click

from vault.client import is_job_id
from vault.config import default_vault_path, vault_location
from vault.errors import AmbiguousJob, InputError, UnknownJob

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from vault.api import Vault

MIN_PREFIX = 4
_SHOWN = 5
TEXT_PREFIX = "text-"  # the local ids of text jobs (the service gives them none)


def unknown_job(job_id: str) -> UnknownJob:
    """The error for an id no job of this vault has (nor starts with)."""
    return UnknownJob(f"job {job_id} is not in this vault (questa-vault jobs lists its jobs)")


def resolve_job(vault: Vault, text: str, statuses: dict[str, str | None] | None = None) -> str:
    """The full id for ``text``: itself when a job has exactly that id, else the one job whose
    id starts with it. Unknown text comes back unchanged (the caller reports it). The status
    read on the way goes into ``statuses`` (a caller that checks it next reads it once)."""
    if len(text) < MIN_PREFIX:
        return text
    status = vault.job_status(text)
    if statuses is not None:
        statuses[text] = status
    if status is not None:
        return text
    matches = vault.job_ids_with_prefix(text, limit=_SHOWN + 1)
    if not matches and not text.startswith(TEXT_PREFIX):
        # A text job's id is ``text-<uuid>``: its uuid's digits alone name it too (the 8
        # characters `audit` prints of it are ``text-`` and 3 digits).
        matches = vault.job_ids_with_prefix(TEXT_PREFIX + text, limit=_SHOWN + 1)
    if len(matches) == 1:
        if not is_job_id(matches[0]):
            # not stored by this version (the store takes only valid ids): it may hold '/',
            # '..' or a control character, and is never shown or made a file name
            raise InputError(
                f"the one job whose id starts with {text} has an id that is not valid (it was "
                "not stored by this version of the tool); nothing was done"
            )
        return matches[0]
    if not matches:
        return text
    many = len(matches) > _SHOWN
    shown = ", ".join(matches[:_SHOWN]) + (", ..." if many else "")
    count = f"more than {_SHOWN}" if many else str(len(matches))
    raise AmbiguousJob(
        f"job id {text} is ambiguous: {count} jobs start with it ({shown}); give more characters"
    )


def resolve_jobs(
    vault: Vault, texts: Iterable[str], statuses: dict[str, str | None] | None = None
) -> list[str]:
    return [resolve_job(vault, t, statuses) for t in texts]


# --------------------------------------------------------------------------- shell completion

COMPLETION_LIMIT = 200  # candidates offered at most; a shell shows more than this poorly


def _complete(
    ctx: click.Context, incomplete: str, candidates: Callable[[Vault], list[str]]
) -> list[CompletionItem]:
    """Candidates from the vault the command line names; nothing on any error (no vault, a
    database that cannot be reached, ...). Opening a vault needs no secret, so nothing asks."""
    from click.shell_completion import CompletionItem  # on a tab press, as the store

    from vault.api import Vault  # the store loads on a tab press, not with the CLI

    try:
        given = ctx.find_root().params.get("vault_path")
        path = vault_location(given) if given else default_vault_path()
        with Vault.open(path) as vault:
            found = candidates(vault)
    except Exception:  # a tab press never prints a traceback or an error
        return []
    return [CompletionItem(c) for c in found if c.startswith(incomplete)][:COMPLETION_LIMIT]


def complete_job_ids(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Job ids starting with what was typed (the store's prefix lookup, in id order)."""
    return _complete(
        ctx,
        incomplete,
        lambda v: v.job_ids_with_prefix(incomplete, limit=COMPLETION_LIMIT),
    )


def complete_users(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """User names of the vault (enabled or not: ``log --user`` asks about old ones too)."""
    return _complete(ctx, incomplete, lambda v: sorted(u.name for u in v.users()))
