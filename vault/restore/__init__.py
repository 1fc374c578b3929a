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
        "CHUNK_SIZE": "vault.restore._engine",
        "FORMATS": "vault.restore._formats",
        "UNSUPPORTED": "vault.restore._formats",
        "detect_format": "vault.restore._formats",
        "plural": "vault.restore._report",
        "restore_bytes": "vault.restore._engine",
        "restore_stream": "vault.restore._engine",
        "restore_text": "vault.restore._engine",
        "AtomicOutput": "vault.restore._output",
        "is_null_device": "vault.restore._output",
        "refuse_special": "vault.restore._output",
        "CsvDialect": "vault.restore._formats",
        "RestoreOptions": "vault.restore._engine",
        "RestoreReport": "vault.restore._report",
        "StreamRestorer": "vault.restore._stream",
        "UnresolvedPlaceholder": "vault.restore._report",
    },
)

if TYPE_CHECKING:
    from vault.restore._engine import (
        CHUNK_SIZE,
        RestoreOptions,
        restore_bytes,
        restore_stream,
        restore_text,
    )
    from vault.restore._formats import FORMATS, UNSUPPORTED, CsvDialect, detect_format
    from vault.restore._output import AtomicOutput, is_null_device, refuse_special
    from vault.restore._report import RestoreReport, UnresolvedPlaceholder, plural
    from vault.restore._stream import StreamRestorer

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
    "is_null_device",
    "plural",
    "refuse_special",
    "restore_bytes",
    "restore_stream",
    "restore_text",
]
