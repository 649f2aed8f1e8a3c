"""A zip of many archived messages (one ``.eml`` each) plus ``manifest.csv``, produced as a stream.

The zip is written to a non-seekable sink, so ``zipfile`` puts sizes in data descriptors and never
seeks back; the caller gets the bytes chunk by chunk (an HTTP response, a file) while only one
message is in memory. The manifest is spooled to a temporary file as entries go and added last.
Entry names are ``000001_2025-03-14_0926_Subject.eml``: the running number makes them unique
whatever the subjects (duplicates, slashes, CJK, case-only differences); the manifest maps them
back to archive ids and gives each file's SHA-256 so a recipient can check what they received.

Known cost: ``zipfile`` keeps one ``ZipInfo`` per entry for the central directory (a few hundred
bytes each), so memory grows slowly with the number of entries, not with their size.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from server.export.names import eml_filename
from server.model import Message, format_time

MANIFEST_NAME = "manifest.csv"
MANIFEST_FIELDS = ("id", "file_name", "sha256", "size", "date", "subject")
CHUNK = 256 * 1024  # bytes gathered before a chunk is handed out
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class _Sink(io.RawIOBase):
    """Write-only, non-seekable: collects what zipfile writes until the generator hands it out."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.pending = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # noqa: ANN001 - bytes-like
        self._parts.append(bytes(data))
        self.pending += len(data)
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self.pending = 0
        return data


@dataclass
class ZipStats:
    """Filled while the stream is consumed (for the audit entry and progress)."""

    messages: int = 0
    bytes_in: int = 0


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    stamp = moment.timetuple()[:6]
    return stamp if stamp >= _ZIP_EPOCH else _ZIP_EPOCH


def entry_name(number: int, message: Message) -> str:
    return eml_filename(message.date, message.subject, prefix=f"{number:06d}_")


def _manifest_row(manifest: io.BufferedIOBase, values: Iterable[object]) -> None:
    line = io.StringIO()
    csv.writer(line, lineterminator="\r\n").writerow(values)
    manifest.write(line.getvalue().encode("utf-8"))


def iter_zip(
    messages: Iterable[Message],
    raw_of: Callable[[Message], bytes],
    *,
    stats: ZipStats | None = None,
    compresslevel: int = 6,
) -> Iterator[bytes]:
    """Yield the zip in chunks of about ``CHUNK`` bytes. ``raw_of`` returns a message's original bytes."""
    stats = stats if stats is not None else ZipStats()
    sink = _Sink()
    with tempfile.SpooledTemporaryFile(max_size=4 << 20) as manifest:
        manifest.write("\ufeff".encode())  # BOM: spreadsheet programs then read the CJK subjects right
        _manifest_row(manifest, MANIFEST_FIELDS)
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as archive:
            for message in messages:
                raw = raw_of(message)
                stats.messages += 1
                stats.bytes_in += len(raw)
                name = entry_name(stats.messages, message)
                info = zipfile.ZipInfo(name, date_time=_zip_time(message.date))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, raw)
                _manifest_row(manifest, (message.id, name, hashlib.sha256(raw).hexdigest(), len(raw),
                                         format_time(message.date), message.subject))
                if sink.pending >= CHUNK:
                    yield sink.take()
            yield from _add_manifest(archive, manifest, sink)
        yield sink.take()


def _add_manifest(archive: zipfile.ZipFile, manifest: io.BufferedIOBase, sink: _Sink) -> Iterator[bytes]:
    size = manifest.tell()
    manifest.seek(0)
    info = zipfile.ZipInfo(MANIFEST_NAME, date_time=datetime.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = size
    with archive.open(info, "w") as dest:
        while block := manifest.read(CHUNK):
            dest.write(block)
            if sink.pending >= CHUNK:
                yield sink.take()
