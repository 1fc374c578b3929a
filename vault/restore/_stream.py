"""Restoring a token stream (an LLM's answer as it arrives): ``feed(text) -> str``, ``close()``.

The output equals restoring the whole text at once, for every way the text is cut into chunks:
a chunk is returned at once up to the earliest place where more text could still make (or
change) a placeholder (``Matcher.safe_end``), so at most the longest possible placeholder
prefix is held back; ``close()`` returns the rest. ``on_first`` is called once, before the first
restored text is returned (the access-log entry is committed there), and an exception from it
releases nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable

from vault.errors import InputError
from vault.placeholders import Matcher, Reason, Resolver
from vault.restore._report import RestoreReport, UnresolvedPlaceholder, report_of

_CONTEXT = 2  # characters kept before the next start (a bare token's boundary looks back)


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
        self._quiet = self._matcher.quiet
        self._originals = self._matcher.originals
        self._on_first = on_first
        self._buffer = ""
        self._start = 0  # where the unreleased text begins in the buffer
        self._base = 0  # absolute offset of buffer[0]
        self._lines = 0  # LF characters released before the buffer
        self._line_start = 0  # absolute offset of the current line's start
        self._found: list[UnresolvedPlaceholder] = []
        self._chars_out = 0
        self._closed = False
        self._report: RestoreReport | None = None

    def feed(self, text: str) -> str:
        """Restored text that is safe to show now (maybe empty)."""
        if self._closed:
            raise InputError("the stream was already closed")
        if "\x00" in text:
            raise InputError("the stream holds a NUL character: not text")
        held = self._buffer
        if self._start == len(held):  # nothing held back: first the common cases
            if self._quiet(text):
                return self._pass(held, text, text)
            out = self._exact_only(text)
            if out is not None:
                return self._pass(held, text, out)
        buffer = held + text if held else text
        return self._release(buffer, self._matcher.safe_end(buffer, self._start))

    def close(self) -> str:
        """The rest of the restored text; afterwards ``report`` holds the counts."""
        if self._closed:
            raise InputError("the stream was already closed")
        out = self._release(self._buffer, len(self._buffer))
        self._closed = True
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
        of them Markdown link text: nothing in it to hold back or report. None otherwise.

        Plain means ``quiet``: no bracket of any kind and no label word outside the
        placeholders. A start inside a closed placeholder cannot begin a token once a
        character other than "(" follows the "]", so the chunk must not end with one."""
        parts = self._matcher.split(text)
        if len(parts) == 1 or not parts[-1] or "](" in text:
            return None
        tokens = parts[1::2]
        if not all(map(self._originals.__contains__, tokens)):
            return None
        if not self._quiet("\x00".join(parts[0::2])):  # NUL: a word boundary, never in a feed
            return None
        if self._matcher.lenient:  # counted as the lenient scan counts exact placeholders
            self._matcher.count_restored(tokens)
            parts[1::2] = map(self._originals.__getitem__, tokens)
        else:
            parts[1::2] = self._matcher.lookup(tokens, _no_offset)
        return "".join(parts)

    def _pass(self, held: str, text: str, out: str) -> str:
        """Release all of ``text`` (nothing was held) as ``out``; count its lines."""
        newline = text.rfind("\n")
        if newline != -1:
            self._lines += text.count("\n")
            self._line_start = self._base + len(held) + newline + 1
        if len(text) >= _CONTEXT:
            self._base += len(held) + len(text) - _CONTEXT
            self._buffer = text[-_CONTEXT:]
            self._start = _CONTEXT
        else:
            buffer = held + text
            keep = max(len(buffer) - _CONTEXT, 0)
            self._buffer = buffer[keep:]
            self._base += keep
            self._start = len(buffer) - keep
        if out:
            if self._on_first is not None:
                on_first, self._on_first = self._on_first, None
                on_first()
            self._chars_out += len(out)
        return out

    def _release(self, buffer: str, end: int) -> str:
        matcher = self._matcher
        tally = matcher.tally
        listed = len(tally.unresolved)
        out, end = matcher.restore_region(buffer, self._start, end, self._base)
        self._place(buffer, end, tally.unresolved[listed:])
        keep = max(end - _CONTEXT, 0)
        self._buffer = buffer[keep:]
        self._base += keep
        self._start = end - keep
        if out:
            if self._on_first is not None:
                on_first, self._on_first = self._on_first, None
                on_first()
            self._chars_out += len(out)
        return out

    def _place(self, buffer: str, end: int, new: list[tuple[str, int, Reason]]) -> None:
        """Line and column of newly unresolved placeholders; count lines released."""
        for text, offset, reason in new:
            rel = offset - self._base
            line = self._lines + buffer.count("\n", self._start, rel) + 1
            newline = buffer.rfind("\n", 0, rel)
            start = self._base + newline + 1 if newline != -1 else self._line_start
            self._found.append(UnresolvedPlaceholder(text, line, offset - start + 1, reason))
        self._lines += buffer.count("\n", self._start, end)
        newline = buffer.rfind("\n", self._start, end)
        if newline != -1:
            self._line_start = self._base + newline + 1

    @property
    def report(self) -> RestoreReport:
        """What the stream restored so far (complete after ``close``)."""
        return report_of(
            self._matcher,
            self._matcher.tally,
            self._found,
            format="text",
            format_reason="a text stream",
            bytes_in=self._base + len(self._buffer),  # every character fed
            bytes_out=self._chars_out,
        )
