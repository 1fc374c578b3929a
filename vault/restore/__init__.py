"""Restore originals into text, CSV and JSON (tier L4).

Works on a ``Resolver`` (placeholder -> original, from ``vault.placeholders``), never on the
store, so it is tested without a vault. ``StreamRestorer`` restores a token stream chunk by
chunk. The CLI does: resolve the maps, restore into an
``AtomicOutput``'s temporary file, commit the access-log entry, then ``commit()`` the output.
"""

from __future__ import annotations

from vault.restore.engine import (
    CHUNK_SIZE,
    RestoreOptions,
    restore_bytes,
    restore_stream,
    restore_text,
)
from vault.restore.formats import FORMATS, UNSUPPORTED, CsvDialect, detect_format
from vault.restore.output import AtomicOutput
from vault.restore.report import RestoreReport, UnresolvedPlaceholder, plural
from vault.restore.stream import StreamRestorer

__all__ = [
    "CHUNK_SIZE",
    "FORMATS",
    "UNSUPPORTED",
    "AtomicOutput",
    "CsvDialect",
    "RestoreOptions",
    "RestoreReport",
    "StreamRestorer",
    "UnresolvedPlaceholder",
    "detect_format",
    "plural",
    "restore_bytes",
    "restore_stream",
    "restore_text",
]
