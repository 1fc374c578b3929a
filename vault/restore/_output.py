"""Atomic output: restored bytes are released only when ``commit()`` is called.

The restore writes into a temporary file (mode 0600) next to the destination, so the final
``rename`` stays on one file system. ``commit()`` flushes and fsyncs it, then renames it over the
destination (or, for standard output, copies it out). The caller commits the access-log entry
*before* calling ``commit()``; if anything fails before, the temporary file is removed and no
partial output exists.

With ``replace=False`` an existing destination is never replaced: the temporary file is
hard-linked to the destination name, which fails atomically when the name exists (no window
between a check and the rename). With ``replace=True`` an existing destination keeps its
permission bits: the temporary file takes them just before the rename.

A destination that exists and is not a regular file (a device such as ``/dev/null``, a FIFO,
a socket), or a symlink to one (``/dev/stdout``), is refused even with ``replace=True``:
renaming over it would replace a system node with a file of plaintext. Standard output is
``-o -``.

Where the system has ``O_TMPFILE`` (Linux), the temporary file has no name at all until
``commit()`` links it in: a process killed mid-write leaves no file behind, so no restored
plaintext lingers on disk. Elsewhere a killed process may leave a hidden ``.NAME.*.part`` file
(mode 0600), never a partial destination.

``tempfile`` and ``shutil`` load only where they are used (standard output, no
``O_TMPFILE``): with ``random``, ``bz2`` and ``lzma`` behind them they would cost every
command that writes a file a cold start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from vault.errors import InputError, OutputExists


class AtomicOutput:
    """``with AtomicOutput(path_or_stream) as out: write(out.file); ...; out.commit()``.

    A ``Path`` is replaced atomically at ``commit()``; a binary stream (standard output)
    receives the bytes only at ``commit()``. The temporary file exists from construction on.
    """

    def __init__(self, destination: Path | BinaryIO, *, replace: bool = True) -> None:
        self.replace = replace
        self.destination = destination if isinstance(destination, Path) else None
        self._stream = None if isinstance(destination, Path) else destination
        self.committed = False
        directory = self.destination.parent if self.destination is not None else None
        self._path: Path | None = None
        if directory is None:
            import tempfile

            directory_or_tmp = Path(tempfile.gettempdir())
        else:
            directory_or_tmp = directory
        fd = _unnamed(directory_or_tmp)
        if fd is None:
            import tempfile

            try:
                if self.destination is not None:
                    fd, name = tempfile.mkstemp(
                        dir=directory, prefix=f".{self.destination.name}.", suffix=".part"
                    )
                else:
                    fd, name = tempfile.mkstemp(prefix="questa-vault-restore-", suffix=".part")
            except OSError as exc:
                raise InputError(f"cannot write {self._label()}: {exc.strerror or exc}") from exc
            self._path = Path(name)
        os.fchmod(fd, 0o600)
        self.file: BinaryIO = os.fdopen(fd, "w+b")
        self._open = True

    def __enter__(self) -> AtomicOutput:
        return self

    def _label(self) -> str:
        return str(self.destination) if self.destination is not None else "standard output"

    def commit(self) -> None:
        """Put the output in place. Call only after the access-log entry is committed."""
        if not self._open or self.committed:
            raise InputError("the restored output was already released or discarded")
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            if self.destination is not None:
                refuse_special(self.destination)
                named = self._path if self._path is not None else self._link_in()
                if self.replace:
                    _keep_mode(self.file.fileno(), self.destination)
                self.file.close()
                self._open = False
                if self.replace:
                    os.replace(named, self.destination)
                else:
                    try:
                        os.link(named, self.destination)
                    except FileExistsError as exc:
                        raise OutputExists(
                            f"{self.destination} exists; --force replaces it"
                        ) from exc
                    os.unlink(named)
                self._path = None
                _fsync_directory(self.destination.parent)
            elif self._stream is not None:
                import shutil

                self.file.seek(0)
                shutil.copyfileobj(self.file, self._stream, 1 << 20)
                self._stream.flush()
        except OSError as exc:
            raise InputError(f"cannot write {self._label()}: {exc.strerror or exc}") from exc
        self.committed = True

    def _link_in(self) -> Path:
        """Give the unnamed temporary file a hidden name beside the destination (just before
        the rename, so a name exists only for that instant)."""
        if self.destination is None:
            raise InputError("standard output needs no name")
        name = f".{self.destination.name}.{os.urandom(8).hex()}.part"
        # A directory fd makes os.link use linkat(..., AT_SYMLINK_FOLLOW), which links the
        # file behind the /proc magic link rather than the link itself.
        directory = os.open(self.destination.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.link(
                f"/proc/self/fd/{self.file.fileno()}",
                name,
                dst_dir_fd=directory,
                follow_symlinks=True,
            )
        finally:
            os.close(directory)
        self._path = self.destination.parent / name
        return self._path

    def discard(self) -> None:
        """Close and remove the temporary file; nothing more is released."""
        self.file.close()
        self._open = False
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


def refuse_special(destination: Path) -> None:
    """``InputError`` when ``destination`` exists and is not a regular file, or is a symlink to
    something that is not one (a device, FIFO, socket or directory): an output never replaces
    such a node. A symlink to a regular file, or a dangling one, is replaced (not followed).
    A path that is, or links through, a process's file descriptor (``/dev/stdout``,
    ``/dev/fd/N``, ``/proc/self/fd/N``) is refused whatever the descriptor is open on: when
    standard output is redirected to a regular file, ``/dev/stdout`` is a link to a regular
    file, and replacing it would replace ``/dev/stdout`` itself."""
    if _through_descriptor(destination):
        raise InputError(
            f"{destination} is a process's file descriptor (/dev/stdout, /dev/fd/N, "
            "/proc/self/fd/N), never replaced: write to standard output with -o -"
        )
    for follow in (False, True):
        try:
            mode = os.stat(destination, follow_symlinks=follow).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError:
            continue
        if stat.S_ISLNK(mode):
            continue
        if not stat.S_ISREG(mode):
            what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise InputError(
                f"{destination} is {what} (a device, pipe or socket is never replaced): "
                "write to a regular file, or to standard output with -o -"
            )


def is_null_device(destination: Path) -> bool:
    """Whether ``destination`` is the null device (``/dev/null``, or a link to it; not a
    descriptor path such as ``/dev/stdout``): a sink, written to as a stream (the bytes go
    nowhere), never renamed over like a file."""
    if _through_descriptor(destination):
        return False
    try:
        info, null = os.stat(destination), os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == null.st_rdev


_STANDARD_STREAMS = frozenset({"/dev/stdin", "/dev/stdout", "/dev/stderr"})


def _through_descriptor(destination: Path, hops: int = 40) -> bool:
    """True when ``destination``, or any link on the way to what it names, is a descriptor
    path: ``/dev/stdin|stdout|stderr``, anything under ``/dev/fd/`` or ``/proc/*/fd/``.
    Each hop is read by hand (``readlink``), with its directory resolved, because the last
    link of such a chain (``/proc/self/fd/1``) resolves to whatever the descriptor is open
    on, so ``realpath`` alone would hide it."""
    current = os.path.abspath(destination)
    for _ in range(hops):
        if current in _STANDARD_STREAMS:
            return True
        parent = os.path.realpath(os.path.dirname(current))
        full = os.path.join(parent, os.path.basename(current))
        parts = Path(full).parts
        if parts[1:3] == ("dev", "fd") or (parts[1:2] == ("proc",) and "fd" in parts[2:-1]):
            return True
        try:
            target = os.readlink(full)
        except OSError:  # not a link (or nothing there): the chain ends
            return False
        current = os.path.normpath(os.path.join(parent, target))
    return True  # a chain this long: refuse rather than guess


def _keep_mode(fd: int, destination: Path) -> None:
    """An existing regular file's permission bits, onto the file that replaces it. A symlink
    is not followed (its target's mode is none of ours): the new file stays 0600."""
    try:
        info = os.lstat(destination)
    except FileNotFoundError:
        return
    if stat.S_ISREG(info.st_mode):
        os.fchmod(fd, stat.S_IMODE(info.st_mode))


def _unnamed(directory: Path) -> int | None:
    """A file descriptor of an unnamed file in ``directory`` (``O_TMPFILE``), or None where
    the system or the file system does not offer it."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.exists("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_RDWR, 0o600)
    except OSError:
        return None


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
