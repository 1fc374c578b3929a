"""Restoring a token stream (an LLM's answer as it arrives): ``feed(text) -> str``, ``close()``.

The output equals restoring the whole text at once, for every way the text is cut into chunks:
a chunk is returned at once up to the earliest place where more text could still make (or
change) a placeholder (``Matcher.safe_end``), so at most the longest possible placeholder
prefix is held back; ``close()`` returns the rest. ``on_first`` is called once, before the first
restored text is returned (the access-log entry is committed there), and an exception from it
releases nothing.

Speed: most chunks of an answer hold no bracket and no label word.

- Strict mode changes only bracketed candidates, so when everything fed so far has been
  returned, a chunk without ``[`` is returned as it is after one ``in`` test, and a chunk whose
  every ``[`` begins a whole candidate (none of them Markdown link text) after one split and
  dictionary lookups; the common chunk with one ``[`` whose first ``]`` closes a placeholder
  of the map, not followed by ``(``, after three ``find`` calls and one lookup (no split: a
  third less CPU per such chunk). Such chunks (``_SMALL`` characters at most) are kept
  (``_ahead``, up to ``_AHEAD`` of them) and run through the matcher in one go later, for
  the counts and for what strict reports (unknown and mangled forms, with line:column); the
  output the matcher gives for them is already out (``_early``) and is not returned again.
  So the report is the whole restore's, and the output is never held back for a form strict
  only reports.
- Lenient mode: when nothing is held back, a chunk is returned after one regex search
  (``Matcher.quiet``, words found quiet are remembered), and a chunk of such text around whole
  placeholders after one more pass (``Matcher.plain``); the placeholders restored that way are
  counted in one go before anything else is counted or reported, so the counts keep the
  text's order. The chunks released that way are only appended to a list: their lines and
  characters are counted for the whole run at once, when something else needs the stream's
  position (``_settle``), which saves a quarter of the CPU time per quiet chunk.

Other chunks take the general way (``safe_end`` + ``restore_region``), as do lenient chunks
longer than ``_SMALL``, where the general way is cheaper per character.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable

from vault.errors import InputError
from vault.placeholders import Matcher, Reason, Resolver
from vault.restore._report import RestoreReport, UnresolvedPlaceholder, report_of

_CONTEXT = 2  # characters kept before the next start (a bare token's boundary looks back)
_SMALL = 512  # longest chunk tried on the fast paths (their tests cost more per character)
_AHEAD = 2048  # most chunks (of _SMALL characters at most) the strict fast path returns before
# the matcher runs


def _no_offset(i: int) -> int:  # every token is in the map: never asked
    return 0


class StreamRestorer:
    """Restores a text that arrives in chunks; see the module docstring."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        lenient: bool = False,
        on_first: Callable[[], None] | None = None,
    ) -> None:
        self._matcher = Matcher(resolver, lenient=lenient)
        # (builds the lenient index and scanner, which decide what to hold back, in both
        # modes: a stream's cost per chunk does not then depend on when it is first needed)
        self._inner, self._last = self._matcher.known_words
        self._searched_quiet = self._matcher.searched_quiet
        self._plain = self._matcher.plain
        self._unknown = self._matcher.unknown_words
        inner = self._matcher.candidate_length
        self._originals = self._matcher.originals
        self._on_first = on_first
        self._buffer = ""  # context already released, then what is held back
        self._start = 0  # where the held-back text begins in the buffer
        self._fed = 0  # characters fed so far: the buffer ends there
        self._free = lenient  # lenient: nothing held back, not closed (strict: see _ahead)
        self._closed = False
        self._lines = 0  # LF characters released before the buffer
        self._line_start = 0  # absolute offset of the current line's start
        self._found: list[UnresolvedPlaceholder] = []
        self._delta = 0  # output minus input characters, over what was released
        # lenient: chunks released whole by the fast paths, not yet passed (``_settle``)
        self._quiet: list[str] = []
        self._pending: list[str] = []  # placeholders restored by the fast path, not yet counted
        # Strict: chunks returned by the fast path, not yet seen by the matcher (None: the fast
        # path is off: lenient mode, something not yet returned, the first chunk not yet out,
        # closed); their output minus input characters; characters left before the matcher runs.
        self._ahead: list[str] | None = None if lenient or on_first else []
        self._ahead_delta = 0
        self._early = 0  # output already returned for input the matcher has not restored yet
        self._returned_to = 0  # input offset: the output for all text before it was returned
        self._split = re.compile(rf"(\[[^\[\]\n]{{1,{inner}}}\])").split

    def feed(self, text: str) -> str:
        """Restored text that is safe to show now (maybe empty)."""
        try:
            n = len(text)
        except TypeError:
            raise TypeError(
                f"feed() takes a str, not {type(text).__name__} (an OpenAI-style delta's "
                'content may be None: feed(delta.content or ""))'
            ) from None
        ahead = self._ahead
        if ahead is not None and n <= 512 and "\x00" not in text:  # _SMALL
            # strict, everything fed so far returned
            if "[" not in text:  # nothing in it changes: returned as it is
                ahead.append(text)
                return text if len(ahead) < 2048 else text + self._feed("")  # _AHEAD
            # One "[" whose first "]" closes a placeholder of the map (so a whole candidate),
            # not Markdown link text ("(" right after it) and not the end of the chunk: as
            # ``_candidates_only`` would, with a few searches instead of a split.
            i = text.find("[")
            j = text.find("]", i) + 1
            if 0 < j < n and text[j] != "(" and text.find("[", j) == -1:
                value = self._originals.get(text[i:j])
                if value is not None:
                    ahead.append(text)
                    self._ahead_delta += len(value) - (j - i)
                    restored = text[:i] + value + text[j:]
                    return restored if len(ahead) < 2048 else restored + self._feed("")
            found = self._candidates_only(text)
            if found is not None:
                ahead.append(text)
                self._ahead_delta += len(found) - n
                return found if len(ahead) < _AHEAD else found + self._feed("")
            return self._feed(text)
        if self._free and 2 <= n <= 512:  # lenient; _CONTEXT, _SMALL
            # Nothing held back, and (``quiet``) nothing in the chunk can begin a placeholder;
            # a held-back backslash never leaves the text before it ending in one. A NUL makes
            # no chunk quiet: the general way refuses it.
            words = text.split()  # ``Matcher.quiet``, its first test written out
            if self._inner.issuperset(words):
                if not text[-1].isalnum() or words[-1] in self._last:
                    # This is most chunks: released at once, passed later with the run of
                    # such chunks they belong to (``_settle``).
                    self._quiet.append(text)
                    if self._on_first is not None:
                        self._first()
                    return text
            elif text[-1].isspace():  # before the regex: a chunk with one placeholder
                out = self._one_placeholder(text, words)
                if out is not None:
                    return self._pass(text, out)
            if self._searched_quiet(text, words):
                return self._pass(text, text)
            out = self._exact_only(text)
            if out is not None:
                return self._pass(text, out)
            return self._feed(text)
        return self._feed(text)

    def _settle(self) -> None:
        """Pass the chunks the lenient fast paths released whole (``_quiet``): count their
        lines and characters, keep their end as context. Called before anything else reads
        or moves the stream's position."""
        run = self._quiet
        if not run:
            return
        self._quiet = []
        text = run[0] if len(run) == 1 else "".join(run)
        newline = text.rfind("\n")
        if newline != -1:
            self._lines += text.count("\n")
            self._line_start = self._fed + newline + 1
        self._fed += len(text)
        self._buffer = text[-_CONTEXT:]
        self._start = _CONTEXT

    def _one_placeholder(self, text: str, words: list[str]) -> str | None:
        """``text`` restored when all its words but one are known quiet words (``quiet``)
        and that one is a placeholder of the map; ``text`` ends with white space, so the
        placeholder is no Markdown link text. None otherwise.

        Each occurrence of the placeholder in ``text`` is then one of its words (every other
        word is quiet, so holds no bracket), and one ``str.replace`` restores them all."""
        odd = self._unknown(words)
        if len(odd) != 1:
            return None
        token = odd.pop()
        value = self._originals.get(token)
        if value is None:  # (a placeholder of a resolver is always a whole candidate: one
            return None  # "[", one "]", no line break; ``invert_map`` leaves out the others)
        self._pending += [token] * text.count(token)
        return text.replace(token, value)

    def _candidates_only(self, text: str) -> str | None:
        """Strict: ``text`` restored when each of its ``[`` begins a whole candidate and none
        is Markdown link text (no ``](`` in it, and text after the last one), so more text can
        change none of it. None otherwise."""
        parts = self._split(text)
        if not parts[-1] or "](" in text or "[" in "".join(parts[0::2]):
            return None
        tokens = parts[1::2]
        parts[1::2] = map(self._originals.get, tokens, tokens)  # strict leaves the others
        return "".join(parts)

    def _take_ahead(self, text: str) -> str:
        """``text`` after the chunks the strict fast path returned (they go to the matcher
        now); their output is counted as already returned."""
        ahead = self._ahead
        if ahead is None:
            return text
        self._ahead = None
        if not ahead:
            return text
        returned = "".join(ahead)
        self._early += len(returned) + self._ahead_delta
        self._ahead_delta = 0
        self._returned_to = self._fed + len(returned)
        return returned + text

    def _feed(self, text: str) -> str:
        self._settle()
        if self._closed:
            raise InputError("the stream was already closed")
        if "\x00" in text:
            raise InputError("the stream holds a NUL character: not text")
        self._count()
        text = self._take_ahead(text)
        self._fed += len(text)
        held = self._buffer
        buffer = held + text if held else text
        return self._release(buffer, self._matcher.safe_end(buffer, self._start))

    def close(self) -> str:
        """The rest of the restored text; afterwards ``report`` holds the counts."""
        self._settle()
        if self._closed:
            raise InputError("the stream was already closed")
        self._count()
        text = self._take_ahead("")
        self._fed += len(text)
        out = self._release(self._buffer + text, len(self._buffer) + len(text))
        self._closed = True
        self._free = False
        self._ahead = None
        return out

    async def restore(self, chunks: AsyncIterable[str]) -> AsyncIterator[str]:
        """Restore an async iterator of chunks (such as an SDK's streamed deltas)."""
        async for chunk in chunks:
            out = self.feed(chunk)
            if out:
                yield out
        tail = self.close()
        if tail:
            yield tail

    def _exact_only(self, text: str) -> str | None:
        """``text`` restored when it is plain text around whole placeholders of the map, none
        of them Markdown link text (``Matcher.plain``): nothing in it to hold back or
        report. None otherwise."""
        spans = self._plain(text)
        if not spans:
            return None
        tokens = [text[start:end] for start, end in spans]
        originals = self._originals
        if not all(map(originals.__contains__, tokens)):
            return None
        values = list(map(originals.__getitem__, tokens))
        self._pending += tokens  # counted in one go (``_count``)
        pieces = []
        last = 0
        for (start, end), value in zip(spans, values, strict=True):
            pieces.append(text[last:start])
            pieces.append(value)
            last = end
        pieces.append(text[last:])
        return "".join(pieces)

    def _count(self) -> None:
        """Count the placeholders the fast path restored, in text order and as the matcher
        counts them; called before the matcher counts anything else and before a report."""
        if self._pending:
            if self._matcher.lenient:  # as the lenient scan counts exact placeholders
                self._matcher.count_restored(self._pending)
            else:
                self._matcher.lookup(self._pending, _no_offset)
            self._pending = []

    def _pass(self, text: str, out: str) -> str:
        """Release all of ``text`` (nothing was held) as ``out``; its lines are counted with
        the run it belongs to (``_settle``)."""
        self._quiet.append(text)
        self._delta += len(out) - len(text)
        if out and self._on_first is not None:
            self._first()
        return out

    def _first(self) -> None:
        on_first, self._on_first = self._on_first, None
        if on_first is not None:
            on_first()

    def _release(self, buffer: str, end: int) -> str:
        """Restore and release ``buffer[start:end]`` (``buffer`` ends at ``_fed``)."""
        matcher = self._matcher
        tally = matcher.tally
        listed = len(tally.unresolved)
        start = self._start
        base = self._fed - len(buffer)
        out, end = matcher.restore_region(buffer, start, end, base)
        self._place(buffer, base, end, tally.unresolved[listed:])
        keep = max(end - _CONTEXT, 0)
        self._buffer = buffer[keep:]
        self._start = end - keep
        self._delta += len(out) - (end - start)
        if self._early:  # the strict fast path returned the beginning of this already
            if len(out) <= self._early:
                self._early -= len(out)
                out = ""
            else:
                out = out[self._early :]
                self._early = 0
        if matcher.lenient:
            self._free = end == len(buffer)
        else:
            # Text without "[" after what was returned comes out as it is, whatever follows
            # (every "[" before it is settled: it was returned); then the fast path is on.
            self._returned_to = max(self._returned_to, base + end)
            rest = buffer[self._returned_to - base :]
            if "[" not in rest:
                out += rest
                self._early += len(rest)
                self._returned_to = self._fed
        if out and self._on_first is not None:
            self._first()
        if not matcher.lenient and self._returned_to == self._fed and self._on_first is None:
            self._ahead = []
        return out

    def _place(self, buffer: str, base: int, end: int, new: list[tuple[str, int, Reason]]) -> None:
        """Line and column of newly unresolved placeholders; count lines released."""
        for text, offset, reason in new:
            rel = offset - base
            line = self._lines + buffer.count("\n", self._start, rel) + 1
            newline = buffer.rfind("\n", 0, rel)
            start = base + newline + 1 if newline != -1 else self._line_start
            self._found.append(UnresolvedPlaceholder(text, line, offset - start + 1, reason))
        self._lines += buffer.count("\n", self._start, end)
        newline = buffer.rfind("\n", self._start, end)
        if newline != -1:
            self._line_start = base + newline + 1

    @property
    def held_back(self) -> int:
        """Characters fed whose output has not been returned yet."""
        self._settle()
        if self._matcher.lenient:
            return 0 if self._closed else len(self._buffer) - self._start
        return self._fed - self._returned_to if self._ahead is None else 0

    @property
    def report(self) -> RestoreReport:
        """What the stream restored so far (complete after ``close``)."""
        self._settle()
        if self._ahead:
            self._feed("")  # the matcher counts what the fast path returned (returns "")
        self._count()
        held = 0 if self._closed else len(self._buffer) - self._start
        return report_of(
            self._matcher,
            self._matcher.tally,
            self._found,
            format="text",
            format_reason="a text stream",
            bytes_in=self._fed,
            bytes_out=self._fed - held + self._delta + self._early,
        )
