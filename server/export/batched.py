"""Messages streamed with their original bytes read a batch at a time, not one store call each.

A bulk reader (Export All, the console's bulk zip) used to read and check every message's bytes
with its own store call; that call cost more than the reading itself (a transaction and three
statements per message on SQLite, a round trip on Elasticsearch). ``BatchedReads`` pulls messages
from the scan until ``MAX_MESSAGES`` or ``MAX_BYTES`` (by their archived sizes), reads and checks
their bytes in one call, then hands the messages on; ``raw_of`` gives each one's bytes as the zip
writer asks for them, in the same order. At most one batch is held, so memory stays flat; a message
larger than ``MAX_BYTES`` is a batch of its own. A refused message (integrity check) is raised by
``raw_of`` when the writer reaches it, so everything before it is written as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence

from server.model import Message

MAX_MESSAGES = 256
MAX_BYTES = 8 << 20

ReadBatch = Callable[[Sequence[Message]], Sequence[bytes | Exception]]


class BatchedReads:
    def __init__(self, messages: Iterable[Message], read: ReadBatch, *, max_messages: int = MAX_MESSAGES,
                 max_bytes: int = MAX_BYTES) -> None:  # fmt: skip
        """``read``: the checked bytes (or the exception to raise) of each message of a batch, in order."""
        self.messages = messages
        self.read = read
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._ready: deque[tuple[str, bytes | Exception]] = deque()

    def __iter__(self) -> Iterator[Message]:
        batch: list[Message] = []
        size = 0
        for message in self.messages:
            batch.append(message)
            size += message.size
            if len(batch) >= self.max_messages or size >= self.max_bytes:
                yield from self._release(batch)
                batch, size = [], 0
        if batch:
            yield from self._release(batch)

    def raw_of(self, message: Message) -> bytes:
        """The bytes of ``message``, the next one handed out (the writer asks in order)."""
        if not self._ready or self._ready[0][0] != message.id:
            raise LookupError(f"message {message.id} was not read ahead: ask in the order the messages came")
        _, result = self._ready.popleft()
        if isinstance(result, Exception):
            raise result
        return result

    def _release(self, batch: list[Message]) -> Iterator[Message]:
        self._ready.clear()  # whatever the writer did not ask for (it stopped early) is dropped
        results = self.read(batch)
        self._ready.extend(zip((m.id for m in batch), results, strict=True))
        yield from batch
