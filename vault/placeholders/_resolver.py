"""Maps turned around: one job's map (original -> placeholder) into a ``Resolver``
(placeholder -> original), its problems found, and several jobs' resolvers merged.

A placeholder with two originals is *ambiguous*: never restored, and reported. An original that
itself holds a placeholder-shaped text is reported and restored as written. A placeholder
meaning different originals in different jobs is a collision (``PlaceholderCollision``) unless
one job is preferred. Problems and errors name placeholders and jobs, never an original.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from functools import cached_property
from typing import Literal

from vault._dataclass import dataclass
from vault.errors import InputError, PlaceholderCollision

_ANY_SHAPE = re.compile(r"\[[^\[\]\n]{1,200}_\d{1,18}\]")

ProblemKind = Literal["ambiguous", "looks-like-placeholder", "unmatchable", "lenient-ambiguous"]


@dataclass(frozen=True)
class MapProblem:
    """Something wrong with a map; names placeholders and the job, never an original."""

    kind: ProblemKind
    job_id: str
    placeholders: tuple[str, ...]

    def describe(self) -> str:
        names = ", ".join(self.placeholders[:5])
        more = f" and {len(self.placeholders) - 5} more" if len(self.placeholders) > 5 else ""
        what = {
            "ambiguous": "stand(s) for two or more originals; left unrestored",
            "looks-like-placeholder": "has an original that looks like a placeholder; "
            "restored as written",
            "unmatchable": "contain(s) brackets or a line break inside; never matched",
            "lenient-ambiguous": "differ only in case or separators; lenient mode does not "
            "repair them",
        }[self.kind]
        return f"job {self.job_id}: {names}{more} {what}"


@dataclass(frozen=True)
class Resolver:
    """Placeholder -> original for one job or several merged jobs."""

    originals: Mapping[str, str] = field(repr=False)  # never in a repr (tracebacks, logs)
    job_ids: tuple[str, ...]
    ambiguous: frozenset[str] = frozenset()
    problems: tuple[MapProblem, ...] = ()
    longest: int = -1  # length of the longest placeholder (computed when not given)
    # the one-job resolvers ``merge_resolvers`` merged into this one (empty for one job): the
    # access log credits each job with the values taken from its own map
    parts: tuple[Resolver, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.longest < 0:
            longest = max(map(len, self.originals), default=0)
            object.__setattr__(self, "longest", longest)

    @cached_property
    def placeholder_of(self) -> Mapping[str, str] | None:
        """Original -> placeholder when no two placeholders share an original, else None.
        Built when first asked for (CSV counts originals), in C: a text restore never pays a
        pass over a large map for it."""
        forward = dict(zip(self.originals.values(), self.originals, strict=True))
        return forward if len(forward) == len(self.originals) else None

    @property
    def unique_originals(self) -> bool:
        """Whether no two placeholders share an original."""
        return self.placeholder_of is not None

    def __len__(self) -> int:
        return len(self.originals)


def placeholder_type(placeholder: str) -> str:
    """`[PERSON_NAME_1]` -> `PERSON_NAME` (the label; the whole text when it has no number)."""
    inner = placeholder[1:-1] if placeholder[:1] == "[" and placeholder[-1:] == "]" else placeholder
    label, sep, number = inner.rpartition("_")
    return label if sep and number.isdigit() and label else inner


def _matchable(placeholder: str) -> bool:
    return (
        len(placeholder) >= 3
        and placeholder[0] == "["
        and placeholder[-1] == "]"
        and not any(c in placeholder[1:-1] for c in "[]\n")
    )


def invert_map(mapping: Mapping[str, str], job_id: str) -> Resolver:
    """Invert one job's map (original -> placeholder) and find its problems.

    A map of 100,000 entries is inverted on every restore that names its job, so the common
    case (every placeholder once, all matchable, no original holding a ``[``) is checked with
    a few C-level passes (``dict``/``zip``, counts over the joined placeholders); anything else
    takes the entry-by-entry path, which gives the same resolver."""
    seen = dict(zip(mapping.values(), mapping, strict=True))  # the last original wins
    if len(seen) == len(mapping) and _all_matchable(seen) and _no_bracket(seen.values()):
        return Resolver(seen, (job_id,))
    return _invert_slowly(mapping, job_id)


def _all_matchable(placeholders: Mapping[str, str]) -> bool:
    """Whether ``_matchable`` holds for every placeholder: counted over them all joined with
    line breaks (a placeholder holding a line break changes the count of lines)."""
    n = len(placeholders)
    if not n:
        return True
    joined = "\n".join(placeholders)
    lines = n - 1
    return (
        joined.count("\n") == lines  # no line break inside a placeholder
        and joined.startswith("[")  # each starts with "[" and ends with "]": the first, the
        and joined.endswith("]")  # last, and every line break between "]" and "[" (two
        and joined.count("]\n[") == lines  # occurrences of "]\n[" cannot overlap)
        and joined.count("[") == n  # no other bracket inside
        and joined.count("]") == n
        and "[]" not in joined  # something between the brackets
    )


def _no_bracket(originals: Iterable[str]) -> bool:
    """Whether no original holds a ``[`` (then none looks like a placeholder)."""
    return "[" not in "".join(originals)


def _invert_slowly(mapping: Mapping[str, str], job_id: str) -> Resolver:
    seen: dict[str, str] = {}
    ambiguous: set[str] = set()
    for original, placeholder in mapping.items():
        if placeholder in seen and seen[placeholder] != original:
            ambiguous.add(placeholder)
        seen[placeholder] = original
    unmatchable = {p for p in seen if not _matchable(p)}
    looks = {p for p, o in seen.items() if p not in ambiguous and _ANY_SHAPE.search(o)}
    found: list[tuple[ProblemKind, set[str]]] = [
        ("ambiguous", ambiguous),
        ("unmatchable", unmatchable),
        ("looks-like-placeholder", looks),
    ]
    problems = tuple(
        MapProblem(kind, job_id, tuple(sorted(names))) for kind, names in found if names
    )
    originals = {p: o for p, o in seen.items() if p not in ambiguous and p not in unmatchable}
    return Resolver(originals, (job_id,), frozenset(ambiguous), problems)


def merge_resolvers(resolvers: Sequence[Resolver], *, prefer: str | None = None) -> Resolver:
    """One resolver for several jobs.

    A placeholder that means different originals in different jobs is a collision: raise
    ``PlaceholderCollision`` naming the placeholders, unless ``prefer`` names the job whose
    meaning wins.
    """
    job_ids = tuple(j for r in resolvers for j in r.job_ids)
    if prefer is not None and prefer not in job_ids:
        raise InputError(f"--prefer {prefer}: not one of the jobs given")
    if len(resolvers) == 1:
        return resolvers[0]
    # The preferred job goes first, so its meaning is the one kept.
    ordered = sorted(resolvers, key=lambda r: prefer not in r.job_ids)
    merged: dict[str, str] = {}
    preferred: set[str] = set(ordered[0].originals) if prefer is not None else set()
    collisions: set[str] = set()
    ambiguous: set[str] = set()
    for resolver in ordered:
        ambiguous |= resolver.ambiguous
        for placeholder, original in resolver.originals.items():
            known = merged.setdefault(placeholder, original)
            if known != original and placeholder not in preferred:
                collisions.add(placeholder)
    if collisions:
        names = sorted(collisions)
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        raise PlaceholderCollision(
            f"{len(names)} {'placeholder means' if len(names) == 1 else 'placeholders mean'} "
            "different originals in jobs "
            f"{', '.join(job_ids)}: {shown}; choose the job that wins with --prefer JOB"
        )
    ambiguous -= preferred
    for placeholder in ambiguous:
        merged.pop(placeholder, None)
    problems = tuple(p for r in resolvers for p in r.problems)
    return Resolver(merged, job_ids, frozenset(ambiguous), problems, parts=tuple(resolvers))
