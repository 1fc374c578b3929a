"""Placeholder matching (tier L2, pure text work, no I/O).

``resolver``: a job's map (original -> placeholder) turned into a ``Resolver`` (placeholder ->
original), map problems found, several jobs merged (collisions raise ``PlaceholderCollision``
unless a job is preferred). ``matcher``: the one-pass restore of placeholders in text, strict or
lenient, with counts and unresolved positions in a ``Tally``. See ``docs/restore.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault._lazy import lazy_exports

# Imported on first use (see vault._lazy): the matcher compiles its patterns at import, which
# only a restore needs, not every command that opens a vault.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Escape": "vault.placeholders._matcher",
        "LOOKALIKE_CLOSING": "vault.placeholders._tokens",
        "LOOKALIKE_OPENING": "vault.placeholders._tokens",
        "MAX_LISTED": "vault.placeholders._matcher",
        "MIN_CANDIDATE": "vault.placeholders._matcher",
        "Matcher": "vault.placeholders._matcher",
        "Reason": "vault.placeholders._matcher",
        "SHAPE": "vault.placeholders._matcher",
        "Tally": "vault.placeholders._matcher",
        "labels_of": "vault.placeholders._matcher",
        "line_column": "vault.placeholders._matcher",
        "MapProblem": "vault.placeholders._resolver",
        "ProblemKind": "vault.placeholders._resolver",
        "Resolver": "vault.placeholders._resolver",
        "invert_map": "vault.placeholders._resolver",
        "merge_resolvers": "vault.placeholders._resolver",
        "placeholder_type": "vault.placeholders._resolver",
    },
)

if TYPE_CHECKING:
    from vault.placeholders._matcher import (
        MAX_LISTED,
        MIN_CANDIDATE,
        SHAPE,
        Escape,
        Matcher,
        Reason,
        Tally,
        labels_of,
        line_column,
    )
    from vault.placeholders._resolver import (
        MapProblem,
        ProblemKind,
        Resolver,
        invert_map,
        merge_resolvers,
        placeholder_type,
    )
    from vault.placeholders._tokens import LOOKALIKE_CLOSING, LOOKALIKE_OPENING

__all__ = [
    "LOOKALIKE_CLOSING",
    "LOOKALIKE_OPENING",
    "MAX_LISTED",
    "MIN_CANDIDATE",
    "SHAPE",
    "Escape",
    "MapProblem",
    "Matcher",
    "ProblemKind",
    "Reason",
    "Resolver",
    "Tally",
    "invert_map",
    "labels_of",
    "line_column",
    "merge_resolvers",
    "placeholder_type",
]
