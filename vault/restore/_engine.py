"""The streaming restore: bytes in, bytes out, bounded memory, one pass.

The input is read in chunks, decoded incrementally and handed to a format processor (text, CSV,
JSON) together with what is left of the previous chunk. A processor restores as far as it safely
can and says where it stopped: short of a placeholder, CSV field or JSON string that the next
chunk may complete. The rest is carried over, so a placeholder split across two reads is still
found. Memory is a few chunks, plus the longest CSV field or JSON string when one is larger than
a chunk (reads then grow with it, so the work stays linear).
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import TYPE_CHECKING, BinaryIO, Protocol, cast

from vault._dataclass import dataclass
from vault.errors import InputError
from vault.placeholders import Matcher, Reason, Resolver
from vault.restore._codec import Decoder, Encoder, pick_encoding
from vault.restore._formats import (
    FORMATS,
    SAMPLE,
    Format,
    decide,
    detect_dialect,
    document_kind,
)
from vault.restore._report import RestoreReport, UnresolvedPlaceholder, report_of

if TYPE_CHECKING:
    # The CSV and JSON processors load with the first input in their format: a text answer
    # does not pay for their modules (csv, the field scanner; cold start, bench_startup.py).
    from vault.restore._csvfmt import CsvProcessor
    from vault.restore._jsonfmt import JsonProcessor

# 256 KiB: the few copies of a chunk a pass makes (decoded, restored, encoded) stay in a core's
# L2 cache, and glibc serves them from the heap instead of fresh mmap()s: 1 MiB chunks cost
# about 250 page faults per MB restored (a quarter of the CPU time of a text restore went to the
# kernel) for no fewer instructions.
CHUNK_SIZE = 1 << 18


@dataclass(frozen=True)
class RestoreOptions:
    """How to restore; the defaults suit a UTF-8 file whose name tells its format."""

    format: str = "auto"  # auto | text | csv | json | jsonl
    lenient: bool = False
    neutralize_formulas: bool = False
    delimiter: str | None = None
    quotechar: str | None = None
    encoding: str | None = None
    name: str | None = None  # the input's file name, for ``auto``
    chunk_size: int = CHUNK_SIZE
    to: str | None = None  # "text": a PDF's restored text (a restored PDF is refused)
    # Markdown link text keeps its brackets ("[John](mailto:...)"): for answers, not for a
    # job's own archived file, which must come back exactly as it was
    links: bool = True


class Processor(Protocol):
    def process(self, buffer: str, start: int, final: bool, base: int) -> tuple[str, int]:
        """Restore ``buffer[start:]`` as far as is safe; return (output, end).

        ``buffer[:start]`` is context already written; ``base`` is the absolute character
        offset of ``buffer[0]``. With ``final`` the whole buffer is consumed.
        """
        ...


class TextProcessor:
    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    def process(self, buffer: str, start: int, final: bool, base: int) -> tuple[str, int]:
        return self.matcher.restore_span(buffer, start, final, base)


class LiveTextProcessor:
    """Text that is written as soon as it is safe: only a possible placeholder start waits."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    def process(self, buffer: str, start: int, final: bool, base: int) -> tuple[str, int]:
        end = len(buffer) if final else self.matcher.safe_end(buffer, start)
        return self.matcher.restore_region(buffer, start, end, base)


@dataclass(frozen=True)
class _Decided:
    """The format chosen for an input, why, and the text read to choose it."""

    format: Format
    reason: str
    delimiter: str | None
    text: str  # everything read so far, decoded
    complete: bool


def _decide(
    src: BinaryIO,
    read: Callable[[BinaryIO, int], bytes],
    size: int,
    decoder: Decoder,
    options: RestoreOptions,
    text: str,
    complete: bool,
) -> _Decided:
    """The format: given, else decided on the first ``SAMPLE`` characters (read on until they
    are there, the input ends, or no more text can change the decision)."""
    if options.format != "auto":
        return _Decided(cast(Format, options.format), "given (--format)", None, text, complete)
    while True:
        decided = decide(options.name, text, complete)
        if decided is not None:
            return _Decided(decided.format, decided.reason, decided.delimiter, text, complete)
        data = read(src, size)
        complete = not data
        text += decoder.decode(data, final=complete)


class _Positions:
    """Turns absolute character offsets into line:column.

    Counting lines costs a pass over the text, and is only needed when something is left
    unresolved. So for a seekable input nothing is counted while restoring; if needed, the
    input is read again at the end (``locate``). Standard input is counted as it goes by.
    """

    def __init__(self, counting: bool) -> None:
        self.counting = counting
        self.scanned = 0  # absolute offset up to which lines are counted
        self.lines = 0  # LF characters before `scanned`
        self.last_newline = -1  # absolute offset of the last LF before `scanned`
        self.found: list[UnresolvedPlaceholder] = []
        self.pending: list[tuple[str, int, Reason]] = []

    def advance(
        self, buffer: str, base: int, end: int, pending: list[tuple[str, int, Reason]]
    ) -> None:
        """Account for ``buffer[:end]`` (``buffer[0]`` at offset ``base``)."""
        if not self.counting:
            self.pending.extend(pending)
            return
        lo = self.scanned - base
        for text, offset, reason in pending:
            rel = offset - base
            newline = buffer.rfind("\n", lo, rel)
            column = rel - newline if newline != -1 else offset - self.last_newline
            line = self.lines + buffer.count("\n", lo, rel) + 1
            self.found.append(UnresolvedPlaceholder(text, line, column, reason))
        self.lines += buffer.count("\n", lo, end)
        newline = buffer.rfind("\n", lo, end)
        if newline != -1:
            self.last_newline = base + newline
        self.scanned = base + end

    def locate(self, src: BinaryIO, origin: int, encoding: str, size: int) -> None:
        """Place what ``advance`` kept aside by reading the input again from ``origin``."""
        if not self.pending:
            return
        src.seek(origin)
        decoder = Decoder(encoding)
        self.counting = True
        base = 0
        pending = self.pending
        while pending:
            data = _read(src, size)
            text = decoder.decode(data, final=not data)
            end = base + len(text)
            here = [p for p in pending if p[1] < end or not data]
            pending = pending[len(here) :]
            self.advance(text, base, len(text), here)
            base = end
            if not data:
                break


def _origin(src: BinaryIO) -> int | None:
    """Where a seekable input starts (to read it again), else None."""
    try:
        return src.tell() if src.seekable() else None
    except (OSError, ValueError):
        return None


def _read_available(src: BinaryIO, size: int) -> bytes:
    """What the input has now, up to ``size`` bytes (waits only when it has nothing)."""
    read1 = getattr(src, "read1", None)
    return cast(bytes, read1(size)) if read1 is not None else src.read(size)


def _read(src: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at the end of the input (pipes return short reads)."""
    parts: list[bytes] = []
    wanted = size
    while wanted > 0:
        data = src.read(wanted)
        if not data:
            break
        parts.append(data)
        wanted -= len(data)
    return b"".join(parts)


def restore_stream(
    src: BinaryIO,
    dst: BinaryIO,
    resolver: Resolver,
    options: RestoreOptions = RestoreOptions(),
    *,
    progress: Callable[[int], None] | None = None,
    live: bool = False,
) -> RestoreReport:
    """Restore ``src`` into ``dst``; return the report. Raises ``InputError`` subclasses.

    ``progress`` is called with the number of input bytes read so far after each chunk.
    ``live`` (a pipe, such as an LLM's streamed answer): take what each read returns instead
    of waiting for whole chunks, hold back only what could still be part of a placeholder, and
    flush ``dst`` after each write, so the answer appears as it arrives.
    """
    if options.format not in FORMATS:
        raise InputError(f"unknown format {options.format!r} (one of {', '.join(FORMATS)})")
    size = max(options.chunk_size, 1)
    origin = _origin(src)
    read = _read_available if live else _read
    head = read(src, size)
    kind = document_kind(options.name, head, options.format)
    if kind is not None:
        # Documents only: the zip, XML and PDF readers stay unloaded for text (cold start).
        from vault.restore._containers import restore_document

        return restore_document(
            src,
            head,
            dst,
            resolver,
            kind,
            name=options.name,
            lenient=options.lenient,
            neutralize_formulas=options.neutralize_formulas,
            to=options.to,
        )
    encoding = pick_encoding(head, options.encoding)
    decoder = Decoder(encoding)
    complete = not head
    first = decoder.decode(head, final=complete)
    detection = _decide(src, read, size, decoder, options, first, complete)
    first, complete, fmt = detection.text, detection.complete, detection.format
    if options.neutralize_formulas and fmt != "csv":
        raise InputError("--neutralize-formulas applies to CSV and XLSX only")
    matcher = Matcher(resolver, lenient=options.lenient, links=options.links and fmt != "csv")
    processor: Processor
    csv_processor: CsvProcessor | None = None
    json_processor: JsonProcessor | None = None
    if fmt == "csv":
        while not complete and len(first) < SAMPLE:  # the dialect, too, from a fixed prefix
            data = read(src, size)
            complete = not data
            first += decoder.decode(data, final=complete)
        dialect = detect_dialect(
            options.name,
            first,
            complete,
            delimiter=options.delimiter or detection.delimiter,
            quotechar=options.quotechar,
        )
        from vault.restore._csvfmt import CsvProcessor

        processor = csv_processor = CsvProcessor(
            matcher, dialect, neutralize=options.neutralize_formulas
        )
    elif fmt in ("json", "jsonl"):
        from vault.restore._jsonfmt import JsonProcessor

        processor = json_processor = JsonProcessor(matcher)
    elif live:
        processor = LiveTextProcessor(matcher)
    else:
        processor = TextProcessor(matcher)

    encoder = Encoder(encoding)
    explain = _unwritable(matcher, encoding)
    positions = _Positions(counting=origin is None)
    tally = matcher.tally
    buffer, start, base = first, 0, 0
    final = complete
    while True:
        listed = len(tally.unresolved)
        out, end = processor.process(buffer, start, final, base)
        if out:
            dst.write(encoder.encode(out, explain))
            if live:
                dst.flush()
        positions.advance(buffer, base, end, tally.unresolved[listed:])
        if progress is not None:
            progress(decoder.bytes_in)
        if final:
            tail = encoder.finish(explain)
            if tail:
                dst.write(tail)
            break
        keep = max(end - 2, 0)  # two characters of context before the next start
        carry = len(buffer) - end
        data = read(src, max(size, carry))
        final = len(data) == 0
        buffer = buffer[keep:] + decoder.decode(data, final)
        base += keep
        start = end - keep

    if origin is not None:
        positions.locate(src, origin, encoding, size)
    return report_of(
        matcher,
        tally,
        positions.found,
        format=fmt,
        format_reason=detection.reason,
        encoding=encoding,
        neutralized=csv_processor.neutralized if csv_processor else 0,
        quoted=csv_processor.quoted if csv_processor else 0,
        bytes_in=decoder.bytes_in,
        bytes_out=encoder.bytes_out,
        warnings=_key_warnings(json_processor),
    )


def _key_warnings(processor: JsonProcessor | None) -> tuple[str, ...]:
    """JSON: placeholders restored in object keys (review-attack6 B7). Two keys of one object
    may then be equal (``{"[PERSON_NAME_1]": 1, "Ann Smith": 2}``), and a JSON reader keeps
    only one of them: said, never silent; the output is written as restored."""
    n = 0 if processor is None else processor.keys_restored
    if not n:
        return ()
    return (
        f"{n} placeholder(s) restored in JSON object keys: a restored key may now equal another "
        "key of its object, and a JSON reader keeps only one of them; check the output",
    )


def _unwritable(matcher: Matcher, encoding: str) -> Callable[[], list[str]]:
    """Lists the restored placeholders whose original ``encoding`` cannot hold (for errors)."""

    def explain() -> list[str]:
        names = []
        for placeholder in matcher.restored_counts():
            original = matcher.resolver.originals.get(placeholder, "")
            try:
                original.encode(encoding)
            except UnicodeEncodeError:
                names.append(placeholder)
        return names

    return explain


def restore_bytes(
    data: bytes, resolver: Resolver, options: RestoreOptions = RestoreOptions()
) -> tuple[bytes, RestoreReport]:
    """Restore a whole input held in memory."""
    out = BytesIO()
    report = restore_stream(BytesIO(data), out, resolver, options)
    return out.getvalue(), report


def restore_text(
    text: str, resolver: Resolver, *, lenient: bool = False, format: str = "text"
) -> tuple[str, RestoreReport]:
    """Restore a string (text, CSV or JSON); return the restored string and the report.

    Text goes straight to the matcher (no encoding round trip); the output and the report are
    the ones ``restore_stream`` gives for the same text."""
    if format != "text":
        options = RestoreOptions(format=format, lenient=lenient, encoding="utf-8")
        data, report = restore_bytes(text.encode("utf-8"), resolver, options)
        return data.decode("utf-8"), report
    nul = text.find("\x00")
    if nul != -1:
        offset = len(text[:nul].encode("utf-8", "surrogatepass"))
        raise InputError(
            f"input looks binary (NUL byte at byte offset {offset}), not text; "
            "if it is UTF-16 text, name its encoding (--encoding utf-16)"
        )
    bytes_in = len(text.encode("utf-8"))
    matcher = Matcher(resolver, lenient=lenient)
    out = matcher.sub(text)
    tally = matcher.tally
    found: list[UnresolvedPlaceholder] = []
    line, line_start, pos = 1, 0, 0  # one pass: unresolved come in text order
    for token, offset, reason in sorted(tally.unresolved, key=lambda u: u[1]):
        line += text.count("\n", pos, offset)
        newline = text.rfind("\n", pos, offset)
        line_start = newline + 1 if newline != -1 else line_start
        pos = offset
        found.append(UnresolvedPlaceholder(token, line, offset - line_start + 1, reason))
    return out, report_of(
        matcher,
        tally,
        found,
        format="text",
        format_reason="given (--format)",
        bytes_in=bytes_in,
        bytes_out=len(out.encode("utf-8")),
    )
