"""The POP3 protocol of one session (RFC 1939, CAPA and response codes of RFC 2449, STLS of RFC 2595).

Twisted's shape: a state (AUTHORIZATION, TRANSACTION, UPDATE) with the verbs it allows, a table of
``do_<VERB>`` methods built once, one ``-ERR`` for anything else. The session knows nothing of
sockets or of the store: it reads lines handed to ``handle``, writes to a ``Channel`` (the socket,
or a byte buffer in the protocol tests) and asks a ``Backend`` to log in, read a message and end
the session (acknowledge, audit). Replies are worded as the RFCs' examples are.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from pop3d.maildrop import Entry, Maildrop
from pop3d.readahead import ReadAhead
from pop3d.wire import CHUNK, CRLF, chunks
from server.model import format_time, now_utc

MAX_PASS_FAILURES = 3  # failed PASS commands in one session before it is closed
NUMBER = re.compile(r"[0-9]{1,9}")


class State(StrEnum):
    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"


ALLOWED: dict[State, frozenset[str]] = {
    State.AUTHORIZATION: frozenset({"USER", "PASS", "QUIT", "CAPA", "STLS"}),
    State.TRANSACTION: frozenset({"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP", "UIDL", "CAPA"}),
    State.UPDATE: frozenset(),
}


class Channel(Protocol):
    """Where replies go. ``write`` buffers; ``drain`` waits until the client has read enough."""

    peer: str
    secure: bool  # TLS is active (implicit TLS port, or after STLS)
    tls_available: bool  # STLS may be offered (a certificate is configured)

    def write(self, data: bytes | memoryview) -> None: ...

    async def drain(self) -> None: ...

    async def start_tls(self) -> None: ...


class MessageUnavailable(Exception):
    """The message cannot be sent (gone from the archive, integrity check failed); ``str`` is the reply."""


@dataclass
class LoginResult:
    maildrop: Maildrop | None  # None: refused
    reply: str  # the whole reply line without CRLF
    close: bool = False  # end the session after replying (lockout, service disabled)


@dataclass
class SessionReport:
    """What the session did, audited once when it ends (not once per RETR)."""

    peer: str
    user: str = ""
    logged_in: bool = False
    login_at: str = ""
    secure: bool = False
    retrieved: int = 0
    retrieved_bytes: int = 0
    tops: int = 0
    failed_logins: int = 0
    unavailable: list[str] = field(default_factory=list)  # ids that could not be sent
    ended_by: str = "disconnect"  # quit | disconnect | timeout | error


class Backend(Protocol):
    async def login(self, user: str, password: str, channel: Channel) -> LoginResult: ...

    async def message(self, entry: Entry, peer: str, *, top: int | None = None) -> bytes:
        """The encoded multi-line body (dot-stuffed, terminated); raises ``MessageUnavailable``.
        ``peer``: the client's address, for the audit entry of a failed integrity check."""

    async def messages(self, entries: Sequence[Entry], peer: str) -> list[bytes | Exception]:
        """``message`` for several at once (RETR read-ahead): bytes or the ``MessageUnavailable`` of each."""

    async def finish(self, report: SessionReport, maildrop: Maildrop | None, *, update: bool) -> str:
        """End the session (``update``: acknowledge the deleted prefix); returns the QUIT reply."""


class Session:
    def __init__(self, backend: Backend, channel: Channel) -> None:
        self.backend = backend
        self.channel = channel
        self.state = State.AUTHORIZATION
        self.user: str | None = None
        self.maildrop: Maildrop | None = None
        self.report = SessionReport(peer=channel.peer, secure=channel.secure)
        self.closed = False
        self._finished = False
        self._ahead: ReadAhead | None = None

    # --- driving --------------------------------------------------------------------------------
    async def greet(self) -> None:
        await self.reply("+OK mailarchive POP3 server ready")

    async def handle(self, line: bytes) -> None:
        """One command line (CRLF or LF stripped or not); writes exactly one reply."""
        verb, arg = _split(line)
        if verb is None:
            await self.reply("-ERR " + arg)
            return
        handler = _HANDLERS.get(verb)
        if handler is None:
            await self.reply(f"-ERR unknown command {verb[:16]}")
        elif verb not in ALLOWED[self.state]:
            await self.reply(f"-ERR {verb} not allowed in the {self.state} state")
        else:
            await handler(self, arg)

    async def reply(self, line: str) -> None:
        self.channel.write(line.encode("utf-8") + CRLF)
        await self.channel.drain()

    async def end(self, reason: str) -> None:
        """The connection is closing without QUIT (or after it): audit once, acknowledge nothing."""
        self._close_ahead()
        if self._finished:
            return
        self.report.ended_by = reason
        self._finished = True
        self.closed = True
        await self.backend.finish(self.report, self.maildrop, update=False)

    # --- AUTHORIZATION ------------------------------------------------------------------------------
    async def do_USER(self, arg: str) -> None:
        if self.clear_text_refused:
            await self.reply("-ERR [AUTH] send STLS first: passwords are not accepted in the clear from this network")
            return
        if not arg:
            await self.reply("-ERR syntax: USER name")
            return
        self.user = arg
        await self.reply("+OK send PASS")  # the same for any name: no account enumeration

    async def do_PASS(self, arg: str) -> None:
        if self.user is None:
            await self.reply("-ERR send USER first")
            return
        if not arg:
            await self.reply("-ERR syntax: PASS password")
            return
        result = await self.backend.login(self.user, arg, self.channel)
        self.report.user = self.user[:64]
        if result.maildrop is None:
            self.report.failed_logins += 1
            self.user = None
            await self.reply(result.reply)
            if result.close or self.report.failed_logins >= MAX_PASS_FAILURES:
                await self.end("login_refused")
            return
        self.maildrop = result.maildrop
        self.state = State.TRANSACTION
        self.report.logged_in = True
        self.report.login_at = format_time(now_utc())
        await self.reply(result.reply)

    async def do_STLS(self, arg: str) -> None:
        if self.channel.secure:
            await self.reply("-ERR command not permitted when TLS active")
        elif not self.channel.tls_available:
            await self.reply("-ERR TLS not available: no certificate is configured")
        elif arg:
            await self.reply("-ERR syntax: STLS")
        else:
            await self.reply("+OK Begin TLS negotiation")
            await self.channel.start_tls()  # RFC 2595: forget what was said in the clear
            self.user = None
            self.report.secure = True

    async def do_CAPA(self, arg: str) -> None:
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER"]
        if self.state == State.AUTHORIZATION:
            caps += [] if self.clear_text_refused else ["USER"]
            caps += ["STLS"] if self.channel.tls_available and not self.channel.secure else []
        caps.append("IMPLEMENTATION mailarchive")
        await self.multiline("+OK Capability list follows", caps)

    async def do_QUIT(self, arg: str) -> None:
        if self.state == State.AUTHORIZATION:
            self.report.ended_by = "quit"
            await self.reply("+OK mailarchive POP3 server signing off")
            await self.end("quit")
            return
        self.state = State.UPDATE
        self._close_ahead()
        self.report.ended_by = "quit"
        self._finished = True
        self.closed = True
        await self.reply(await self.backend.finish(self.report, self.maildrop, update=True))

    # --- TRANSACTION --------------------------------------------------------------------------------
    async def do_STAT(self, arg: str) -> None:
        count, octets = self.drop.stat()
        await self.reply(f"+OK {count} {octets}")

    async def do_LIST(self, arg: str) -> None:
        await self._scan_listing(arg, lambda n, e: f"{n} {e.size}", "+OK {count} messages ({octets} octets)")

    async def do_UIDL(self, arg: str) -> None:
        await self._scan_listing(arg, lambda n, e: f"{n} {e.id}", "+OK unique-id listing follows")

    async def do_RETR(self, arg: str) -> None:
        number = await self._message_number(arg, "RETR msg")
        if number is None:
            return
        entry = self.drop.get(number)
        assert entry is not None
        await self._send(entry, self.ahead.take(number), None, f"+OK {entry.size} octets")

    async def do_TOP(self, arg: str) -> None:
        parts = arg.split()
        if len(parts) != 2 or not NUMBER.fullmatch(parts[1]):
            await self.reply("-ERR syntax: TOP msg n")
            return
        number = await self._message_number(parts[0], "TOP msg n")
        if number is None:
            return
        entry = self.drop.get(number)
        assert entry is not None
        self.report.tops += 1
        lines = int(parts[1])
        await self._send(entry, self.backend.message(entry, self.channel.peer, top=lines), lines, "+OK top of message follows")

    async def do_DELE(self, arg: str) -> None:
        number = await self._message_number(arg, "DELE msg")
        if number is not None:
            self.drop.delete(number)
            await self.reply(f"+OK message {number} deleted")

    async def do_NOOP(self, arg: str) -> None:
        await self.reply("+OK")

    async def do_RSET(self, arg: str) -> None:
        self.drop.reset()
        count, octets = self.drop.stat()
        await self.reply(f"+OK maildrop has {count} messages ({octets} octets)")

    # --- helpers --------------------------------------------------------------------------------------
    @property
    def clear_text_refused(self) -> bool:
        """With a certificate configured, a client beyond loopback must use TLS before USER/PASS."""
        return self.channel.tls_available and not self.channel.secure and not _is_loopback(self.channel.peer)

    @property
    def ahead(self) -> ReadAhead:
        if self._ahead is None:
            self._ahead = ReadAhead(lambda entries: self.backend.messages(entries, self.channel.peer), self.drop)
        return self._ahead

    def _close_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead.close()

    @property
    def drop(self) -> Maildrop:
        assert self.maildrop is not None  # TRANSACTION verbs only run with a maildrop
        return self.maildrop

    async def multiline(self, first: str, lines: list[str]) -> None:
        body = "".join(f"{'.' if line.startswith('.') else ''}{line}\r\n" for line in lines)
        self.channel.write(f"{first}\r\n{body}.\r\n".encode())
        await self.channel.drain()

    async def _scan_listing(self, arg: str, line: Callable[[int, Entry], str], first: str) -> None:
        if arg:
            number = await self._message_number(arg, "LIST [msg]")
            if number is not None:
                await self.reply("+OK " + line(number, self.drop.get(number)))  # type: ignore[arg-type]
            return
        count, octets = self.drop.stat()
        await self.multiline(first.format(count=count, octets=octets), [line(n, e) for n, e in self.drop.listing()])

    async def _message_number(self, arg: str, syntax: str) -> int | None:
        """The message number in ``arg`` if it names a message not deleted; else reply -ERR, None."""
        if not NUMBER.fullmatch(arg):
            await self.reply(f"-ERR syntax: {syntax}" if not arg.strip().lstrip("-").isdigit() else "-ERR no such message")
            return None
        number = int(arg)
        if not self.drop.exists(number):
            await self.reply(f"-ERR no such message, only {len(self.drop.entries)} messages in maildrop")
            return None
        if self.drop.is_deleted(number):
            await self.reply(f"-ERR message {number} already deleted")
            return None
        return number

    async def _send(self, entry: Entry, reading: Awaitable[bytes], top: int | None, first: str) -> None:
        try:
            body = await reading
        except MessageUnavailable as exc:
            self.report.unavailable.append(entry.id)
            await self.reply(str(exc))
            return
        head = first.encode() + CRLF
        if len(body) <= CHUNK:  # the usual case: one write, one system call
            self.channel.write(head + body)
            await self.channel.drain()
        else:
            self.channel.write(head)
            for piece in chunks(body):
                self.channel.write(piece)
                await self.channel.drain()
        if top is None:
            self.report.retrieved += 1
            self.report.retrieved_bytes += len(body)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _split(line: bytes) -> tuple[str | None, str]:
    """(upper-case verb, argument) or (None, error text) for a malformed line."""
    text = line.rstrip(b"\r\n")
    if not text.strip():
        return None, "empty command"
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return None, "command is not valid UTF-8"
    if any(ord(c) < 32 or ord(c) == 127 for c in decoded):
        return None, "control characters in command"
    verb, _, arg = decoded.partition(" ")
    if not verb.isascii() or not verb.isalpha() or len(verb) > 8:
        return None, "malformed command"
    verb = verb.upper()
    return verb, (arg if verb == "PASS" else arg.strip())  # a password may hold spaces (RFC 1939 §7)


Handler = Callable[[Session, str], Awaitable[None]]
_HANDLERS: dict[str, Handler] = {
    name[3:]: getattr(Session, name) for name in dir(Session) if name.startswith("do_") and name[3:].isupper()
}
