"""Placeholder tokens as written: the brackets of each kind, the Markdown link starts, and
the normalised key of a token. Shared by the strict matcher (``_matcher``) and the lenient
scanner (``_lenient``); its own module so that a strict restore never imports the scanner,
whose patterns are compiled at import (cold start)."""

from __future__ import annotations

import re

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
