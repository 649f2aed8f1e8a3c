"""Messages streamed with their original bytes read a batch at a time, not one store call each.

A bulk reader (Export All, the console's bulk zip) used to read and check every message's bytes
with its own store call; that call cost more than the reading itself (a transaction and three
statements per message on SQLite, a round trip on Elasticsearch). ``BatchedReads`` pulls messages
from the scan until ``MAX_MESSAGES`` or ``MAX_BYTES`` (by their archived sizes), reads and checks
their bytes in one call, then hands the messages on; ``raw_of`` gives each one's bytes as the zip
writer asks for them, in the same order. A message larger than ``MAX_BYTES`` is a batch of its
own. A refused message (integrity check) is raised by ``raw_of`` when the writer reaches it, so
everything before it is written as before.

``ahead=True`` (Export All) makes it a pipeline: one thread scans the batch after next while
another reads and checks the bytes of the next one and the caller works through the current one.
The store's reads, the decompression and the SHA-256 check release the GIL, so on a machine with a
free core they overlap the zip writing instead of adding to it (a single thread doing both scan
and read was the export's slowest step). The bytes of two batches are then held, otherwise one,
so memory stays flat either way. ``thread_setup`` is entered in each of those threads for its
whole life (the store's ``streaming_reads``: it sets up the connection of the thread that enters it).
"""

from __future__ import annotations

import contextlib
import itertools
import zlib
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

_NO_CRCS = itertools.repeat(None)  # without read-ahead, crc_of computes the CRC when asked

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
        self._ready: deque[tuple[str, bytes | Exception, int | None]] = deque()
        self._crc: int | None = None
        self._raw = b""

    def __iter__(self) -> Iterator[M]:
        if not self.ahead:
            for batch in self._batches():
                yield from self._release(batch, self.read(batch))
            return
        with ThreadPoolExecutor(1, thread_name_prefix="scan-ahead") as scanner, \
                ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as reader:  # fmt: skip
            yield from self._read_ahead(scanner, reader)

    def raw_of(self, message: M) -> bytes:
        """The bytes of ``message``, the next one handed out (the writer asks in order)."""
        if not self._ready or self._ready[0][0] != message.id:
            raise LookupError(f"message {message.id} was not read ahead: ask in the order the messages came")
        _, result, self._crc = self._ready.popleft()
        if isinstance(result, Exception):
            raise result
        self._raw = result
        return result

    def crc_of(self, message: M) -> int:
        """The CRC-32 of the bytes ``raw_of`` just gave for ``message``. Computed in the reading
        thread (``ahead=True``) with the rest of the batch's work, so the writing thread, the
        export's busiest, never gives the GIL up for it and waits to get it back."""
        crc = zlib.crc32(self._raw) if self._crc is None else self._crc
        self._crc = None
        return crc

    def _read_ahead(self, scanner: ThreadPoolExecutor, reader: ThreadPoolExecutor) -> Iterator[M]:
        """A pipeline of three: while the caller writes batch n, one thread reads the bytes of batch
        n+1 and another collects batch n+2 from the scan (the scan is only ever advanced by that
        thread). Each thread's set-up is undone in the thread, after its last task (a pool runs in
        order), also when the caller stops early or a step fails."""
        batches = self._batches()
        with contextlib.ExitStack() as undo:
            for pool in (scanner, reader):
                setup = contextlib.ExitStack()
                pool.submit(lambda s=setup: s.enter_context(self.thread_setup())).result()
                undo.callback(lambda p=pool, s=setup: p.submit(s.close).result())
            undo.callback(lambda: scanner.submit(batches.close).result())  # undone first, in the scan's thread
            scanning: Future[list[M] | None] = scanner.submit(next, batches, None)
            reading: tuple[list[M], Future[tuple[Results, list[int | None]]]] | None = None
            while (batch := scanning.result()) is not None:
                scanning = scanner.submit(next, batches, None)
                ready, reading = reading, (batch, reader.submit(self._read_with_crcs, batch))
                if ready:
                    yield from self._release(ready[0], *ready[1].result())
            if reading:
                yield from self._release(reading[0], *reading[1].result())

    def _read_with_crcs(self, batch: list[M]) -> tuple[Results, list[int | None]]:
        results = self.read(batch)
        return results, [None if isinstance(raw, Exception) else zlib.crc32(raw) for raw in results]

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

    def _release(self, batch: list[M], results: Results, crcs: list[int | None] | None = None) -> Iterator[M]:
        self._ready.clear()  # whatever the writer did not ask for (it stopped early) is dropped
        self._ready.extend(zip((m.id for m in batch), results, crcs or _NO_CRCS, strict=crcs is not None))
        yield from batch
