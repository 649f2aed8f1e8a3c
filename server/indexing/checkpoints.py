"""Import checkpoints: mbox files an earlier import stored completely are skipped when it is run again.

Re-running an import is always correct (every message is deduplicated), but re-parsing a
multi-gigabyte mbox only to find duplicates takes as long as the first run. So once every message
of an mbox file has a durable outcome (none failed), a small document records the file by path,
size, modification time and ``--mailbox``; a changed file, or the same file for another mailbox, is
read again. Single-message files (.eml, Maildir) are not recorded: re-reading one costs about what
recording it would.
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque

from server.indexing.mailreaders import Source
from server.indexing.pipeline import IngestOutcome
from server.model import format_time, now_utc
from server.store.protocol import Store

KIND = "import_checkpoint"


def checkpoint_key(source: Source, mailbox: str | None) -> str | None:
    if source.kind != "mbox":
        return None
    try:
        stat = source.path.stat()
    except OSError:
        return None
    identity = f"{source.path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{mailbox or ''}"
    return hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()


class FileTracker:
    """Follows which file each ingested message came from; records an mbox file once it is all stored.

    Outcomes arrive in input order, so a queue of file numbers pairs each outcome with its file.
    """

    def __init__(self, store: Store, sources: list[Source], mailbox: str | None) -> None:
        self.store = store
        self.sources = sources
        self.keys = [checkpoint_key(s, mailbox) for s in sources]
        self.pending: deque[int] = deque()
        self.read_counts: dict[int, int] = {}  # files read to the end -> messages read
        self.stored: Counter[int] = Counter()
        self.failed: set[int] = set()

    def completed_before(self, index: int) -> int | None:
        """Messages of file ``index`` if an earlier import stored it completely, else None."""
        key = self.keys[index]
        doc = self.store.get_doc(KIND, key) if key else None
        return int(doc.get("messages", 0)) if doc else None

    def message_read(self, index: int) -> None:
        self.pending.append(index)

    def file_read(self, index: int, messages: int) -> None:
        self.read_counts[index] = messages
        self._maybe_record(index)

    def outcome(self, outcome: IngestOutcome) -> None:
        index = self.pending.popleft()
        self.stored[index] += 1
        if outcome.status == "failed":
            self.failed.add(index)
        self._maybe_record(index)

    def _maybe_record(self, index: int) -> None:
        key = self.keys[index]
        if key is None or index in self.failed or self.read_counts.get(index) != self.stored[index] or not self.stored[index]:
            return
        source = self.sources[index]
        self.store.put_doc(KIND, key, {"path": str(source.path), "size": source.size,
                                       "messages": self.stored[index], "completed_at": format_time(now_utc())})
        self.keys[index] = None  # recorded once
