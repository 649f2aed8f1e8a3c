"""The maildrop of one POP3 session: a window over the archive in arrival order (``archive_seq``).

The window holds the messages after the acknowledged position, at most ``limit`` of them, read
when the session logs in. The store only returns messages at or below its *stable* watermark
(every lower sequence number committed or abandoned), so a write still in flight when the window
is built can never be skipped: it is not in this window, and the position cannot pass it, because
the position only ever moves to the sequence number of a message this window contains.

Only what the protocol needs is kept per message (sequence, id, SHA-256, size: ~150 bytes), never
a body, so a 10,000-message window costs about 1.5 MB whatever the archive size. DELE only marks;
``acknowledged()`` is the contiguous prefix of marked messages, the part the position may cover.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.model import ArrivalHead
from server.store.protocol import Store

PAGE = 500  # messages read from the store per scan call while building the window

# A window entry is the store's arrival head as it comes: ``archive_seq``, ``id`` (the UIDL, stable
# forever), ``sha256``, ``size`` (octets as archived; RFC 1939 §11: line-end conventions may make
# RETR differ). Nothing is decoded or copied per message to build the window.
Entry = ArrivalHead


@dataclass(frozen=True)
class Acknowledgement:
    """The contiguous prefix of the window the client deleted: sequence numbers ``after`` < s ≤ ``upto``."""

    after: int
    upto: int
    count: int


class Maildrop:
    def __init__(self, entries: list[Entry], *, after_seq: int) -> None:
        self.entries = entries
        self.after_seq = after_seq  # the stored position the window starts after
        self._deleted: set[int] = set()  # message numbers (1-based) marked by DELE

    @classmethod
    def open(cls, store: Store, *, after_seq: int, limit: int) -> Maildrop:
        entries: list[Entry] = []
        cursor = after_seq
        while len(entries) < limit:
            page = store.scan_archived_heads(cursor, min(PAGE, limit - len(entries)))
            if not page:
                break
            entries += page
            cursor = page[-1].archive_seq
        return cls(entries, after_seq=after_seq)

    # --- the protocol's view ------------------------------------------------------------------
    def get(self, number: int) -> Entry | None:
        """Message ``number`` (1-based) unless out of range or marked deleted."""
        if 1 <= number <= len(self.entries) and number not in self._deleted:
            return self.entries[number - 1]
        return None

    def exists(self, number: int) -> bool:
        return 1 <= number <= len(self.entries)

    def is_deleted(self, number: int) -> bool:
        return number in self._deleted

    def listing(self) -> list[tuple[int, Entry]]:
        """(number, entry) of every message not marked deleted, in order."""
        return [(n, e) for n, e in enumerate(self.entries, 1) if n not in self._deleted]

    def stat(self) -> tuple[int, int]:
        """(messages, octets) not marked deleted."""
        live = self.listing()
        return len(live), sum(e.size for _, e in live)

    def delete(self, number: int) -> None:
        self._deleted.add(number)

    def reset(self) -> None:
        self._deleted.clear()

    @property
    def marked(self) -> int:
        return len(self._deleted)

    def acknowledged(self) -> Acknowledgement:
        """The prefix 1..k all marked deleted: what QUIT may acknowledge."""
        count = 0
        while count + 1 in self._deleted:
            count += 1
        upto = self.entries[count - 1].archive_seq if count else self.after_seq
        return Acknowledgement(after=self.after_seq, upto=upto, count=count)
