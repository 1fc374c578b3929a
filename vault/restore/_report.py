"""What a restore run did, as data: counts, unresolved placeholders with positions, map problems.

No original value ever enters a report: placeholders are not PII, so they are listed by their
text; originals are only counted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import field
from functools import cached_property
from itertools import filterfalse
from typing import Any

from vault._dataclass import dataclass
from vault.placeholders import MapProblem, Matcher, Reason, Resolver, Tally, placeholder_type


@dataclass(frozen=True)
class UnresolvedPlaceholder:
    """A placeholder left in the output, where it is (1-based line and column), and why.

    In a DOCX, XLSX or PDF ``location`` says where instead (``word/document.xml paragraph 3``,
    ``Sheet1!B7``, ``page 2 line 4``), and line and column are 0.
    """

    placeholder: str
    line: int
    column: int
    # "unknown" (not in any map), "ambiguous", "outside-string" (JSON), "mangled", "outside-text"
    # (DOCX/XLSX: left where restore does not write, such as an attribute or a formula)
    reason: Reason
    location: str = ""

    @property
    def where(self) -> str:
        return self.location or f"{self.line}:{self.column}"


@dataclass(frozen=True)
class RestoreReport:
    """The outcome of one restore; ``to_dict`` is the ``--report`` JSON.

    Built from the counts of what was restored: the totals per type and the list of unused map
    entries are computed when first read (``unused_count`` never lists them), so a run over a
    large map pays for the entries it used, not for the whole map.
    """

    format: str
    encoding: str
    job_ids: tuple[str, ...]
    lenient: bool
    found: int
    restored: int
    restored_counts: Mapping[str, int]  # placeholder -> times restored (placeholders only)
    repaired: int
    unresolved_count: int
    unresolved_by_reason: Mapping[str, int]
    unresolved: tuple[UnresolvedPlaceholder, ...]  # the first ones, with positions
    problems: tuple[MapProblem, ...]
    format_reason: str = ""  # how the format was decided ("by content: ...", "given ...")
    neutralized: int = 0  # CSV cells prefixed with ' (--neutralize-formulas)
    quoted: int = 0  # CSV fields quoted because a restored value needed it
    bytes_in: int = 0
    bytes_out: int = 0
    warnings: tuple[str, ...] = ()  # e.g. a DOCX/XLSX with macros (copied, never run)
    # the map's placeholders in map order (a keys view: never an original), for ``unused``
    map_placeholders: Collection[str] = field(default=(), repr=False, compare=False)

    @cached_property
    def restored_by_type(self) -> Mapping[str, int]:
        """Times restored per type (label), from the counts of the placeholders used."""
        return by_type(self.restored_counts)

    @cached_property
    def unused(self) -> tuple[str, ...]:
        """Map placeholders never seen in the input, in the map's order."""
        return tuple(filterfalse(self.restored_counts.__contains__, self.map_placeholders))

    @property
    def unused_count(self) -> int:
        """How many map placeholders were never seen, without listing them (the counts hold
        placeholders of the map only: ``Tally.counts``)."""
        return len(self.map_placeholders) - len(self.restored_counts)

    @property
    def unknown(self) -> int:
        """Placeholder-shaped tokens not in any given map."""
        return self.unresolved_by_reason.get("unknown", 0)

    @property
    def complete(self) -> bool:
        """True when no placeholder was left unresolved."""
        return self.unresolved_count == 0

    def log_counts(self) -> dict[str, int]:
        """Counts for the access-log entry (never values)."""
        counts = {
            "found": self.found,
            "restored": self.restored,
            "repaired": self.repaired,
            "unresolved": self.unresolved_count,
        }
        counts.update({f"restored:{k}": v for k, v in sorted(self.restored_by_type.items())})
        return counts

    def log_counts_by_job(self, resolver: Resolver) -> dict[str, dict[str, int]]:
        """One access-log entry's counts per job of a run over ``resolver`` (one job's, or
        several merged by ``merge_resolvers``): ``restored`` and ``restored:TYPE`` count the
        values taken from that job's map (a placeholder meaning the same original in two jobs
        counts in both: both hold it), never another job's; ``found``, ``repaired`` and
        ``unresolved`` are the document's, and ``jobs`` says how many jobs the run used.
        A run over one job gets ``log_counts`` unchanged."""
        job_ids = resolver.job_ids
        if len(job_ids) <= 1 or not resolver.parts:
            return dict.fromkeys(job_ids, self.log_counts())
        used = self.restored_counts
        winner = resolver.originals  # the meaning the run used (the preferred job's first)
        per_job: dict[str, dict[str, int]] = {}
        for part in resolver.parts:
            originals = part.originals
            own = {
                p: n for p, n in used.items() if p in originals and originals[p] == winner.get(p)
            }
            counts = {
                "found": self.found,
                "restored": sum(own.values()),
                "repaired": self.repaired,
                "unresolved": self.unresolved_count,
                "jobs": len(job_ids),
            }
            counts.update({f"restored:{k}": v for k, v in sorted(by_type(own).items())})
            for job_id in part.job_ids:
                per_job[job_id] = counts
        return per_job

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "format_reason": self.format_reason,
            "encoding": self.encoding,
            "jobs": list(self.job_ids),
            "lenient": self.lenient,
            "found": self.found,
            "restored": self.restored,
            "restored_by_type": dict(sorted(self.restored_by_type.items())),
            "repaired": self.repaired,
            "unresolved_count": self.unresolved_count,
            "unresolved_by_reason": dict(sorted(self.unresolved_by_reason.items())),
            "unresolved": [
                {
                    "placeholder": u.placeholder,
                    "line": u.line,
                    "column": u.column,
                    "reason": u.reason,
                    **({"location": u.location} if u.location else {}),
                }
                for u in self.unresolved
            ],
            "unused": list(self.unused),
            "map_problems": [
                {"kind": p.kind, "job": p.job_id, "placeholders": list(p.placeholders)}
                for p in self.problems
            ],
            "neutralized": self.neutralized,
            "quoted": self.quoted,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "warnings": list(self.warnings),
        }

    def summary(self) -> list[str]:
        """A few human lines for stderr."""
        types = ", ".join(f"{k} {v}" for k, v in sorted(self.restored_by_type.items()))
        lines = [f"warning: {w}" for w in self.warnings]
        lines += [
            f"restored {self.restored} of {plural(self.found, 'placeholder')} found"
            + (f" ({types})" if types else "")
            + (f"; {self.repaired} repaired (lenient)" if self.repaired else "")
        ]
        if self.unresolved_count:
            shown = ", ".join(
                f"{u.placeholder} at {u.where}"
                + ("" if u.reason == "unknown" else f" ({u.reason})")
                for u in self.unresolved[:5]
            )
            more = self.unresolved_count - min(5, len(self.unresolved))
            lines.append(
                f"{self.unresolved_count} left unresolved: {shown}"
                + (f" and {more} more" if more else "")
            )
            outside = self.unresolved_by_reason.get("outside-string", 0)
            if outside:
                lines.append(
                    f"{plural(outside, 'placeholder')} outside any JSON string: if the input is "
                    "not JSON (a chat answer with prose or ``` fences), restore it with "
                    "--format text"
                )
            mangled = self.unresolved_by_reason.get("mangled", 0)
            if mangled:
                lines.append(
                    f"{plural(mangled, 'placeholder')} written in a mangled form: "
                    f"try --lenient to repair {'it' if mangled == 1 else 'them'}"
                )
        unused = self.unused_count
        if unused:
            lines.append(f"{plural(unused, 'map entry', 'map entries')} not used")
        lines.extend(f"map problem: {p.describe()}" for p in self.problems)
        if self.neutralized:
            cells = plural(self.neutralized, "cell")
            lines.append(f"{cells} starting like a formula prefixed with '")
        return lines


def plural(count: int, singular: str, many: str | None = None) -> str:
    """`1 placeholder`, `2 placeholders`."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def by_type(counts: Mapping[str, int]) -> dict[str, int]:
    """Restored counts per placeholder -> per type (`[PERSON_NAME_1]` counts as PERSON_NAME).

    Types appear in first-seen order. The common case, every placeholder `[LABEL_N]` with a
    label free of ASCII digits and `]`, is done with a few C-level passes over the joined
    placeholders (no regex: a pattern over tens of thousands of them cost more than the rest
    of the report); anything else goes through ``placeholder_type`` one by one.
    """
    totals: dict[str, int] = {}
    get = totals.get
    n = len(counts)
    if not n:
        return totals
    joined = "\n".join(counts)
    # each placeholder without its digits and its "]": "[PERSON_NAME_1]" -> "[PERSON_NAME_"
    heads_joined = joined.translate(_HEAD)
    heads = heads_joined.split("\n")
    if len(heads) == n and _plain(counts, joined, heads_joined, heads):
        for head, count in zip(heads, counts.values(), strict=True):
            totals[head] = get(head, 0) + count
        return {head[1:-1]: count for head, count in totals.items()}
    for placeholder, count in counts.items():
        kind = placeholder_type(placeholder)
        totals[kind] = get(kind, 0) + count
    return totals


def _plain(counts: Mapping[str, int], joined: str, heads_joined: str, heads: list[str]) -> bool:
    """Whether every placeholder is ``head + digits + "]"`` with a non-empty label, so that
    ``head[1:-1]`` is its ``placeholder_type``. ``joined`` holds no line break inside a
    placeholder (the caller checked the count of the split)."""
    lines = len(heads) - 1
    return (
        joined.startswith("[")  # every placeholder starts with "[" ...
        and joined.count("\n[") == lines
        and joined.endswith("]")  # ... and holds one "]", its last character
        and joined.count("]") == lines + 1
        and joined.count("]\n") == lines
        and "_]" not in joined  # a number before the "]"
        and heads_joined.endswith("_")  # an "_" before the number (digits and "]" removed)
        and heads_joined.count("_\n") == lines
        and "\n[_\n" not in f"\n{heads_joined}\n"  # a label before the "_"
        and all(map(str.startswith, counts, heads))  # the label holds no digit or "]"
    )


_HEAD = str.maketrans("", "", "0123456789]")


def report_of(
    matcher: Matcher,
    tally: Tally,
    unresolved: Iterable[UnresolvedPlaceholder],
    *,
    format: str,
    format_reason: str = "",
    encoding: str = "utf-8",
    bytes_in: int = 0,
    bytes_out: int = 0,
    neutralized: int = 0,
    quoted: int = 0,
    warnings: tuple[str, ...] = (),
) -> RestoreReport:
    """The report of one run over ``matcher``: every format builds it here, from the counts of
    what was restored (per type and unused are derived from them when first read)."""
    counts = matcher.restored_counts()
    restored = sum(counts.values())
    return RestoreReport(
        format=format,
        format_reason=format_reason,
        encoding=encoding,
        job_ids=matcher.resolver.job_ids,
        lenient=matcher.lenient,
        found=restored + tally.unresolved_count,
        restored=restored,
        restored_counts=counts,
        repaired=tally.repaired,
        unresolved_count=tally.unresolved_count,
        unresolved_by_reason=dict(tally.reasons),
        unresolved=tuple(unresolved),
        problems=matcher.problems,
        neutralized=neutralized,
        quoted=quoted,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        warnings=warnings,
        map_placeholders=matcher.resolver.originals.keys(),
    )
