"""Placeholder matching (tier L2, pure text work, no I/O).

``resolver``: a job's map (original -> placeholder) turned into a ``Resolver`` (placeholder ->
original), map problems found, several jobs merged (collisions raise ``PlaceholderCollision``
unless a job is preferred). ``matcher``: the one-pass restore of placeholders in text, strict or
lenient, with counts and unresolved positions in a ``Tally``. See ``docs/restore.md``.
"""

from __future__ import annotations

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

__all__ = [
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
