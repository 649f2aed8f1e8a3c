"""The listening sockets and the life of each session: admission, idle timeout, the command loop.

The plain port offers STLS when a certificate is configured; the implicit-TLS port (995 style)
handshakes before the greeting. Sessions beyond ``max_sessions`` (or ``max_per_address`` from one
host) get one ``-ERR [SYS/TEMP]`` line and are closed, so a flood of connections costs a line each,
not a thread or an argon2 check. A client silent for ``idle_timeout`` seconds (RFC 1939 §3: at
least ten minutes) or not reading its replies for as long is logged out without UPDATE.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pop3d.connection import TOO_LONG, Connection
from pop3d.server import Backend, Session, SessionReport
from server.ops.sessions import POP3_RETRIEVED_BYTES, POP3_RETRIEVED_MESSAGES, SessionCounter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    idle_timeout: float = 600.0
    max_line: int = 255  # octets with CRLF (RFC 2449 §4)
    max_sessions: int = 50
    max_per_address: int = 10


class Listener:
    def __init__(self, backend: Backend, limits: Limits, tls_context: ssl.SSLContext | None,
                 sessions: SessionCounter | None = None) -> None:  # fmt: skip
        """``sessions``: where each session's outcome is counted for /metrics (none in some tests)."""
        self.backend = backend
        self.sessions = sessions
        self.limits = limits
        self.tls_context = tls_context
        self.servers: list[asyncio.Server] = []
        self._open: set[Connection] = set()
        self._per_address: Counter[str] = Counter()

    async def start(self, plain: socket.socket, tls: socket.socket | None = None) -> None:
        """Serve on sockets bound beforehand (``server.daemons.listen``): plain (with STLS), implicit TLS."""
        loop = asyncio.get_running_loop()
        self.servers.append(await loop.create_server(self._factory(implicit_tls=False), sock=plain))
        if tls is not None and self.tls_context is not None:
            self.servers.append(await loop.create_server(
                self._factory(implicit_tls=True), sock=tls, ssl=self.tls_context, ssl_handshake_timeout=30
            ))  # fmt: skip

    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of each listening socket: the plain one first, then the TLS one."""
        return [server.sockets[0].getsockname()[:2] for server in self.servers]

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for conn in list(self._open):
            conn.close()
        tasks = [c.task for c in self._open if c.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for server in self.servers:
            await server.wait_closed()

    def _factory(self, *, implicit_tls: bool) -> Callable[[], Connection]:
        return lambda: Connection(max_line=self.limits.max_line, write_timeout=self.limits.idle_timeout,
                                  tls_context=self.tls_context, implicit_tls=implicit_tls, on_open=self.serve)  # fmt: skip

    async def serve(self, conn: Connection) -> None:
        if len(self._open) >= self.limits.max_sessions or self._per_address[conn.peer] >= self.limits.max_per_address:
            conn.write(b"-ERR [SYS/TEMP] too many POP3 sessions, try again later\r\n")
            conn.close()
            self._count("refused_busy")
            return
        self._open.add(conn)
        self._per_address[conn.peer] += 1
        session = Session(self.backend, conn)
        try:
            await self._command_loop(session, conn)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            await self._end_quietly(session, "disconnect")
        except Exception:
            log.exception("pop3 session from %s failed", conn.peer)
            conn.write(b"-ERR [SYS/TEMP] internal error, closing\r\n")
            await self._end_quietly(session, "error")
        finally:
            self._open.discard(conn)
            self._per_address[conn.peer] -= 1
            if self._per_address[conn.peer] <= 0:
                del self._per_address[conn.peer]
            conn.close()
            self._count_session(session.report)

    def _count_session(self, report: SessionReport) -> None:
        if report.logged_in:
            self._count("logged_in")
        else:
            self._count("login_failed" if report.failed_logins else "no_login")
        if self.sessions is not None and report.retrieved:
            self.sessions.add(POP3_RETRIEVED_MESSAGES, report.retrieved)
            self.sessions.add(POP3_RETRIEVED_BYTES, report.retrieved_bytes)

    def _count(self, outcome: str) -> None:
        if self.sessions is not None:
            self.sessions.session("pop3", outcome)

    async def _command_loop(self, session: Session, conn: Connection) -> None:
        timeout = self.limits.idle_timeout
        await session.greet()
        while not session.closed:
            try:  # a pipelined command is taken at once; only waiting for one needs the timer
                line = conn.buffered_line() or await asyncio.wait_for(conn.readline(), timeout)
            except TimeoutError:
                conn.write(b"-ERR [SYS/TEMP] autologout: idle for too long\r\n")
                await session.end("timeout")
                return
            if line is None:
                await session.end("disconnect")
                return
            if line is TOO_LONG:
                await session.reply(f"-ERR line too long (at most {self.limits.max_line} octets)")
                continue
            await session.handle(line)  # writes wait at most ``timeout`` for the client to read (drain)

    async def _end_quietly(self, session: Session, reason: str) -> None:
        try:
            await session.end(reason)
        except Exception:
            log.exception("pop3 session end (%s) failed", reason)
