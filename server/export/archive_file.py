"""An Export All zip written to disk: complete and checked, or not there at all.

The zip goes to a hidden temporary file beside its final name while it is written, hashed as it
goes (its own SHA-256 is recorded in the task, so the downloaded file can be checked), flushed to
disk and only then renamed: a worker that dies mid-way leaves a ``.part`` file that maintenance
removes, never a truncated zip under a name the Task Center would offer.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from server.export.zipstream import ZipStats, iter_zip
from server.model import Message

PART_SUFFIX = ".part"


@dataclass(frozen=True)
class WrittenZip:
    path: Path
    size: int
    sha256: str
    messages: int
    bytes_in: int


def write_zip(
    messages: Iterable[Message],
    raw_of: Callable[[Message], bytes],
    path: Path,
    *,
    progress: Callable[[ZipStats], None] = lambda stats: None,
    verified: bool = False,
    compress: bool = False,
) -> WrittenZip:
    """Write the zip of ``messages`` to ``path``. ``progress`` is called after every chunk with
    the counts so far; whatever it raises (a cancel, say) stops the export and removes the partial
    file, as does any other error. ``verified``: ``raw_of`` checks each message's SHA-256 itself.

    Entries are stored, not deflated, by default: deflate is nearly all the CPU of a zip and runs
    at a fraction of the rate the store delivers mail (docs/performance.md, Export All), while an
    Export All zip is a hand-over copy, not long-term storage."""
    partial = partial_path(path)
    stats, digest, size = ZipStats(), hashlib.sha256(), 0
    try:
        with partial.open("wb") as fh:
            for chunk in iter_zip(messages, raw_of, stats=stats, verified=verified, compress=compress):
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                progress(stats)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, path)
        _fsync_dir(path.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return WrittenZip(path, size, digest.hexdigest(), stats.messages, stats.bytes_in)


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
