"""What reading one message, an attachment or a zip of messages hands back (``ArchiveAccess``).

Apart from ``archive_access`` so that a search, which returns none of these, does not create
their dataclasses: each costs about a millisecond of start-up, and a command-line search is mostly
start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from server.model import Attachment, Message

if TYPE_CHECKING:
    from server.export.zipstream import ZipStats


@dataclass(frozen=True)
class Opened:
    """A message with its verified original bytes."""

    message: Message
    raw: bytes
    entry_seq: int = 0  # the audit entry that recorded this read (0: covered by an earlier entry)

    def recorded_by(self, entry_seq: int) -> Opened:
        """This read as audit entry ``entry_seq`` recorded it (every other field kept)."""
        return replace(self, entry_seq=entry_seq)

    @property
    def filename(self) -> str:
        from server.export.eml import eml_download_name  # here: a search never names a file

        return eml_download_name(self.message)


@dataclass(frozen=True)
class AttachmentFile:
    message: Message
    index: int
    attachment: Attachment
    data: bytes
    inline: bool  # asked for inline and of a type a browser shows without running anything


@dataclass
class ZipExport:
    """A zip being produced: consume ``chunks``; a damaged message stops it (``IntegrityFailure``)."""

    count: int
    filename: str
    chunks: Iterator[bytes]
    stats: ZipStats
