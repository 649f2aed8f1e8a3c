"""Reading ahead the messages a client will RETR next, a batch at a time, on the worker pool.

Clients retrieve in order, so while one message is sent the next ones can already be read,
checked and encoded. Doing that per message cost more than the reading itself (a thread hand-off
and GIL contention per message: 0.25 CPU ms, measured by ``make bench``); a batch of up to
``BATCH`` messages or ``BATCH_BYTES`` per hand-off amortises it. At most two batches are held, so
memory stays bounded whatever the window. A client that jumps (RETR out of order) just starts a
new batch where it jumped. Results are futures: a refused message (integrity check, gone) is
raised when it is taken, never earlier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from pop3d.maildrop import Entry, Maildrop

BATCH = 16
BATCH_BYTES = 2 * 1024 * 1024

ReadBatch = Callable[[Sequence[Entry]], Awaitable[list[bytes | Exception]]]


class ReadAhead:
    def __init__(self, read_batch: ReadBatch, maildrop: Maildrop) -> None:
        self.read_batch = read_batch
        self.maildrop = maildrop
        self._pending: dict[int, asyncio.Future[bytes]] = {}  # message number -> its encoded bytes
        self._next = 1  # first message number not scheduled yet

    def take(self, number: int) -> Awaitable[bytes]:
        """The encoded message ``number``; schedules the next batch when this one runs low."""
        future = self._pending.pop(number, None)
        if future is None:  # not expected here: forget what was read ahead, start at ``number``
            self.close()
            self._schedule(number)
            future = self._pending.pop(number)
        if len(self._pending) < BATCH // 2:
            self._schedule(self._next)
        return future

    def close(self) -> None:
        """Drop everything read ahead (its outcome, a refusal included, is not reported)."""
        for future in self._pending.values():
            if future.done():
                future.exception()  # retrieved: a refusal read ahead but never asked for is no error
            else:
                future.cancel()
        self._pending.clear()

    def _schedule(self, first: int) -> None:
        batch: list[tuple[int, Entry]] = []
        number, size, last = first, 0, len(self.maildrop.entries)
        while number <= last and len(batch) < BATCH and size < BATCH_BYTES:
            entry = self.maildrop.get(number)
            if entry is not None:
                batch.append((number, entry))
                size += entry.size
            number += 1
        self._next = number
        if not batch:
            return
        loop = asyncio.get_running_loop()
        futures = [(n, loop.create_future()) for n, _ in batch]
        self._pending.update(futures)
        reading = asyncio.ensure_future(self.read_batch([entry for _, entry in batch]))
        reading.add_done_callback(lambda done: _resolve(futures, done))


def _resolve(futures: list[tuple[int, asyncio.Future[bytes]]], done: asyncio.Future) -> None:
    if done.cancelled():
        for _, future in futures:
            future.cancel()
        return
    failure = done.exception()
    results = [failure] * len(futures) if failure is not None else done.result()
    for (_, future), result in zip(futures, results, strict=True):
        if future.done():  # dropped by close()
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
