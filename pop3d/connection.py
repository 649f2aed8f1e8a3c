"""One client connection: bounded command lines in, replies out with back-pressure, STLS upgrade.

An ``asyncio.Protocol`` rather than streams, because two things need the input buffer itself: a
line longer than the limit is thrown away up to its end (one ``-ERR``, no unbounded buffering),
and at STLS whatever the client sent in the clear after the command is discarded before the
handshake (RFC 2595 §4; the STARTTLS command-injection flaw of CVE-2011-0411). Reading pauses
while a pipelining client has more than ``PAUSE_AT`` bytes unread; writing waits while the
client does not read (``drain``), so a slow client never makes the server buffer a whole window.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

PAUSE_AT = 64 * 1024  # unread input that pauses reading from the socket
HANDSHAKE_TIMEOUT = 30.0


class LineTooLong:
    """Returned by ``readline`` in place of a line that exceeded the limit (already discarded)."""


TOO_LONG = LineTooLong()


class Connection(asyncio.Protocol):
    def __init__(self, *, max_line: int, write_timeout: float, tls_context: ssl.SSLContext | None, implicit_tls: bool,
                 on_open: Callable[[Connection], Awaitable[None]]) -> None:  # fmt: skip
        self.max_line = max_line
        self.write_timeout = write_timeout
        self.tls_context = tls_context
        self.secure = implicit_tls
        self.on_open = on_open
        self.peer = ""
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._discarding = False  # inside an over-long line: drop input up to its LF
        self._paused_reading = False
        self._eof = False
        self._wake = asyncio.Event()
        self._writable: asyncio.Future[None] | None = None
        self.task: asyncio.Task | None = None

    @property
    def tls_available(self) -> bool:
        return self.tls_context is not None

    # --- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is not None:  # start_tls hands the protocol its new transport: not a new client
            return
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        self.task = asyncio.get_running_loop().create_task(self.on_open(self))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > PAUSE_AT and not self._paused_reading and self.transport:
            self.transport.pause_reading()
            self._paused_reading = True
        self._wake.set()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._wake.set()
        self._release_writer()

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._release_writer()

    # --- what the session and the server loop use ---------------------------------------------------
    def buffered_line(self) -> bytes | LineTooLong | None:
        """The next line if it has arrived already (a pipelining client's), else None: no waiting."""
        while True:
            newline = self._buffer.find(b"\n")
            if self._discarding:
                if newline < 0:
                    self._buffer.clear()
                    return None
                del self._buffer[: newline + 1]
                self._discarding = False
                return TOO_LONG
            if newline >= 0:
                line = bytes(self._buffer[: newline + 1])
                del self._buffer[: newline + 1]
                return TOO_LONG if len(line) > self.max_line else line
            if len(self._buffer) < self.max_line:
                return None
            self._discarding = True

    async def readline(self) -> bytes | LineTooLong | None:
        """The next line with its LF, ``TOO_LONG`` for one over the limit, None at end of input."""
        while True:
            line = self.buffered_line()
            if line is not None:
                return line
            if self._eof:
                return None
            self._wake.clear()
            if self._paused_reading and self.transport:
                self._paused_reading = False
                self.transport.resume_reading()
            await self._wake.wait()

    def write(self, data: bytes | memoryview) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("connection closed")
        if self._writable is not None and not self._writable.done():
            await asyncio.wait_for(self._writable, self.write_timeout)  # TimeoutError: the client stopped reading
            if self.transport.is_closing():
                raise ConnectionResetError("connection closed")

    async def start_tls(self) -> None:
        assert self.tls_context is not None and self.transport is not None
        await self.drain()
        self._buffer.clear()  # sent in the clear after STLS: never read as a command
        self._discarding = False
        loop = asyncio.get_running_loop()
        self.transport = await loop.start_tls(
            self.transport, self, self.tls_context, server_side=True, ssl_handshake_timeout=HANDSHAKE_TIMEOUT
        )
        self.secure = True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _release_writer(self) -> None:
        waiter, self._writable = self._writable, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
