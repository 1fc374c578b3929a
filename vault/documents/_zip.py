"""Reading Office zip containers safely, and writing them back with only some members changed.

Reading: the central directory is read by ``zipfile``; before anything is decompressed every
member is checked against ``ZipLimits`` (its size, the sum of sizes, the expansion ratio, the
number of members), and while a member is read its real size is counted again, so a header that
lies about sizes cannot get past the limits. An OLE compound file (the container Office uses for
a password-protected DOCX/XLSX, and for the old binary formats) and zip-level encryption are
refused with a message saying what to do.

Writing (``ZipRewriter``): members are written in the order of the input. A member that does not
change is copied as its raw bytes, local header, compressed data and data descriptor exactly as
they were, and its central directory record is the input's, with only the offset updated. A
changed member gets the input's local header and central record with the CRC, the sizes and the
offset patched (and the data-descriptor flag cleared, because the sizes are now in the header).
So a file whose placeholders are all restored differs from the input only inside the changed
members. Zip64 archives (over 4 GiB or 65,535 members) are refused.
"""

from __future__ import annotations

import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, BinaryIO

from vault._dataclass import dataclass
from vault.errors import DocumentError, UnsafeDocument

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
_READ = 1 << 20
_LOCAL = struct.Struct("<4s5H3L2H")  # signature .. extra length, 30 bytes
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # signature .. local header offset, 46 bytes
_END = struct.Struct("<4s4H2LH")  # end of central directory, 22 bytes


@dataclass(frozen=True)
class ZipLimits:
    """How large an Office container may expand. Exceeding any is ``UnsafeDocument``."""

    member_bytes: int = 2 << 30  # one member, uncompressed
    total_bytes: int = 4 << 30  # all members, uncompressed
    ratio: int = 200  # uncompressed / compressed, for members over ``ratio_from`` bytes
    ratio_from: int = 1 << 20
    members: int = 10_000


DEFAULT_LIMITS = ZipLimits()


def refuse_ole(head: bytes, name: str) -> None:
    """An OLE compound file is an encrypted DOCX/XLSX (or a legacy .doc/.xls): refuse it."""
    if head.startswith(OLE_MAGIC):
        raise DocumentError(
            f"{name} is a password-protected (encrypted) or legacy binary Office file: open it in "
            "the office suite, remove the password or save it as .docx/.xlsx, and restore that"
        )


class SafeZip:
    """An Office container opened for reading, checked against ``limits`` before any use."""

    def __init__(self, src: BinaryIO, name: str, limits: ZipLimits = DEFAULT_LIMITS) -> None:
        self.name = name
        self.src = src
        self.limits = limits
        src.seek(0)
        refuse_ole(src.read(8), name)
        src.seek(0)
        try:
            self.zip = zipfile.ZipFile(src)
            self.infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            raise DocumentError(f"{name} is not a readable zip container (corrupt or cut)") from exc
        self._check()
        self._dir_offset = 0
        self.raw_central = self._central_records()
        starts = sorted(info.header_offset for info in self.infos)
        self._ends = dict(zip(starts, [*starts[1:], self._dir_offset], strict=True))

    def _check(self) -> None:
        limits = self.limits
        if len(self.infos) > limits.members:
            raise UnsafeDocument(
                f"{self.name} has {len(self.infos)} members, more than {limits.members}"
            )
        total = 0
        for info in self.infos:
            if info.flag_bits & 0x1:
                raise DocumentError(
                    f"{self.name}: member {info.filename} is encrypted; remove the password "
                    "in the office suite and restore that file"
                )
            _check_size(self.name, info.filename, info.file_size, info.compress_size, limits)
            total += info.file_size
            if total > limits.total_bytes:
                raise UnsafeDocument(
                    f"{self.name} expands past {limits.total_bytes} bytes in total (zip bomb?)"
                )

    def names(self) -> list[str]:
        return [info.filename for info in self.infos]

    def has(self, name: str) -> bool:
        return name in self.zip.NameToInfo

    def chunks(self, name: str) -> Iterator[bytes]:
        """The member's uncompressed bytes, in pieces; its real size is checked as it is read."""
        info = self.zip.getinfo(name)
        seen = 0
        try:
            with self.zip.open(info) as member:
                while True:
                    data = member.read(_READ)
                    if not data:
                        break
                    seen += len(data)
                    _check_size(self.name, name, seen, info.compress_size, self.limits)
                    yield data
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise DocumentError(f"{self.name}: member {name} is corrupt") from exc

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        """A small member whole (XML parts that describe the package)."""
        parts: list[bytes] = []
        size = 0
        for data in self.chunks(name):
            size += len(data)
            if size > limit:
                raise UnsafeDocument(f"{self.name}: member {name} is larger than {limit} bytes")
            parts.append(data)
        return b"".join(parts)

    def _central_records(self) -> list[bytes]:
        """The raw central directory records, in the order of ``infos``."""
        src = self.src
        src.seek(0, 2)
        size = src.tell()
        tail_size = min(size, 22 + 65535)
        src.seek(size - tail_size)
        tail = src.read(tail_size)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _END.size:
            raise DocumentError(f"{self.name} is not a readable zip container (no directory)")
        fields = _END.unpack_from(tail, at)
        count, dir_size, dir_offset = fields[4], fields[5], fields[6]
        if 0xFFFFFFFF in (dir_size, dir_offset) or count == 0xFFFF:
            raise DocumentError(f"{self.name} is a zip64 archive, which is not supported")
        self._dir_offset = dir_offset
        src.seek(dir_offset)
        directory = src.read(dir_size)
        records: list[bytes] = []
        pos = 0
        while pos + _CENTRAL.size <= len(directory) and directory[pos : pos + 4] == b"PK\x01\x02":
            f = _CENTRAL.unpack_from(directory, pos)
            end = pos + _CENTRAL.size + f[10] + f[11] + f[12]
            if 0xFFFFFFFF in (f[8], f[9], f[16]):
                raise DocumentError(f"{self.name} is a zip64 archive, which is not supported")
            records.append(directory[pos:end])
            pos = end
        if len(records) != len(self.infos):
            raise DocumentError(f"{self.name} has a damaged zip directory")
        return records

    def raw_span(self, index: int) -> tuple[int, int]:
        """Where member ``index`` lies in the input: local header .. end of data descriptor."""
        start = self.infos[index].header_offset
        return start, self._ends[start]

    def local_header(self, index: int) -> bytes:
        info = self.infos[index]
        self.src.seek(info.header_offset)
        fixed = self.src.read(_LOCAL.size)
        if len(fixed) < _LOCAL.size or fixed[:4] != ZIP_MAGIC:
            raise DocumentError(f"{self.name}: member {info.filename} has a damaged header")
        f = _LOCAL.unpack(fixed)
        return fixed + self.src.read(f[9] + f[10])


def _check_size(archive: str, member: str, size: int, compressed: int, limits: ZipLimits) -> None:
    if size > limits.member_bytes:
        raise UnsafeDocument(
            f"{archive}: member {member} expands past {limits.member_bytes} bytes (zip bomb?)"
        )
    if size > limits.ratio_from and size > limits.ratio * max(compressed, 1):
        raise UnsafeDocument(
            f"{archive}: member {member} expands more than {limits.ratio} times (zip bomb?)"
        )


class ZipRewriter:
    """Writes ``source``'s members to ``dst`` in order: copied raw, or replaced by new content."""

    def __init__(self, source: SafeZip, dst: IO[bytes]) -> None:
        self.source = source
        self.dst = dst
        self.offset = 0
        self.central: list[bytes] = []

    def _write(self, data: bytes) -> None:
        self.dst.write(data)
        self.offset += len(data)

    def copy(self, index: int) -> None:
        """Member ``index`` exactly as it is in the input."""
        start, end = self.source.raw_span(index)
        record = bytearray(self.source.raw_central[index])
        struct.pack_into("<L", record, 42, self.offset)
        self.central.append(bytes(record))
        src = self.source.src
        src.seek(start)
        left = end - start
        while left > 0:
            data = src.read(min(_READ, left))
            if not data:
                raise DocumentError(f"{self.source.name} is cut short")
            self._write(data)
            left -= len(data)

    def replace(self, index: int, content: IO[bytes]) -> None:
        """Member ``index`` with new uncompressed ``content`` (read from its start)."""
        info = self.source.infos[index]
        method = info.compress_type if info.compress_type in (0, 8) else 8
        crc, size = 0, 0
        with tempfile.TemporaryFile() as packed:
            squeeze = zlib.compressobj(6, zlib.DEFLATED, -15) if method == 8 else None
            content.seek(0)
            while data := content.read(_READ):
                crc = zlib.crc32(data, crc)
                size += len(data)
                packed.write(squeeze.compress(data) if squeeze is not None else data)
            if squeeze is not None:
                packed.write(squeeze.flush())
            packed_size = packed.tell()
            if size >= 0xFFFFFFFF or packed_size >= 0xFFFFFFFF:
                raise DocumentError(f"{self.source.name}: member {info.filename} is too large")
            header = bytearray(self.source.local_header(index))
            flags = struct.unpack_from("<H", header, 6)[0] & ~0x8
            struct.pack_into("<HH", header, 6, flags, method)
            struct.pack_into("<3L", header, 14, crc, packed_size, size)
            record = bytearray(self.source.raw_central[index])
            struct.pack_into("<HH", record, 8, flags, method)
            struct.pack_into("<3L", record, 16, crc, packed_size, size)
            struct.pack_into("<L", record, 42, self.offset)
            self.central.append(bytes(record))
            self._write(bytes(header))
            packed.seek(0)
            while data := packed.read(_READ):
                self._write(data)

    def finish(self) -> None:
        """The central directory and its end record (with the input's archive comment)."""
        start = self.offset
        for record in self.central:
            self._write(record)
        comment = self.source.zip.comment
        count = len(self.central)
        self._write(
            _END.pack(b"PK\x05\x06", 0, 0, count, count, self.offset - start, start, len(comment))
            + comment
        )
