"""Messages streamed with their original bytes read a batch at a time, not one store call each.

A bulk reader (Export All, the console's bulk zip) used to read and check every message's bytes
with its own store call; that call cost more than the reading itself (a transaction and three
statements per message on SQLite, a round trip on Elasticsearch). ``BatchedReads`` pulls messages
from the scan until ``MAX_MESSAGES`` or ``MAX_BYTES`` (by their archived sizes), reads and checks
their bytes in one call, then hands the messages on; ``raw_of`` gives each one's bytes as the zip
writer asks for them, in the same order. A message larger than ``MAX_BYTES`` is a batch of its
own. A refused message (integrity check) is raised by ``raw_of`` when the writer reaches it, so
everything before it is written as before.

``ahead=True`` (Export All) scans and reads the next batch in a thread of its own while the caller
works through the current one: the store's reads, the decompression and the SHA-256 check release
the GIL, so on a machine with a free core they overlap the zip writing instead of adding to it. Two
batches are then held, otherwise one, so memory stays flat either way. ``thread_setup`` is entered
in that thread for its whole life (the store's ``streaming_reads``: it sets up the connection of
the thread that enters it).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Generic, Protocol, TypeVar


class Batched(Protocol):
    """What a batch is made by: a message's id (to hand its bytes out in order) and archived size."""

    @property
    def id(self) -> str: ...

    @property
    def size(self) -> int: ...


M = TypeVar("M", bound=Batched)

MAX_MESSAGES = 256
MAX_BYTES = 8 << 20

Results = Sequence[bytes | Exception]
ReadBatch = Callable[[Sequence[M]], Results]


class BatchedReads(Generic[M]):
    def __init__(self, messages: Iterable[M], read: ReadBatch[M], *, max_messages: int = MAX_MESSAGES,
                 max_bytes: int = MAX_BYTES, ahead: bool = False,
                 thread_setup: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext) -> None:  # fmt: skip
        """``read``: the checked bytes (or the exception to raise) of each message of a batch, in order."""
        self.messages = messages
        self.read = read
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.ahead = ahead
        self.thread_setup = thread_setup
        self._ready: deque[tuple[str, bytes | Exception]] = deque()

    def __iter__(self) -> Iterator[M]:
        if not self.ahead:
            for batch in self._batches():
                yield from self._release(batch, self.read(batch))
            return
        with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as pool:
            yield from self._read_ahead(pool)

    def raw_of(self, message: M) -> bytes:
        """The bytes of ``message``, the next one handed out (the writer asks in order)."""
        if not self._ready or self._ready[0][0] != message.id:
            raise LookupError(f"message {message.id} was not read ahead: ask in the order the messages came")
        _, result = self._ready.popleft()
        if isinstance(result, Exception):
            raise result
        return result

    def _read_ahead(self, pool: ThreadPoolExecutor) -> Iterator[M]:
        """Batch n+1 is collected from the scan and read in the thread while batch n is handed out:
        the scan runs there too (its SQL and the documents' decompression release the GIL as well),
        so the caller's thread only writes. The scan is only ever advanced by that one thread. Its
        set-up is undone in the thread, after its last read (the pool runs in order), also when the
        caller stops early."""
        setup = contextlib.ExitStack()
        pool.submit(lambda: setup.enter_context(self.thread_setup())).result()
        batches = self._batches()

        def next_read() -> tuple[list[M], Results] | None:
            batch = next(batches, None)
            return None if batch is None else (batch, self.read(batch))

        try:
            reading: Future[tuple[list[M], Results] | None] = pool.submit(next_read)
            while (done := reading.result()) is not None:
                reading = pool.submit(next_read)
                yield from self._release(*done)
        finally:
            pool.submit(batches.close).result()
            pool.submit(setup.close).result()

    def _batches(self) -> Iterator[list[M]]:
        batch: list[M] = []
        size = 0
        for message in self.messages:
            batch.append(message)
            size += message.size
            if len(batch) >= self.max_messages or size >= self.max_bytes:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def _release(self, batch: list[M], results: Results) -> Iterator[M]:
        self._ready.clear()  # whatever the writer did not ask for (it stopped early) is dropped
        self._ready.extend(zip((m.id for m in batch), results, strict=True))
        yield from batch
