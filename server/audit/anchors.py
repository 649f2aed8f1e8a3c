"""Anchors: ``seq hash time`` lines kept outside the store, so deleting the newest entries is detected.

The hash chain alone cannot reveal that its tail was cut off: a shorter chain is still a valid
chain. An anchor records "entry N existed with hash H"; verification fails when the log no longer
has entry N or has another hash there. The file lives beside the data (``data_dir/audit-anchors``);
copy it off the machine (or ship the ``mailarchive.audit.anchor`` log lines to syslog) for protection
against someone who can rewrite both.

Lines are appended with ``O_APPEND`` (atomic for short writes, so several processes can share the
file). An anchor is written only after its entry is durable in the store, so after a crash an
anchor never points past the log. Not every line is fsynced (``sync``): a line lost in a power
failure only narrows what is detected, it never raises a false alarm, and the fsync would double
the cost of an audit entry.
"""

from __future__ import annotations

import os
from pathlib import Path

from server.logs import logger
from server.model import format_time, now_utc
from server.private_files import FILE_MODE, private_dir
from server.tuples import NamedTuple

FILE_NAME = "anchors.log"
log = logger("mailarchive.audit.anchor")


class Anchor(NamedTuple):
    seq: int
    hash: str
    line: int  # line number in the file, for messages


class AnchorFile:
    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME

    def append(self, seq: int, digest: str, *, sync: bool = True) -> None:
        """Add one anchor, on disk before returning if ``sync`` (raises OSError when it cannot)."""
        private_dir(self.path.parent)
        line = f"{seq} {digest} {format_time(now_utc())}\n".encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        try:
            os.write(fd, line)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        log.info("audit anchor seq=%d hash=%s", seq, digest)

    def read(self) -> tuple[list[Anchor], list[int]]:
        """(anchors sorted by seq, numbers of malformed lines). No file: no anchors."""
        anchors: list[Anchor] = []
        malformed: list[int] = []
        if not self.path.exists():
            return anchors, malformed
        with self.path.open(encoding="ascii", errors="replace") as fh:
            for number, text in enumerate(fh, start=1):
                anchor = _parse(text, number)
                if anchor is None:
                    malformed.append(number)
                else:
                    anchors.append(anchor)
        anchors.sort(key=lambda a: a.seq)
        return anchors, malformed


def _parse(text: str, number: int) -> Anchor | None:
    parts = text.split()
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[1]) != 64:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return Anchor(seq=int(parts[0]), hash=parts[1], line=number)
