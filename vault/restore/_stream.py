"""Restoring a token stream (an LLM's answer as it arrives): ``feed(text) -> str``, ``close()``.

The output equals restoring the whole text at once, for every way the text is cut into chunks:
a chunk is returned at once up to the earliest place where more text could still make (or
change) a placeholder (``Matcher.safe_end``), so at most the longest possible placeholder
prefix is held back; ``close()`` returns the rest. ``on_first`` is called once, before the first
restored text is returned (the access-log entry is committed there), and an exception from it
releases nothing.

Speed: most chunks of an answer hold no bracket and no label word. When nothing is held back,
such a chunk is returned after one regex search (``Matcher.quiet``), and a chunk of such text
around whole placeholders after one more pass (``Matcher.plain``); the placeholders restored
that way are counted in one go before anything else is counted or reported, so the counts keep
the text's order. Only other chunks take the general way (``safe_end`` + ``restore_region``),
as do chunks longer than ``_SMALL``, where the general way is cheaper per character.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable

from vault.errors import InputError
from vault.placeholders import Matcher, Reason, Resolver
from vault.restore._report import RestoreReport, UnresolvedPlaceholder, report_of

_CONTEXT = 2  # characters kept before the next start (a bare token's boundary looks back)
_SMALL = 512  # longest chunk tried on the fast paths (their tests cost more per character)


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
        self._inner, self._last = self._matcher.known_words
        self._searched_quiet = self._matcher.searched_quiet
        self._plain = self._matcher.plain
        self._unknown = self._matcher.unknown_words
        inner = self._matcher.candidate_length
        self._candidate = re.compile(rf"\[[^\[\]\n]{{1,{inner}}}\]").fullmatch
        self._candidates: set[str] = set()  # placeholders of the map seen to be candidates
        self._originals = self._matcher.originals
        self._on_first = on_first
        self._buffer = ""  # context already released, then what is held back
        self._start = 0  # where the held-back text begins in the buffer
        self._fed = 0  # characters fed so far: the buffer ends there
        self._free = True  # nothing held back, not closed
        self._closed = False
        self._lines = 0  # LF characters released before the buffer
        self._line_start = 0  # absolute offset of the current line's start
        self._found: list[UnresolvedPlaceholder] = []
        self._delta = 0  # output minus input characters, over what was released
        self._pending: list[str] = []  # placeholders restored by the fast path, not yet counted

    def feed(self, text: str) -> str:
        """Restored text that is safe to show now (maybe empty)."""
        if self._free and 2 <= len(text) <= 512:  # _CONTEXT, _SMALL
            # Nothing held back, and (``quiet``) nothing in the chunk can begin a placeholder;
            # a held-back backslash never leaves the text before it ending in one. A NUL makes
            # no chunk quiet: the general way refuses it.
            words = text.split()  # ``Matcher.quiet``, its first test written out
            if self._inner.issuperset(words):
                if not text[-1].isalnum() or words[-1] in self._last:
                    # ``_pass_quiet``, written out: this is most chunks
                    newline = text.rfind("\n")
                    if newline != -1:
                        self._lines += text.count("\n")
                        self._line_start = self._fed + newline + 1
                    self._fed += len(text)
                    self._buffer = text[-2:]
                    self._start = 2  # _CONTEXT
                    if self._on_first is not None:
                        self._first()
                    return text
            elif text[-1].isspace():  # before the regex: a chunk with one placeholder
                out = self._one_placeholder(text, words)
                if out is not None:
                    return self._pass(text, out)
            if self._searched_quiet(text, words):
                return self._pass_quiet(text)
            out = self._exact_only(text)
            if out is not None:
                return self._pass(text, out)
        return self._feed(text)

    def _pass_quiet(self, text: str) -> str:
        """Release all of ``text``, unchanged (nothing was held); count its lines."""
        newline = text.rfind("\n")
        if newline != -1:
            self._lines += text.count("\n")
            self._line_start = self._fed + newline + 1
        self._fed += len(text)
        self._buffer = text[-_CONTEXT:]
        self._start = _CONTEXT
        if self._on_first is not None:
            self._first()
        return text

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
        if value is None:
            return None
        if token not in self._candidates:
            if self._candidate(token) is None:
                return None
            self._candidates.add(token)
        self._pending += [token] * text.count(token)
        return text.replace(token, value)

    def _feed(self, text: str) -> str:
        if self._closed:
            raise InputError("the stream was already closed")
        if "\x00" in text:
            raise InputError("the stream holds a NUL character: not text")
        self._count()
        self._fed += len(text)
        held = self._buffer
        buffer = held + text if held else text
        return self._release(buffer, self._matcher.safe_end(buffer, self._start))

    def close(self) -> str:
        """The rest of the restored text; afterwards ``report`` holds the counts."""
        if self._closed:
            raise InputError("the stream was already closed")
        self._count()
        out = self._release(self._buffer, len(self._buffer))
        self._closed = True
        self._free = False
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
        """Release all of ``text`` (nothing was held) as ``out``; count its lines."""
        newline = text.rfind("\n")
        if newline != -1:
            self._lines += text.count("\n")
            self._line_start = self._fed + newline + 1
        self._fed += len(text)
        self._buffer = text[-_CONTEXT:]
        self._start = _CONTEXT
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
        self._free = end == len(buffer)
        self._delta += len(out) - (end - start)
        if out and self._on_first is not None:
            self._first()
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
    def report(self) -> RestoreReport:
        """What the stream restored so far (complete after ``close``)."""
        self._count()
        held = 0 if self._closed else len(self._buffer) - self._start
        return report_of(
            self._matcher,
            self._matcher.tally,
            self._found,
            format="text",
            format_reason="a text stream",
            bytes_in=self._fed,
            bytes_out=self._fed - held + self._delta,
        )
