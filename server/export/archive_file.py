"""An Export All zip written to disk: complete and checked, or not there at all.

The zip goes to a hidden temporary file beside its final name while it is written, hashed as it
goes (its own SHA-256 is recorded in the task, so the downloaded file can be checked), flushed to
disk and only then renamed: a worker that dies mid-way leaves a ``.part`` file that maintenance
removes, never a truncated zip under a name the Task Center would offer.

Hashing and writing the zip are a thread of their own (``_HashingFile``): both release the GIL, so
on a machine with a free core they cost the export no time beside making the zip. The disk is
asked to start writing every ``WRITEBACK_EVERY`` bytes, so the ``fsync`` before the rename waits
for the last few megabytes, not the whole file (it was a tenth of the job), and a large export
does not fill the page cache with a file nobody reads back soon.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from server.export.zipstream import Exported, ZipStats, iter_zip

PART_SUFFIX = ".part"
WRITE_AHEAD = 4  # chunks (of about 256 KB) handed to the writing thread and not yet written
WRITEBACK_EVERY = 8 << 20


@dataclass(frozen=True)
class WrittenZip:
    path: Path
    size: int
    sha256: str
    messages: int
    bytes_in: int


def write_zip(
    messages: Iterable[Exported],
    raw_of: Callable[[Exported], bytes],
    path: Path,
    *,
    progress: Callable[[ZipStats], None] = lambda stats: None,
    verified: bool = False,
    compress: bool = False,
    crc_of: Callable[[Exported], int] | None = None,
) -> WrittenZip:
    """Write the zip of ``messages`` to ``path``. ``progress`` is called after every chunk with
    the counts so far; whatever it raises (a cancel, say) stops the export and removes the partial
    file, as does any other error. ``verified``: ``raw_of`` checks each message's SHA-256 itself;
    ``crc_of`` (optional) gives the CRC-32 of the bytes it returned.

    Entries are stored, not deflated, by default: deflate is nearly all the CPU of a zip and runs
    at a fraction of the rate the store delivers mail (docs/performance.md, Export All), while an
    Export All zip is a hand-over copy, not long-term storage."""
    partial = partial_path(path)
    stats = ZipStats()
    try:
        with partial.open("wb") as fh, _HashingFile(fh) as out:
            for chunk in iter_zip(messages, raw_of, stats=stats, verified=verified, compress=compress,
                                  crc_of=crc_of):
                out.write(chunk)
                progress(stats)
            size, sha256 = out.finish()
            os.fsync(fh.fileno())
        os.replace(partial, path)
        _fsync_dir(path.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return WrittenZip(path, size, sha256, stats.messages, stats.bytes_in)


class _HashingFile:
    """Bytes written to ``fh`` and hashed, in that order, by one thread beside the caller's.

    At most ``WRITE_AHEAD`` chunks wait for it (memory stays flat); a write that failed (disk full)
    is raised by the next ``write`` or by ``finish``. Leaving the block waits for the thread, so
    nothing touches the file after it is closed or removed."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()
        self.size = 0
        self._hinted = self._hint_from = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="export-zip-write")
        self._queued: deque[Future[None]] = deque()

    def __enter__(self) -> _HashingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def write(self, chunk: bytes) -> None:
        self._queued.append(self._pool.submit(self._write, chunk))
        while self._queued and (len(self._queued) > WRITE_AHEAD or self._queued[0].done()):
            self._queued.popleft().result()

    def finish(self) -> tuple[int, str]:
        """Wait for every write; the file's size and SHA-256 (its bytes are flushed, not yet synced)."""
        while self._queued:
            self._queued.popleft().result()
        self.fh.flush()
        return self.size, self.digest.hexdigest()

    def _write(self, chunk: bytes) -> None:  # in the writing thread
        self.fh.write(chunk)
        self.digest.update(chunk)
        self.size += len(chunk)
        if self.size - self._hinted >= WRITEBACK_EVERY:
            self._start_writeback()

    def _start_writeback(self) -> None:
        """Have the kernel start writing what is written so far (Linux: ``POSIX_FADV_DONTNEED``
        starts the write-back of dirty pages and drops the clean ones, as PostgreSQL does without
        ``sync_file_range``). Never discards data: dirty pages are written first. From the previous
        hint on, so pages still being written then are dropped now."""
        if not hasattr(os, "posix_fadvise"):
            return
        self.fh.flush()
        os.posix_fadvise(self.fh.fileno(), self._hint_from, 0, os.POSIX_FADV_DONTNEED)
        self._hint_from, self._hinted = self._hinted, self.size


def partial_path(path: Path) -> Path:
    """Where the zip for ``path`` is written until it is complete."""
    return path.with_name(f".{path.name}{PART_SUFFIX}")


def is_partial(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(PART_SUFFIX)


def _fsync_dir(directory: Path) -> None:
    """The rename itself reaches the disk (a crash right after must not bring the .part back)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
