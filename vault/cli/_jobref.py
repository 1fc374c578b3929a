"""Job ids as people type them: the short ids ``audit`` prints are accepted everywhere as
unique prefixes, and shell completion offers job ids and user names.

A prefix needs at least ``MIN_PREFIX`` characters, and an exact id always wins, so a job whose
id happens to be another's prefix stays reachable. An ambiguous prefix is an error that
names a few of the matches; nothing is guessed. Completion opens the vault the command line
names (``--vault``, else env, else the settings file, else the default) and never fails
loudly: a shell's tab key should not print tracebacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from vault.errors import AmbiguousJob

if TYPE_CHECKING:
    from vault.keyring import Keyring

MIN_PREFIX = 4
_SHOWN = 5


def resolve_job(keyring: Keyring, text: str) -> str:
    """The full id for ``text``: itself when a job has exactly that id, else the one job whose
    id starts with it. Unknown text comes back unchanged (the caller reports it)."""
    if len(text) < MIN_PREFIX or keyring.get_job(text) is not None:
        return text
    matches = keyring.store.job_ids_with_prefix(text, limit=_SHOWN + 1)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        return text
    many = len(matches) > _SHOWN
    shown = ", ".join(matches[:_SHOWN]) + (", ..." if many else "")
    count = f"more than {_SHOWN}" if many else str(len(matches))
    raise AmbiguousJob(
        f"job id {text} is ambiguous: {count} jobs start with it ({shown}); give more characters"
    )


def resolve_jobs(keyring: Keyring, texts: Iterable[str]) -> list[str]:
    return [resolve_job(keyring, t) for t in texts]
