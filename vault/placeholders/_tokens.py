"""Placeholder tokens as written: the brackets of each kind, the Markdown link starts, and
the normalised key of a token. Shared by the strict matcher (``_matcher``) and the lenient
scanner (``_lenient``); its own module so that a strict restore never imports the scanner,
whose patterns are compiled at import (cold start)."""

from __future__ import annotations

import re
import unicodedata

OPENERS = {
    "[": "square",
    "［": "square",
    "&#91;": "square",
    "&#x5b;": "square",
    "&lbrack;": "square",
    "&lsqb;": "square",
    "\\[": "markdown",
    "<": "angle",
    "&lt;": "angle",
    "{": "curly",
}
CLOSERS = {
    "]": "square",
    "］": "square",
    "&#93;": "square",
    "&#x5d;": "square",
    "&rbrack;": "square",
    "&rsqb;": "square",
    "\\]": "markdown",
    ">": "angle",
    "&gt;": "angle",
    "}": "curly",
}

# A separator inside a token as written: underscore (maybe Markdown-escaped), space, line wrap.
SEP_NORM_RE = re.compile(r"(?:\\?_|[ ])?\r?\n|\\_|[ ]")
RUNS_RE = re.compile(r"__+")

# A Markdown link destination after "](": a scheme, an anchor or a path (not "(2020)").
LINK_STARTS = (
    "(mailto:",
    "(http:",
    "(https:",
    "(tel:",
    "(ftp:",
    "(www.",
    "(#",
    "(/",
    "(./",
    "(../",
)
is_link = re.compile("|".join(re.escape(s) for s in LINK_STARTS), re.IGNORECASE).match


def normalize(token: str) -> str:
    """The lenient key of a placeholder or token inside: lower case, one ``_`` for each run of
    separators (so a line wrap next to an underscore counts once)."""
    if " " not in token and "\\" not in token and "\n" not in token and "__" not in token:
        return token.lower()
    return RUNS_RE.sub("_", SEP_NORM_RE.sub("_", token)).lower()


# Bidi controls: they change the order in which a reader sees the characters after them, so the
# placeholder a reader sees may not be the one the characters spell (``[PERSON_NAME_\u202e12]``
# shows ``21``).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# the look-alike -> character table, built on the first fold (only non-ASCII text is folded)
_TABLE: dict[int, int] = {}
# Square-bracket look-alikes, each opener at the index of its closer; ``_confusables`` maps
# them to "[" and "]" (scripts/make-confusables.py writes the same two strings there).
LOOKALIKE_OPENING = "［【〔⟦﹝〚〘〖❲⁅"
LOOKALIKE_CLOSING = "］】〕⟧﹞〛〙〗❳⁆"
_DROPPED = frozenset(("Cf", "Mn", "Me", "Zl", "Zp"))


def _table() -> dict[int, int]:
    from vault.placeholders import _confusables  # loaded by the first non-ASCII token

    _TABLE.update(str.maketrans(_confusables.SOURCES, _confusables.TARGETS))
    return _TABLE


def fold(token: str) -> str:
    """``token`` as it reads, its *skeleton*: look-alikes of the placeholder characters mapped
    to them (``_confusables``: Cyrillic, Greek and other letters that look Latin, small
    capitals, digits of other scripts, underscore and bracket look-alikes), NFKC (full-width
    and other compatibility forms), then without format characters (zero-width, bidi controls,
    soft hyphen), combining marks (``Mn`` and enclosing ``Me``) and line or paragraph
    separators. Only bracketed non-ASCII text is ever folded."""
    table = _TABLE or _table()
    folded = unicodedata.normalize("NFKC", token.translate(table)).translate(table)
    return "".join(c for c in folded if unicodedata.category(c) not in _DROPPED)


def fold_is_safe(token: str) -> bool:
    """Whether ``fold(token)`` is what a reader sees in ``token``: no bidi control in it, no
    combining mark left after NFKC (one that composes, as in a decomposed "ä", is part of a
    letter; one that does not, as in "1\u0301", changes what the character looks like), no
    line or paragraph separator, and no look-alike of another script or shape (``_confusables``:
    a Cyrillic "Е" is another letter, whatever it looks like). Compatibility forms (full-width
    letters, digits, underscore, brackets) and invisible format characters (zero-width space or
    joiner, BOM, word joiner, soft hyphen) are safe."""
    if not _BIDI.isdisjoint(token):
        return False
    table = _TABLE or _table()
    folded = unicodedata.normalize("NFKC", token)
    return not any(
        ord(c) in table or unicodedata.category(c) in ("Mn", "Me", "Zl", "Zp") for c in folded
    )
