"""The lenient forms of placeholders: what ``--lenient`` repairs, found without touching prose.

Pure text work. The scanner walks *anchors* left to right: an opening bracket of any kind
(``[``, ``\\[``, ``［``, ``<``, ``{``, ``&#91;``, ``&lbrack;``, ...) or the ``_`` (or ``\\_``)
right before a number. Prose holds almost none of them, so the regex engine skips it in C and
Python only looks at the few places where a placeholder may stand. At an anchor:

- a bracketed token whose inside, normalised (no padding or escapes, lower case, ``_`` for a
  space, an escaped underscore or a line wrap), is a placeholder of the map is repaired: the
  whole token, brackets included, becomes the original. Opening and closing brackets must be of
  one kind (Markdown ``\\[`` only with ``\\]``);
- before a ``_`` + number, a label of the map written backwards from the anchor (one reversed
  regex over a short window) makes a bare token ``PERSON_NAME_1``; it needs a boundary before it
  (not a letter or digit, except CJK text or a JSON escape such as ``\\n``) and a whole number.

Rules that keep prose intact (``docs/restore.md``): without brackets a token needs an underscore
before its number; a one-word label (``NOTE``, ``DATE``) needs an underscore or a line wrap
before its number even inside brackets, and without brackets is taken only in the map's case or
in capitals. The scanner never looks inside an exact placeholder, so what strict restores,
lenient restores identically.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Literal

from vault._dataclass import dataclass
from vault.placeholders._tokens import (
    CLOSERS,
    LINK_STARTS,
    LOOKALIKE_CLOSING,
    LOOKALIKE_OPENING,
    OPENERS,
    fold,
    fold_is_safe,
    is_link,
    normalize,
)

_LINK_FIRST = "".join({s[0] for s in LINK_STARTS})


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_OPEN = _alternation(OPENERS)
_CLOSE = _alternation(CLOSERS)
_PAD_MAX = 8
_PAD = rf"[ \t\u00a0]{{0,{_PAD_MAX}}}"
_CJK = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
)

# alike: a look-alike of a placeholder that is not repaired (reported as unknown, strict too)
EditKind = Literal["exact", "repair", "unknown", "alike"]


@dataclass(frozen=True)
class Edit:
    """A token found at ``[start, end)``: the placeholder it stands for (None: unknown)."""

    start: int
    end: int
    placeholder: str | None
    kind: EditKind
    link: bool = False  # a square-bracketed token right before "(": Markdown link text


def _strip_brackets(placeholder: str) -> str:
    return placeholder[1:-1] if placeholder[:1] == "[" and placeholder[-1:] == "]" else placeholder


def _word_before(text: str, at: int) -> bool:
    """Whether a letter or digit glued before ``at`` forbids a bare token starting there."""
    if at == 0:
        return False
    c = text[at - 1]
    if not (c.isalnum() or c == "_"):
        return False
    if c in "ntr" and at >= 2 and text[at - 2] == "\\":
        return False  # right after a JSON escape: "...\nPERSON_NAME_1"
    return _CJK.match(c) is None


class LenientScanner:
    """Finds lenient tokens of one map. ``index``: normalised key -> placeholder (None when two
    placeholders share a key: never repaired)."""

    def __init__(
        self,
        originals: Mapping[str, str],
        index: Mapping[str, str | None],
        labels: set[str],
        *,
        inner: int,
    ) -> None:
        self._originals = originals
        self._index = index
        self._labels = labels
        self._keys = {normalize(label) for label in labels}
        self._one_word = {k for k in self._keys if "_" not in k}
        width = 2 * inner + 8
        self.width = width + 24  # longest text a token can span
        self._candidate = re.compile(rf"\[[^\[\]\n]{{1,{inner}}}\]").match
        # Zero width, so that a failed `\[` still lets the `[` after it be looked at.
        # One character class first, so the regex engine skips prose at C speed.
        self._anchor = re.compile(
            rf"[\[<{{&\\_{LOOKALIKE_OPENING}](?:(?<=_)(?=\r?\n?\d)|(?<!_))"
        ).finditer
        # A bracketed token whose brackets are square-bracket look-alikes (``_confusables``):
        # read as a placeholder once folded (``_lookalike``).
        brackets = re.escape("[]" + LOOKALIKE_OPENING + LOOKALIKE_CLOSING)
        self._alike = re.compile(
            rf"[\[{LOOKALIKE_OPENING}][^{brackets}\n]{{1,{inner}}}[\]{LOOKALIKE_CLOSING}]"
        ).match
        self._bare_sep = re.compile(r"\\?_(?:\r?\n)?(?=\d)").match
        inside = r"(?:[^\[\]［］<>{}\\\r\n]|\\_|\r?\n)"
        self._bracketed = re.compile(
            rf"(?P<open>{_OPEN}){_PAD}(?P<inner>{inside}{{1,{width}}}?){_PAD}(?P<close>{_CLOSE})",
            re.IGNORECASE,
        ).match
        self._digits = re.compile(r"\d{1,18}(?!\d)").match
        reversed_labels = []
        for key in sorted(self._keys, key=len, reverse=True):
            words = [re.escape(w[::-1]) for w in re.split(r"[_ ]", key)[::-1]]
            reversed_labels.append(r"(?:(?:\n\r?)?(?:_\\?|[ ])(?:\n\r?)?|\n\r?)".join(words))
        self._label_back = (
            re.compile(
                r"(?:\n\r?)?(?:(?:" + ")|(?:".join(reversed_labels) + "))", re.IGNORECASE
            ).match
            if reversed_labels
            else None
        )
        self._lookback = max((len(k) for k in self._keys), default=0) * 3 + 4
        firsts = {k.split("_")[0] for k in self._keys}
        self._whole_first_words = firsts
        self._first_words: set[str] | None = (
            {w[:i] for w in firsts for i in range(1, len(w) + 1)}
            if all(w.isalnum() for w in firsts)
            else None
        )
        self._shape = re.compile(r"\[([A-Za-z][A-Za-z0-9_]*)_(\d{1,18})\]").fullmatch
        # Streaming (``hold_starts``, ``quiet``): where a token may begin, found in the
        # lower-cased text by one regex whose branches each begin with a literal character (an
        # opener, or the first letter of a label's first word at a word start), so the regex
        # engine skips every other character in C. Only for ASCII first words; otherwise every
        # word start is examined (``starts``).
        self._begins: Callable[[str], Iterator[re.Match[str]]] | None = None
        self._begin: Callable[[str], re.Match[str] | None] = _ALWAYS
        # words quiet on their own (``quiet``): anywhere, and also as the last word
        self._inner_words: set[str] = set()
        self._last_words: set[str] = set()
        self._plain: Callable[[str], Iterator[re.Match[str]]] = _ALWAYS_ALL
        self._ending: Callable[[str, int], re.Match[str] | None] = _ALWAYS
        self._tail = max((len(w) for w in firsts), default=0) + 1  # a last word that matters
        # A "]" in a label would let a key run past a bracket (see ``could_start``).
        self._bracket_free = not any("]" in k for k in self._keys)
        # What a bare token can hold, lower-cased: label characters, digits, separators.
        allowed = {*"".join(self._keys), *"0123456789_ \\\r\n"}
        self._foreign = re.compile(
            "[^" + "".join(re.escape(c) for c in sorted(allowed)) + "]"
        ).search
        if (
            self._first_words is not None
            and all(w.isascii() for w in firsts)
            and self._bracket_free  # see ``could_start``: a "]" settles a "[" token
        ):
            branches = [re.escape(c) for c in (*_OPENING, "\x00")]  # NUL: never quiet
            prefixes = []
            # One branch per first letter, its words longest first: the word-start lookbehind
            # (a large Unicode class) is compiled once per letter, not once per label (a map
            # of 2,000 labels cost 15 s of compiling before, a hostile server's choice).
            by_head: dict[str, list[str]] = {}
            for word in sorted(firsts, key=len, reverse=True):
                by_head.setdefault(word[0], []).append(word)
            for first, words in by_head.items():
                head = re.escape(first)
                at_start = rf"{head}(?<!{_WORDY}{head})"
                whole = "|".join(re.escape(w[1:]) for w in words)  # a whole first word
                branches.append(rf"{at_start}(?:{whole})(?![^\W_])")
                begun = "|".join(  # the beginning of one, at the end
                    "".join(f"(?:{re.escape(c)}" for c in w[1:]) + ")?" * (len(w) - 1)
                    for w in words
                )
                prefixes.append(rf"{at_start}(?:{begun})\Z")
            # A closed strict candidate followed by anything but "(" is taken whole first:
            # nothing inside it can begin a token then (see ``could_start``).
            # (Every branch begins with a literal character, so that the regex engine skips the
            # others in C; a closed candidate is told from a lone "[" by its length.)
            closed = rf"\[[^\[\]\n]{{1,{inner}}}\](?=[^(])"
            plain = re.compile("|".join([closed, *branches]))
            self._begin, self._plain = plain.search, plain.finditer
            self._ending = re.compile("|".join(prefixes)).search
            self._begins = re.compile("|".join(branches + prefixes)).finditer

    # -- the scan -------------------------------------------------------------------------------
    def scan(self, text: str, start: int, limit: int) -> list[Edit]:
        """Tokens starting in ``text[start:limit]`` (they may end after ``limit``), in order,
        none overlapping. Exact placeholders are ``exact`` edits, repaired ones ``repair``,
        unknown ones (reported, left as written) ``unknown``."""
        edits: list[Edit] = []
        pos = start
        for anchor in self._anchor(text, start):
            at = anchor.start()
            if at >= limit + self._lookback:
                break
            if at < pos:
                continue
            sep = self._bare_sep(text, at)
            if sep is not None:
                edit = self._bare(text, at, sep.end(), pos)
            elif text[at] == "\\" and text[at + 1 : at + 2] != "[":
                continue
            else:
                if at >= limit:
                    continue
                edit = self._opened(text, at)
            if edit is not None and edit.start < limit:
                edits.append(edit)
                pos = edit.end
        return edits

    def _opened(self, text: str, at: int) -> Edit | None:
        candidate = self._candidate(text, at) if text[at] == "[" else None
        if candidate is not None and candidate.group() in self._originals:
            end = candidate.end()
            return Edit(at, end, candidate.group(), "exact", is_link(text, end) is not None)
        if candidate is not None and not candidate.group().isascii():
            alike = self._lookalike(candidate.group(), at, text)
            if alike is not None:
                return alike
        match = self._bracketed(text, at)
        if match is not None:
            found = self._bracket_token(match)
            if found is not None:
                return found
        if candidate is not None and self._shaped(candidate.group()):
            return Edit(at, candidate.end(), None, "unknown")
        if candidate is None and (text[at] == "[" or text[at] in LOOKALIKE_OPENING):
            other = self._alike(text, at)
            # (ASCII inside other brackets: the bare token inside is repaired or reported.)
            if other is not None and not other.group()[1:-1].isascii():
                return self._lookalike(other.group(), at, text)
        return None

    def _lookalike(self, token: str, at: int, text: str) -> Edit | None:
        """A bracketed candidate that reads as a placeholder once folded (full-width forms,
        zero-width, bidi and combining characters: ``fold``) but is not one byte for byte.
        Repaired when its folded form is exactly a placeholder of the map and folding is safe
        (``fold_is_safe``: no bidi control, no combining mark); otherwise, when the folded form
        is a placeholder or has the placeholder shape, reported as unknown, as strict does."""
        plain = fold(token)
        if plain == token:
            return None
        end = at + len(token)
        if plain in self._originals:
            if fold_is_safe(token):
                return Edit(at, end, plain, "repair", is_link(text, end) is not None)
            return Edit(at, end, None, "alike")
        if self._shaped(plain):
            return Edit(at, end, None, "alike")
        return None

    def _bracket_token(self, match: re.Match[str]) -> Edit | None:
        open_, close = match.group("open").lower(), match.group("close").lower()
        if OPENERS[open_] != CLOSERS[close]:
            return None
        raw = match.group("inner")
        key = normalize(raw)
        label, _, number = key.rpartition("_")
        if not number.isdigit() or label not in self._keys:
            return None
        if label in self._one_word and raw[: len(raw) - len(number)].endswith(" "):
            return None  # "[note 6]" is prose; a one-word label needs "_" or a line wrap
        end = match.end()
        link = close == "]" and is_link(match.string, end) is not None
        placeholder = self._index.get(key)
        if placeholder is None:
            return Edit(match.start(), end, None, "unknown")
        kind: EditKind = "exact" if match.group() == placeholder else "repair"
        return Edit(match.start(), end, placeholder, kind, link)

    def _bare(self, text: str, at: int, digits_at: int, floor: int) -> Edit | None:
        digits = self._digits(text, digits_at)
        if digits is None or self._label_back is None:
            return None
        window = text[max(floor, at - self._lookback) : at][::-1]
        found = self._label_back(window)
        if found is None:
            return None
        begin = at - found.end()
        if _word_before(text, begin):
            return None
        raw = text[begin:at]
        label = normalize(raw).rstrip("_")
        written = raw.rstrip("\r\n")
        if label in self._one_word and written not in self._labels and raw != raw.upper():
            return None  # "note_6" in prose or code; one-word labels bare only as in the map
        key = normalize(f"{raw}_{digits.group()}")
        placeholder = self._index.get(key)
        end = digits.end()
        if placeholder is None:
            plain = written == raw and raw in self._labels and digits_at == at + 1
            return Edit(begin, end, None, "unknown") if plain else None
        return Edit(begin, end, placeholder, "repair")

    def _shaped(self, token: str) -> bool:
        if self._shape(token):
            return True
        inner = _strip_brackets(token)
        label, sep, number = inner.rpartition("_")
        return bool(sep) and number.isdigit() and label in self._labels

    def is_candidate(self, text: str, start: int, end: int) -> bool:
        """Whether ``text[start:end]`` is a bracketed candidate of strict mode."""
        found = self._candidate(text, start)
        return found is not None and found.end() == end

    # -- streaming --------------------------------------------------------------------------------
    def starts(self, text: str, lo: int, hi: int) -> list[int]:
        """Where in ``text[lo:hi]`` a token could begin: openers and word starts."""
        return [
            m.start()
            for m in _STARTS(text, lo, hi)
            if not _word_before(text, m.start()) or text[m.start()] in _OPENING
        ]

    def hold_starts(self, text: str, lo: int) -> list[int]:
        """The starts in ``text[lo:]`` where more text could still begin a token: a subset of
        ``starts(text, lo, len(text))`` that holds every start for which ``could_start`` is
        true (openers, words that are a label's whole first word, the last word when it is the
        beginning of one)."""
        found = self._maybe_starts(text, lo)
        if found is None:
            return self.starts(text, lo, len(text))
        return [
            at
            for at in found
            if _START.match(text, at) is not None
            and (not _word_before(text, at) or text[at] in _OPENING)
        ]

    def quiet(self, text: str) -> bool:
        """Whether no token can begin in ``text``, whatever text follows: no opener, no label's
        first word at a word start, no last word that may become one. Restoring such text
        (strict or lenient) changes and reports nothing. A cheap test for streaming; the caller
        makes sure that no token can begin before ``text`` (nothing held, and the text before
        does not end with a backslash).

        Words (between white space) found quiet on their own are remembered: a text made of
        such words is quiet, since white space is never part of a token's beginning and a word
        quiet on its own is quiet anywhere (as the last word of a text it must also not be
        the beginning of a label's first word: "or" may become "organization"). Answers
        repeat their words, so most texts cost a split and a set test."""
        words = text.split()
        if self._inner_words.issuperset(words) and (
            not text[-1:].isalnum() or words[-1] in self._last_words
        ):
            return True
        return self.searched_quiet(text, words)

    @property
    def known_words(self) -> tuple[set[str], set[str]]:
        """The words ``quiet`` knows: quiet anywhere, and also as a text's last word (for a
        caller that runs the first test of ``quiet`` itself, then ``searched_quiet``)."""
        return self._inner_words, self._last_words

    def searched_quiet(self, text: str, words: list[str]) -> bool:
        """``quiet`` after the test on known words failed (``words``: ``text.split()``)."""
        if not self._searched_quiet(text):
            return False
        if len(self._inner_words) < _SAFE_WORDS:
            for word in words:
                if self._searched_quiet(word, last=False):
                    self._inner_words.add(word)
                    if self._searched_quiet(word):
                        self._last_words.add(word)
        return True

    def unknown_words(self, words: list[str]) -> set[str]:
        """Those of ``words`` (a text's ``split()``) not known to be quiet on their own;
        without the quick search nothing is known (and "" is added: never a single word)."""
        if self._begins is None:
            return {"", *words}
        return set(words).difference(self._inner_words)

    def _searched_quiet(self, text: str, *, last: bool = True) -> bool:
        low = text.lower()
        if self._begin(low) is not None or len(low) != len(text):
            return False
        # the last word may be the beginning of a label's first word (a separate, short search)
        return (
            not last
            or not low[-1:].isalnum()
            or self._ending(low, max(len(low) - self._tail, 0)) is None
        )

    def plain(self, text: str) -> list[tuple[int, int]] | None:
        """Where ``text`` holds closed strict candidates, when nothing else in it can begin a
        token: like ``quiet`` around candidates that are each followed by a character other
        than "(" (so none is Markdown link text and nothing inside one can begin a token).
        None when something else may begin one. Same precondition as ``quiet``."""
        low = text.lower()
        if len(low) != len(text):
            return None
        spans = []
        for found in self._plain(low):
            start, end = found.span()
            if end - start <= 1 or low[start] != "[":
                return None
            spans.append((start, end))
        if low[-1:].isalnum() and self._ending(low, max(len(low) - self._tail, 0)) is not None:
            return None
        return spans

    def _maybe_starts(self, text: str, lo: int) -> list[int] | None:
        """Candidates for ``hold_starts`` (more than needed, never fewer), in order; None when
        this quick search cannot tell (non-ASCII label words, a backslash escape nearby, text
        whose lower-case form has another length)."""
        begins = self._begins
        if begins is None or "\\" in text[max(lo - 2, 0) : lo]:
            return None
        low = text[lo:].lower()
        if len(low) != len(text) - lo or "\\" in low:
            return None  # a JSON escape ("\\n") may glue a start to a letter
        return [lo + m.start() for m in begins(low)]

    def could_start(self, tail: str) -> bool:
        """Whether more text after ``tail`` could make it the start of a token (a look-alike
        one too: ``_lookalike``)."""
        if self._could_start(tail):
            return True
        if (tail[:1] != "[" and tail[:1] not in LOOKALIKE_OPENING) or tail.isascii():
            return False
        plain = fold(tail)
        return plain != tail and self._could_start(plain)

    def _could_start(self, tail: str) -> bool:
        if tail[:1] == "[" and self._bracket_free:
            # Decided by the first "]" once a character other than "(" follows it: no
            # closer or link destination can begin there, and no label key holds a "]".
            close = tail.find("]")
            after = tail[close + 1 : close + 2]
            if close != -1 and after and after not in _LINK_FIRST:
                return False
        if self._first_words is not None and tail[:1] not in _OPENING:
            # quick answer for a word of prose: it must begin a label's first word
            word = _WORD(tail)
            if word is None:
                return False
            low = word.group().lower()
            if low not in self._first_words:
                return False
            if word.end() == len(tail):
                return True
            if low not in self._whole_first_words:
                return False
        if tail[:1] not in _OPENING:  # no opener begins here
            if self._foreign(tail.lower()) is not None:
                return False  # a character no label, number or separator holds
            return self._could_continue(tail, closing=False)
        for opener in OPENERS:
            low = tail[: len(opener)].lower()
            if opener.startswith(low) and len(low) < len(opener):
                return True  # a part of an opener
            if low == opener:
                rest = tail[len(opener) :].lstrip(" \t\u00a0")
                return self._could_continue(rest, closing=True)
        return self._could_continue(tail, closing=False)

    def _could_continue(self, rest: str, *, closing: bool) -> bool:
        if closing:
            inner = rest.rstrip(" \t\u00a0")
            if 0 < len(rest) - len(inner) <= _PAD_MAX and self._complete(inner):
                return True  # padding after a whole token: its closer may follow
            closer = _CLOSER_START(rest)
            if closer is not None:
                tail = rest[closer.end() :].lower()
                if (
                    any(c.startswith(tail) for c in CLOSERS)
                    or (tail[:1] == "]" and any(k.startswith(tail[1:]) for k in LINK_STARTS))
                ) and self._complete(rest[: closer.start()]):
                    return True
                # else a "\" may still begin "\_", a "&" may be text: the key decides
        key = normalize(rest.rstrip("\\\r"))  # a separator or escape may be half written
        if not key:
            return True
        if self._complete(key) or (key.endswith("_") and key[:-1] in self._keys):
            return True
        return any(k.startswith(key) or f"{k}_".startswith(key) for k in self._keys)

    def _complete(self, inner: str) -> bool:
        head, sep, number = normalize(inner).rpartition("_")
        return bool(sep) and head in self._keys and number.isdigit()


_OPENING = "[&\\<{" + LOOKALIKE_OPENING
_SAFE_WORDS = 50_000  # most quiet words remembered per scanner
_ALWAYS = re.compile("").search  # no quick search: any text may hold a start
_ALWAYS_ALL = re.compile("").finditer
# A word character that is not CJK: glued before a letter, it keeps a token from starting there.
_WORDY = r"[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
_WORD = re.compile(r"[^\W_]*").match
_START = re.compile(
    rf"[\[&\\<{{{LOOKALIKE_OPENING}]|"
    r"(?:(?<!\w)|(?<=\\[ntr])|(?<=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]))"
    r"[^\W\d_]"
)
_STARTS = _START.finditer
_CLOSER_START = re.compile(r"[ \t\u00a0]*(?=\\(?!_)|[\]］>}&])").search
