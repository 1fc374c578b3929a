"""Restore originals into text, CSV and JSON (tier L4).

Works on a ``Resolver`` (placeholder -> original, from ``vault.placeholders``), never on the
store, so it is tested without a vault. ``StreamRestorer`` restores a token stream chunk by
chunk. The CLI does: resolve the maps, restore into an
``AtomicOutput``'s temporary file, commit the access-log entry, then ``commit()`` the output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault._lazy import lazy_exports

# Imported on first use: ``export`` needs only ``AtomicOutput``, not the restore engine.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CHUNK_SIZE": "vault.restore.engine",
        "FORMATS": "vault.restore.formats",
        "UNSUPPORTED": "vault.restore.formats",
        "detect_format": "vault.restore.formats",
        "plural": "vault.restore.report",
        "restore_bytes": "vault.restore.engine",
        "restore_stream": "vault.restore.engine",
        "restore_text": "vault.restore.engine",
        "AtomicOutput": "vault.restore.output",
        "CsvDialect": "vault.restore.formats",
        "RestoreOptions": "vault.restore.engine",
        "RestoreReport": "vault.restore.report",
        "StreamRestorer": "vault.restore.stream",
        "UnresolvedPlaceholder": "vault.restore.report",
    },
)

if TYPE_CHECKING:
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
