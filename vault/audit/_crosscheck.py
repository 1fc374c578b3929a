"""The deep cross-check: placeholders of a decrypted job's file against its map and the
server's entity count."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import field
from typing import Any

from vault._dataclass import dataclass
from vault.audit._table import Column, Table
from vault.documents import document_texts
from vault.errors import DocumentError
from vault.models import JobContent

# File types the cross-check reads as text; PDF, Word and Excel are read through
# ``vault.documents`` (pages, paragraphs, shared and inline strings), never byte-wise.
TEXT_FILE_TYPES: frozenset[str] = frozenset({"csv", "text"})
DOCUMENT_FILE_TYPES: frozenset[str] = frozenset({"pdf", "docx", "excel"})
# A placeholder-shaped token: "[", a label (any text without brackets or line breaks), "_",
# a number, "]". Bounded so that odd input cannot make the scan expensive.
_PLACEHOLDER = re.compile(r"\[([^\[\]\r\n]{1,200}?)_([0-9]{1,9})\]")
# The only tokens a report may name: a label of ASCII letters, digits and underscores. Any other
# placeholder-shaped token is text of the file (``[Ref: Ann Smith, AHV 756..._97]`` may hold
# personal data the service missed), so it is counted and never shown.
_NAMEABLE = re.compile(r"\[[A-Za-z][A-Za-z0-9_]{0,63}_[0-9]{1,9}\]")


@dataclass(frozen=True)
class CrossCheck:
    """Placeholders of one job's archived file compared with its map and the server's count."""

    job_id: str
    checked: bool  # False when the file type cannot be scanned (see ``reason``)
    reason: str = ""
    occurrences: int = 0  # occurrences of the map's placeholders in the file
    missing_from_map: tuple[str, ...] = ()  # placeholders the map lacks (strict shape only)
    other_tokens: int = 0  # other placeholder-shaped tokens the map lacks: counted, never shown
    unused_map_entries: tuple[str, ...] = ()  # map placeholders never seen in the file
    entity_count: int = 0  # the server's figure
    flags: tuple[str, ...] = field(default=())

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Placeholders are ASCII; latin-1 keeps every ASCII byte where it is.
        return content.decode("latin-1")


def cross_check(job: JobContent) -> CrossCheck:
    """Compare the placeholders in the archived file with the map and the server's count.

    Flags: ``missing-from-map`` (the file holds placeholder-shaped tokens the map lacks; only
    those of the strict ``[LABEL_N]`` shape are listed, the others only counted),
    ``unused-map-entries`` (the map has placeholders the file never uses) and
    ``count-mismatch`` (the server's entity_count differs from the placeholder occurrences).
    """
    if job.file_type not in TEXT_FILE_TYPES | DOCUMENT_FILE_TYPES:
        return CrossCheck(
            job_id=job.job_id,
            checked=False,
            reason=f"{job.file_type} files cannot be read; placeholders are not counted",
            entity_count=job.entity_count,
        )
    if job.content is None:
        return CrossCheck(
            job_id=job.job_id,
            checked=False,
            reason="no archived file",
            entity_count=job.entity_count,
        )
    if job.file_type in DOCUMENT_FILE_TYPES:
        try:
            # One text per paragraph, string or page: a placeholder never spans two.
            text = "\n".join(document_texts(job.content, f"job {job.job_id}"))
        except DocumentError as exc:
            return CrossCheck(
                job_id=job.job_id,
                checked=False,
                reason=f"the archived {job.file_type} file cannot be read ({exc})",
                entity_count=job.entity_count,
            )
    else:
        text = _decode(job.content)
    found: Counter[str] = Counter(m.group(0) for m in _PLACEHOLDER.finditer(text))
    known = set(job.mapping.values())
    occurrences = 0
    unused: list[str] = []
    for placeholder in sorted(known):
        # Map placeholders of an unusual shape are counted directly.
        n = found[placeholder] if _PLACEHOLDER.fullmatch(placeholder) else text.count(placeholder)
        occurrences += n
        if n == 0:
            unused.append(placeholder)
    unknown = [p for p in found if p not in known]
    missing = tuple(sorted(p for p in unknown if _NAMEABLE.fullmatch(p)))
    other_tokens = sum(found[p] for p in unknown if not _NAMEABLE.fullmatch(p))
    flags: list[str] = []
    if missing or other_tokens:
        flags.append("missing-from-map")
    if unused:
        flags.append("unused-map-entries")
    if occurrences != job.entity_count:
        flags.append("count-mismatch")
    return CrossCheck(
        job_id=job.job_id,
        checked=True,
        occurrences=occurrences,
        missing_from_map=missing,
        other_tokens=other_tokens,
        unused_map_entries=tuple(unused),
        entity_count=job.entity_count,
        flags=tuple(flags),
    )


def cross_check_to_dict(check: CrossCheck) -> dict[str, Any]:
    return {
        "job_id": check.job_id,
        "checked": check.checked,
        "reason": check.reason or None,
        "flags": list(check.flags),
        "entity_count": check.entity_count,
        "occurrences": check.occurrences,
        "missing_from_map": list(check.missing_from_map),
        "other_tokens": check.other_tokens,
        "unused_map_entries": list(check.unused_map_entries),
    }


def cross_check_lines(checks: Sequence[CrossCheck], *, width: int = 80) -> list[str]:
    """Human lines for the deep cross-check: one per job (fits ``width``), then the details of
    flagged jobs (full job ids and placeholder lists, not shortened)."""
    table = Table(
        (
            Column("JOB", 8, cut=True),
            Column("SERVER", 7, ">"),
            Column("FOUND", 7, ">"),
            Column("RESULT", gap="  "),
        ),
        width=width,
    )
    rows = (
        (c.job_id, c.entity_count, "-", f"not checked: {c.reason}")
        if not c.checked
        else (c.job_id, c.entity_count, c.occurrences, ", ".join(c.flags) if c.flags else "ok")
        for c in checks
    )
    lines = list(table.lines(rows))
    for c in checks:
        if c.missing_from_map:
            lines.append(f"{c.job_id}: not in the map: {' '.join(c.missing_from_map)}")
        if c.other_tokens:
            lines.append(
                f"{c.job_id}: not in the map: {c.other_tokens} other placeholder-shaped "
                "token(s), not shown (they may hold original text)"
            )
        if c.unused_map_entries:
            lines.append(f"{c.job_id}: never used in the file: {' '.join(c.unused_map_entries)}")
    return lines
