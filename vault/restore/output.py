"""Atomic output: restored bytes are released only when ``commit()`` is called.

The restore writes into a temporary file (mode 0600) next to the destination, so the final
``rename`` stays on one file system. ``commit()`` flushes and fsyncs it, then renames it over the
destination (or, for standard output, copies it out). The caller commits the access-log entry
*before* calling ``commit()``; if anything fails before, the temporary file is removed and no
partial output exists. A process killed mid-write leaves at most a hidden ``.NAME.*.part`` file,
never a partial destination.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from vault.errors import InputError


class AtomicOutput:
    """``with AtomicOutput(path_or_stream) as out: write(out.file); ...; out.commit()``.

    A ``Path`` is replaced atomically at ``commit()``; a binary stream (standard output)
    receives the bytes only at ``commit()``. The temporary file exists from construction on.
    """

    def __init__(self, destination: Path | BinaryIO) -> None:
        self.destination = destination if isinstance(destination, Path) else None
        self._stream = None if isinstance(destination, Path) else destination
        self.committed = False
        try:
            if self.destination is not None:
                fd, name = tempfile.mkstemp(
                    dir=self.destination.parent, prefix=f".{self.destination.name}.", suffix=".part"
                )
            else:
                fd, name = tempfile.mkstemp(prefix="questa-vault-restore-", suffix=".part")
        except OSError as exc:
            raise InputError(f"cannot write {self._label()}: {exc.strerror or exc}") from exc
        os.fchmod(fd, 0o600)
        self._path: Path | None = Path(name)
        self.file: BinaryIO = os.fdopen(fd, "w+b")

    def __enter__(self) -> AtomicOutput:
        return self

    def _label(self) -> str:
        return str(self.destination) if self.destination is not None else "standard output"

    def commit(self) -> None:
        """Put the output in place. Call only after the access-log entry is committed."""
        if self._path is None or self.committed:
            raise InputError("the restored output was already released or discarded")
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            if self.destination is not None:
                self.file.close()
                os.replace(self._path, self.destination)
                self._path = None
                _fsync_directory(self.destination.parent)
            elif self._stream is not None:
                self.file.seek(0)
                shutil.copyfileobj(self.file, self._stream, 1 << 20)
                self._stream.flush()
        except OSError as exc:
            raise InputError(f"cannot write {self._label()}: {exc.strerror or exc}") from exc
        self.committed = True

    def discard(self) -> None:
        """Close and remove the temporary file; nothing more is released."""
        self.file.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
