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
        self._on_first = on_first
        self._buffer = ""
        self._start = 0  # where the unreleased text begins in the buffer
        self._base = 0  # absolute offset of buffer[0]
        self._lines = 0  # LF characters released before the buffer
        self._line_start = 0  # absolute offset of the current line's start
        self._found: list[UnresolvedPlaceholder] = []
        self._chars_in = 0
        self._chars_out = 0
        self._closed = False
        self._report: RestoreReport | None = None

    def feed(self, text: str) -> str:
        """Restored text that is safe to show now (maybe empty)."""
        if self._closed:
            raise InputError("the stream was already closed")
        if "\x00" in text:
            raise InputError("the stream holds a NUL character: not text")
        self._chars_in += len(text)
        buffer = self._buffer + text if self._buffer else text
        matcher = self._matcher
        end = matcher.safe_end(buffer, self._start)
        return self._release(buffer, end)

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
            bytes_in=self._chars_in,
            bytes_out=self._chars_out,
        )
