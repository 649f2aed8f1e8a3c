"""A zip of many archived messages (one ``.eml`` each) plus ``manifest.csv``, produced as a stream.

Memory stays flat whatever the number and size of the messages: one message is in memory at a
time, and both the central directory and the manifest are spooled to temporary files as entries
go (``zipfile`` would keep a ``ZipInfo`` per entry, about 1.3 KB each: 1.3 GB for a million
messages). The writer is small because it only ever appends: each message is compressed whole,
so its local header carries the real CRC and sizes; Zip64 records are written when the archive
passes 4 GiB or 65,535 entries (readers: Windows Explorer, macOS, Info-ZIP, 7-Zip, Python).

Entry names are ``000001_2025-03-14_0926_Subject.eml``: the running number makes them unique
whatever the subjects (duplicates, slashes, CJK, case-only differences); the manifest maps them back
to archive ids and gives each file's SHA-256 so a recipient can check what they received. Each
message's bytes are hashed once as they are read and compared with the SHA-256 recorded at
archiving: a message whose stored bytes changed stops the export (``CorruptMessage``) instead of
going out silently. Manifest cells that a spreadsheet would run as a formula (a subject such as
``=HYPERLINK(...)``) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from server.csv_cells import neutralise
from server.export.names import eml_filename
from server.model import Message, MessageHead, format_time, now_utc
from server.store.protocol import StoreError

MANIFEST_NAME = "manifest.csv"
MANIFEST_FIELDS = ("id", "file_name", "message_id", "date", "sender", "subject", "size", "sha256")
CHUNK = 256 * 1024  # bytes gathered before a chunk is handed out
COMPRESS_LEVEL = 1  # mail text: level 1 keeps most of the gain of 6 at three times the speed
SPOOL = 8 << 20  # central directory and manifest stay in memory up to this, then go to disk

_LIMIT32, _LIMIT16 = 0xFFFFFFFF, 0xFFFF
_STORED, _DEFLATED = 0, 8
_UTF8 = 0x0800  # general purpose flag: names are UTF-8
_UNIX_FILE = 0o100644 << 16
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sBBHHHHHIIIHHHHHII")


Exported = Message | MessageHead  # what an entry and its manifest row are made from


class CorruptMessage(StoreError):
    """A message's stored bytes no longer match the SHA-256 recorded when it was archived."""


@dataclass
class ZipStats:
    """Filled while the stream is consumed (for the audit entry and progress)."""

    messages: int = 0
    bytes_in: int = 0


def _dos_time(moment: datetime) -> tuple[int, int]:
    """(time, date) in MS-DOS format, which spans 1980-2107 only; dates outside are clamped."""
    if moment.year < 1980:
        return 0, (1 << 5) | 1
    if moment.year > 2107:
        return (23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31
    return (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2), \
        ((moment.year - 1980) << 9) | (moment.month << 5) | moment.day


class ZipWriter:
    """Append-only zip writer: ``add`` returns one entry's header and data, ``finish`` the trailer."""

    def __init__(self, directory: IO[bytes], *, force_zip64: bool = False) -> None:
        """``directory``: an empty scratch file for the central directory (the caller closes it)."""
        self.offset = 0
        self.count = 0
        self.force_zip64 = force_zip64
        self.directory = directory
        self._records = bytearray()  # central records not yet spooled: one spool write per CHUNK, not per entry

    def add(self, name: str, data: bytes, moment: datetime, *, compress: bool = True,
            crc: int | None = None) -> tuple[bytes, bytes]:  # fmt: skip
        """The entry's local header and its (compressed) data, to be written in that order. They are
        handed out apart so the caller can gather many entries into one chunk with one copy.
        ``crc``: the CRC-32 of ``data`` when the caller has it already."""
        body = _deflate(data) if compress else data
        crc = zlib.crc32(data) if crc is None else crc
        return self.header(name, _DEFLATED if compress else _STORED, moment, crc, len(body), len(data)), body

    def add_stream(self, name: str, blocks: Iterable[bytes], size: int, crc: int, moment: datetime) -> Iterator[bytes]:
        """A stored (uncompressed) entry whose CRC and size are known beforehand, yielded in blocks."""
        yield self.header(name, _STORED, moment, crc, size, size)
        yield from blocks

    def header(self, name: str, method: int, moment: datetime, crc: int, csize: int, usize: int) -> bytes:
        """The local header of the next entry, whose ``csize`` bytes of data the caller writes right
        after it; its central directory record is kept for ``finish``."""
        encoded = name.encode("utf-8")
        dostime, dosdate = _dos_time(moment)
        offset = self.offset
        self.offset += _LOCAL.size + len(encoded) + csize
        self.count += 1
        if self.force_zip64 or usize >= _LIMIT32 or csize >= _LIMIT32 or offset >= _LIMIT32:
            return self._big_header(encoded, method, dostime, dosdate, crc, csize, usize, offset)
        self._remember(_CENTRAL.pack(b"PK\x01\x02", 45, 3, 20, _UTF8, method, dostime, dosdate, crc, csize, usize,
                                     len(encoded), 0, 0, 0, 0, _UNIX_FILE, offset) + encoded)  # fmt: skip
        return _LOCAL.pack(b"PK\x03\x04", 20, _UTF8, method, dostime, dosdate, crc, csize, usize, len(encoded), 0) + encoded

    def _big_header(self, name: bytes, method: int, dostime: int, dosdate: int, crc: int, csize: int, usize: int,
                    offset: int) -> bytes:  # fmt: skip
        """Zip64: sizes in the local extra field whenever forced or either is too large; in the
        central record only the values that do not fit (or all, when forced)."""
        big = self.force_zip64 or usize >= _LIMIT32 or csize >= _LIMIT32
        local_extra = struct.pack("<HHQQ", 1, 16, usize, csize) if big else b""
        sizes = (_LIMIT32, _LIMIT32) if big else (csize, usize)
        self.offset += len(local_extra)
        values, extra = [usize, csize, offset], b""
        for i, value in enumerate(values):
            if self.force_zip64 or value >= _LIMIT32:
                extra += struct.pack("<Q", value)
                values[i] = _LIMIT32
        if extra:
            extra = struct.pack("<HH", 1, len(extra)) + extra
        self._remember(_CENTRAL.pack(b"PK\x01\x02", 45, 3, 45 if extra else 20, _UTF8, method, dostime, dosdate, crc,
                                     values[1], values[0], len(name), len(extra), 0, 0, 0, _UNIX_FILE, values[2])
                       + name + extra)  # fmt: skip
        return _LOCAL.pack(b"PK\x03\x04", 45 if big else 20, _UTF8, method, dostime, dosdate, crc, *sizes, len(name),
                           len(local_extra)) + name + local_extra  # fmt: skip

    def _remember(self, record: bytes) -> None:
        self._records += record
        if len(self._records) >= CHUNK:
            self.directory.write(self._records)
            self._records.clear()

    def finish(self) -> Iterator[bytes]:
        """The central directory (from the spool) and the end records."""
        self.directory.write(self._records)
        self._records.clear()
        start, size = self.offset, self.directory.tell()
        self.directory.seek(0)
        while block := self.directory.read(CHUNK):
            yield block
        tail = b""
        if self.force_zip64 or self.count >= _LIMIT16 or start >= _LIMIT32 or size >= _LIMIT32:
            zip64_at = start + size
            tail += struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, self.count, self.count, size, start)
            tail += struct.pack("<4sIQI", b"PK\x06\x07", 0, zip64_at, 1)
        tail += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, min(self.count, _LIMIT16), min(self.count, _LIMIT16),
                            min(size, _LIMIT32), min(start, _LIMIT32), 0)
        yield tail


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def entry_name(number: int, message: Exported) -> str:
    return eml_filename(message.date, message.subject, prefix=f"{number:06d}_")


class _Manifest:
    """manifest.csv spooled as rows are added, with its CRC kept as it grows.

    Rows gather as text in memory and are encoded, checksummed and spooled together by ``flush``
    (the export calls it once a chunk), not one write each."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.crc = 0
        self.size = 0
        self._text = io.StringIO()
        self._csv = csv.writer(self._text, lineterminator="\r\n")
        self._text.write("\ufeff")  # BOM: spreadsheet programs then read the CJK subjects right
        self.row(MANIFEST_FIELDS)

    def row(self, values: Iterable[object]) -> None:
        self._csv.writerow([neutralise(v) for v in values])

    def message(self, message: Exported, name: str, size: int) -> None:
        """A message's row: only the fields that come from the mail itself can start like a
        formula (the id and SHA-256 are hex, the name starts with its number, the date with a year)."""
        self._csv.writerow((message.id, name, neutralise(message.message_id), format_time(message.date),
                            neutralise(message.sender), neutralise(message.subject), size, message.sha256))  # fmt: skip

    def flush(self) -> None:
        data = self._text.getvalue().encode("utf-8")
        self._text.seek(0)
        self._text.truncate()
        self.file.write(data)
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)

    def blocks(self) -> Iterator[bytes]:
        """The spooled rows (``flush`` first: the size and CRC go in the entry's header)."""
        self.file.seek(0)
        while block := self.file.read(CHUNK):
            yield block


def iter_zip(
    messages: Iterable[Exported],
    raw_of: Callable[[Exported], bytes],
    *,
    stats: ZipStats | None = None,
    force_zip64: bool = False,
    compress: bool = True,
    verified: bool = False,
    crc_of: Callable[[Exported], int] | None = None,
) -> Iterator[bytes]:
    """Yield the zip in chunks of about ``CHUNK`` bytes. ``raw_of`` returns a message's original bytes.

    ``compress=False`` stores the messages as they are: deflate is most of the CPU of an export
    (about 2/3), so a bulk job bound by CPU rather than bandwidth may prefer that. ``verified=True``:
    ``raw_of`` has already checked the bytes against ``Message.sha256`` (the services' reads do), so
    they are not hashed a second time. ``crc_of``: the CRC-32 of the bytes ``raw_of`` has just
    returned for a message, when the caller computed it elsewhere (``BatchedReads.crc_of``)."""
    stats = stats if stats is not None else ZipStats()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL) as directory, \
            tempfile.SpooledTemporaryFile(max_size=SPOOL) as manifest_file:  # closed even if the client goes away
        writer, manifest = ZipWriter(directory, force_zip64=force_zip64), _Manifest(manifest_file)
        yield from _entries(messages, raw_of, crc_of, stats, writer, manifest, compress, verified)
        manifest.flush()
        yield from writer.add_stream(MANIFEST_NAME, manifest.blocks(), manifest.size, manifest.crc, now_utc())
        yield from writer.finish()


def _entries(messages: Iterable[Exported], raw_of: Callable[[Exported], bytes], crc_of: Callable[[Exported], int] | None,
             stats: ZipStats, writer: ZipWriter, manifest: _Manifest, compress: bool, verified: bool) -> Iterator[bytes]:
    """Each message's header and bytes, gathered into chunks of about ``CHUNK`` (one copy of the
    mail, at the join)."""
    pending: list[bytes] = []
    size = 0
    for message in messages:
        raw = raw_of(message)
        if not verified and (digest := hashlib.sha256(raw).hexdigest()) != message.sha256:
            raise CorruptMessage(f"message {message.id}: stored bytes have SHA-256 {digest}, archived as "
                                 f"{message.sha256}; export stopped")
        stats.messages += 1
        stats.bytes_in += len(raw)
        name = entry_name(stats.messages, message)
        head, body = writer.add(name, raw, message.date, compress=compress, crc=crc_of(message) if crc_of else None)
        pending += (head, body)
        size += len(head) + len(body)
        manifest.message(message, name, len(raw))
        if size >= CHUNK:
            yield b"".join(pending)
            manifest.flush()
            pending, size = [], 0
    if pending:
        yield b"".join(pending)
