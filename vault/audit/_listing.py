"""The audit listing (every job as a table, CSV or JSON) written from pieces SQLite formats.

``table_lines``, ``csv_rows`` and ``report_to_dict`` define what a listing looks like; for a
100,000-job vault they cost several times what SQLite needs to produce the same columns. This
module writes the same bytes from one SELECT that filters, orders and formats the fixed
columns inside SQLite (``db.audit.listing_rows``); Python only joins the pieces and formats what
SQLite would write differently: each distinct ``entity_counts`` text is parsed once (with the
same parser as the ordinary path), and the JSON times are written by Python.

It is an optimisation, never a second definition: each function returns None, and the caller
renders the ordinary way, whenever a piece is NULL (SQLite could not format a value as Python
would) or the text holds anything beyond a conservative set of characters (so no CSV quoting,
no JSON escape, no control character and no cell that begins like a formula can be involved).
Errors in the data (a damaged row) are left to the ordinary path, which reports them.
``tests/test_report_listing.py`` compares both paths byte for byte on generated vaults.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

from vault.audit._render import (
    CSV_FIXED_COLUMNS,
    TABLE_HEAD,
    TABLE_WIDTH,
    count_lines,
    json_document_parts,
    report_to_dict,
    table_lines,
)
from vault.audit._totals import AuditListing, AuditQuery, AuditTotals, _sorted_counts
from vault.errors import IntegrityError, StoreError
from vault.models import JOB_STATUSES
from vault.store import Database, JobTotalsRow, ListingKind, ListingRows

_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
# Entity types that need no CSV quoting, no escaping and no formula neutralization.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_]+\Z")
# Characters (besides letters and digits) a plain listing's formatted columns may hold.
_TABLE_PUNCT = b" -:_."
_CSV_PUNCT = b",-:_."
_CONTROL = bytes(range(32)) + b"\x7f"
_INT64 = 2**63


def fast_listing(db: Database, query: AuditQuery, fmt: str) -> list[str] | None:
    """The whole ``audit --format fmt`` listing as the CLI prints it (``table``, ``csv`` or
    ``json``, every job), or None when the ordinary renderers must write it."""
    kind: ListingKind
    if fmt == "table":
        kind = "table"
    elif fmt == "csv":
        kind = "csv"
    elif fmt == "json":
        kind = "json"
    else:
        return None
    filters: dict[str, Any] = {
        "since": query.since,
        "until": query.until,
        "statuses": query.statuses,
        "file_types": query.file_types,
    }
    body: str | None = None
    try:
        with db.read():  # one snapshot
            if kind == "csv":
                return _csv(db, filters)
            if kind == "json":
                rows, body = db.audit.listing_json(**filters)
                texts = db.audit.listing_counts(**filters) if body is not None else None
            else:
                rows = db.audit.listing_rows(kind, **filters)
    except (StoreError, IntegrityError):
        return None  # the ordinary path reads the same rows and reports the problem
    # The counts text is the last column of every kind of row; or each job's, counted here
    # (a Counter of the texts costs half of a GROUP BY, which sorts them).
    uses = Counter(map(itemgetter(-1), rows.rows)) if body is None else Counter(texts or ())
    parsed = _parse_counts(uses)
    if parsed is None:
        return None
    totals = _totals(rows.groups, uses, parsed)
    listing = AuditListing(query=query, jobs=(), totals=totals)
    if kind == "table":
        return _table(rows, parsed, listing)
    return _json(rows, parsed, listing, body)


def _parse_counts(uses: Collection[str]) -> dict[str, dict[str, int]] | None:
    """Each distinct counts text parsed, or None if one is not a plain JSON object of
    integers (the ordinary path then decides, and reports a damaged one).

    All the texts are parsed in one call, as the elements of one JSON array (no Python loop
    per text). That reads each text as the ordinary path's parser would, provided no text
    ends inside a value that the next one completes: every text starts with ``{`` and ends
    with ``}``, so a text could only end inside a member's value that is itself an object
    or array, which the integer check refuses; and every text is one element (as many
    elements as texts, each an object)."""
    texts = list(uses)
    if not set(map(type, texts)) <= {str}:
        return None
    n = len(texts)
    if (
        sum(map(str.startswith, texts, repeat("{"))) != n
        or sum(map(str.endswith, texts, repeat("}"))) != n
    ):
        return None
    try:
        values = json.loads("[" + ",".join(texts) + "]")
    except (ValueError, RecursionError):
        return None
    if len(values) != n or not set(map(type, values)) <= {dict}:
        return None
    if not set(map(type, chain.from_iterable(map(dict.values, values)))) <= {int, bool}:
        return None
    return dict(zip(texts, values, strict=True))


def _totals(
    groups: Sequence[JobTotalsRow], uses: Counter[str], parsed: Mapping[str, Mapping[str, int]]
) -> AuditTotals:
    """``AuditTotals`` as ``vault.audit`` adds them up per job, from the group sums and each
    distinct counts text times its uses."""
    by_type: dict[str, int] = {}
    get = by_type.get
    for text, n in uses.items():
        for name, value in parsed[text].items():
            by_type[name] = get(name, 0) + value * n
    by_status: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    for g in groups:
        by_status[g.status] += g.jobs
        by_file[g.file_type] += g.jobs
    return AuditTotals(
        jobs=sum(g.jobs for g in groups),
        entity_count=sum(g.entity_count for g in groups),
        map_size=sum(g.map_size for g in groups),
        file_size=sum(g.file_size for g in groups),
        by_entity_type=_sorted_counts(by_type),
        by_status={s: by_status[s] for s in JOB_STATUSES if by_status[s]},
        by_file_type=_sorted_counts(by_file),
    )


def _plain(text: str, punct: bytes) -> bool:
    """``text`` holds only ASCII letters, digits and ``punct`` (empty counts as plain)."""
    if not text.isascii():
        return False
    rest = text.encode("ascii").translate(None, punct)
    return not rest or rest.isalnum()


def _csv(db: Database, filters: Mapping[str, Any]) -> list[str] | None:
    """The CSV listing: the counts columns too come from SQLite (``json_extract``), once the
    counts texts are known to be plain: integers in SQLite's range, no name twice."""
    parsed = _parse_counts(set(db.audit.listing_counts(**filters)))
    if parsed is None:
        return None
    dicts = list(parsed.values())
    values = list(chain.from_iterable(map(dict.values, dicts)))
    # Each name once per text: a plain name followed by '":' appears at least once per key, so
    # equal sums mean no text holds a name twice (Python keeps the last, SQLite the first).
    # Integers only (a bool is written True, SQLite would write 1), in SQLite's range.
    if (
        sum(map(str.count, parsed, repeat('":'))) != sum(map(len, dicts))
        or not set(map(type, values)) <= {int}
        or max(values, default=0) >= _INT64
        or min(values, default=0) <= -_INT64
    ):
        return None
    names = set(chain.from_iterable(dicts))
    types = sorted(names)
    if not all(map(_PLAIN_NAME.match, types)):
        return None
    body, jobs, lines = db.audit.listing_csv(types, **filters)
    if lines != jobs:  # a line SQLite could not write
        return None
    # As many columns as the header, one line a job (a line break inside a value needs
    # quoting), nothing else that needs quoting, no cell starting with "-" (which also
    # refuses a count written ``-0``: the store writes the counts of two or more types as their
    # text stands, where the CSV writer writes 0).
    if (
        not _plain(body, _CSV_PUNCT + b"\n")
        or body.count("\n") != max(jobs - 1, 0)
        or body.count(",") != (len(CSV_FIXED_COLUMNS) + len(types) - 1) * jobs
        or ",-" in body
        or "\n-" in body
        or body.startswith("-")
    ):
        return None
    header = ",".join([*CSV_FIXED_COLUMNS, *types])
    return [header + "\n", body, "\n" if body else ""]


def _table(
    rows: ListingRows, parsed: Mapping[str, Mapping[str, int]], listing: AuditListing
) -> list[str] | None:
    head = TABLE_HEAD
    rest = max(TABLE_WIDTH - len(head), 8)
    indent = "\n" + " " * len(head)
    words = {text: indent.join(count_lines(counts, rest)) for text, counts in parsed.items()}
    if not _plain("".join(words.values()).replace(indent, " "), _TABLE_PUNCT):
        return None
    fixed = [row[0] for row in rows.rows]
    if None in fixed or not _plain("".join(fixed), _TABLE_PUNCT):
        return None
    body = "\n".join([line + words[text] for line, text in rows.rows])
    totals = "\n".join(table_lines(listing, include_jobs=False))
    return [head + "COUNTS\n", body, "\n" if body else "", "\n" + totals + "\n"]


def _json(
    rows: ListingRows,
    parsed: Mapping[str, Mapping[str, int]],
    listing: AuditListing,
    body: str | None,
) -> list[str] | None:
    # The counts texts go in verbatim: only if each is what the encoder writes (the store
    # writes them sorted, with the encoder's separators), which one encoding of all of them
    # in C says.
    sorted_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False, sort_keys=True)
    if sorted_encode.encode(list(parsed.values())) != "[" + ", ".join(parsed) + "]":
        return None
    jobs = listing.totals.jobs
    if body is None:  # times written by Python: the row pieces joined by the template
        if None in map(itemgetter(0), rows.rows):  # a row SQLite could not write
            return None
        body = ",\n    ".join(map(rows.template.__mod__, rows.rows))
    # No escape anywhere (the SELECT made a row with a double quote in a text column NULL,
    # and wrote one in a user's name as a backslash): no backslash and, but for the line
    # breaks between jobs (one fewer than the jobs), no control character.
    if "\\" in body or body.count("\n") != max(jobs - 1, 0) or not _printable_lines(body):
        return None
    data = report_to_dict(listing, include_jobs=False)
    return [*json_document_parts(data, {"jobs": [body] if jobs else []}), "\n"]


def _printable(text: str) -> bool:
    if text.isascii():
        return len(text.encode("ascii").translate(None, _CONTROL)) == len(text)
    return text.isprintable()


def _printable_lines(text: str) -> bool:
    """``_printable`` but for line breaks."""
    if text.isascii():
        deleted = len(text) - len(text.encode("ascii").translate(None, _CONTROL))
        return deleted == text.count("\n")
    return all(map(str.isprintable, text.split("\n")))
