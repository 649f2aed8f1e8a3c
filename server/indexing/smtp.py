"""The SMTP journal receiver: the company MTA delivers a copy of every message here (docs/journaling.md).

Built on aiosmtpd. A message gets ``250`` only once it is fsynced into the spool
(``server.indexing.spool``); a background thread moves spooled messages into the store through the
ingestion pipeline, so the reply latency does not depend on parsing and indexing, and a crash at any
moment loses nothing that was acknowledged.

What "raw" means here: the bytes between ``DATA`` and the terminating ``<CRLF>.<CRLF>``, with the SMTP
dot-stuffing of RFC 5321 §4.5.2 undone (a leading dot is removed from each CRLF-delimited line) and
nothing else changed — no Received header added, line endings kept exactly as sent (a bare LF or CR
stays a bare LF or CR; only ``<CRLF>.<CRLF>`` ends the data, so a bare-LF dot cannot end or smuggle a
message; a dot after a bare LF is unstuffed like one after CRLF, because the clients that send bare LF
— Python's smtplib with bytes, for one — stuff it), lines of any length accepted (RFC 5321 §4.5.3.1 asks for no limits where possible; rejecting
a journal copy would only make the MTA retry it forever).

Envelope: MAIL FROM and every RCPT TO are kept and passed to the pipeline, which is how Bcc recipients
become mailboxes. RCPT TO of a configured journal address (``archive@example.com``) is not a mailbox and
is dropped; ``archive+alice=example.com@...`` (what a Postfix ``recipient_bcc_maps`` regexp produces, one
per real recipient) stands for ``alice@example.com``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from server.config import Config, ConfigError, SmtpConfig
from server.daemons import address_of, listen
from server.indexing.spool import DrainerProcess, Spool, SpooledMessage
from server.model import parse_time
from server.ops.sessions import SessionCounter
from server.store import open_store

log = logging.getLogger(__name__)

# Replies (RFC 5321 codes with RFC 3463 enhanced status codes).
OK_SENDER = "250 2.1.0 Sender OK"
OK_RECIPIENT = "250 2.1.5 Recipient OK"
OK_QUEUED = "250 2.0.0 OK: queued as {queue_id}"
START_DATA = "354 End data with <CR><LF>.<CR><LF>"
DATA_SYNTAX = "501 5.5.4 Syntax: DATA"
SIZE_SYNTAX = "501 5.5.4 Syntax: SIZE=<number of octets>"
BAD_SENDER = "501 5.1.7 Error: bad sender address syntax"
BAD_RECIPIENT = "501 5.1.3 Error: bad recipient address syntax"
NEED_RCPT = "503 5.5.1 Error: need RCPT command"
TOO_MANY_RECIPIENTS = "452 4.5.3 Error: too many recipients"
MESSAGE_TOO_BIG = "552 5.3.4 Error: message size exceeds fixed maximum message size"
CLIENT_NOT_ALLOWED = "550 5.7.1 Error: client {peer} is not allowed to send journal mail"
AUTH_REQUIRED = "530 5.7.0 Authentication required"
SPOOL_FAILED = "451 4.3.0 Error: cannot queue the message now, try again later"

_SIMPLE_PATH = re.compile(r"\s*<([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+)>(.*)\Z", re.S)


def envelope_mailboxes(recipients: Iterable[str], journal_addresses: Sequence[str]) -> tuple[str, ...]:
    """The real recipients among RCPT TO: journal addresses dropped, ``journal+user=domain@`` decoded."""
    journal = {a.lower() for a in journal_addresses}
    result: list[str] = []
    for rcpt in recipients:
        address = rcpt.lower()
        local, _, domain = address.rpartition("@")
        base, plus, tag = local.partition("+")
        if address in journal:
            continue
        if plus and f"{base}@{domain}" in journal and "=" in tag:
            user, _, user_domain = tag.rpartition("=")
            address = f"{user}@{user_domain}"
        if address not in result:
            result.append(address)
    return tuple(result)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean_address(address: str | None) -> str:
    """Envelope addresses arrive surrogate-escaped when not valid UTF-8; store them readable."""
    if not address or address == "<>":
        return ""
    return address.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _has_domain(address: str) -> bool:
    """aiosmtpd accepts ``<not an address`` as a quoted local part; RFC 5321 paths need a domain.

    Control characters (NUL above all) are refused too: RFC 5321 allows none in a path, and a NUL
    would end the address early in C tools downstream while the archive kept the whole string.
    """
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain) and not _CONTROL.search(address)


def _peer_ip(session: Session) -> str:
    return str(session.peer[0]) if isinstance(session.peer, tuple) else str(session.peer or "")


def _client_allowed(ip: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        addr = ipaddress.ip_address(ip.split("%")[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return any(addr in net for net in networks)


def load_auth_users(path: str | None) -> dict[str, str]:
    """``user:argon2-hash`` lines (``#`` comments allowed); hashes made with ``argon2.PasswordHasher().hash``."""
    if not path:
        return {}
    users = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, digest = line.partition(":")
        if not sep or not digest.startswith("$argon2"):
            raise ConfigError(f"{path}:{number}: expected 'user:$argon2id$...'")
        users[user] = digest
    return users


class JournalHandler:
    """aiosmtpd hooks: who may send, how many recipients, and DATA → spool → ``250``."""

    def __init__(self, settings: SmtpConfig, spool: Spool, notify: Callable[[], None] | None = None,
                 sessions: SessionCounter | None = None) -> None:  # fmt: skip
        """``notify`` tells the drainer a new file is in the spool; ``sessions`` counts for /metrics."""
        self.settings = settings
        self.spool = spool
        self.notify = notify
        self.sessions = sessions
        self.auth_users = load_auth_users(settings.auth_file)
        # fsync is blocking: it runs on these threads so the event loop keeps serving other clients.
        self.executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="spool-writer")

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self._count_greeted(session)
        if not self.auth_users:
            responses = [r for r in responses if not r.startswith("250-AUTH")]
        return [responses[0], f"250-SIZE {self.settings.max_message_size}", *responses[1:]]

    async def handle_HELO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str) -> str:
        session.host_name = hostname
        self._count_greeted(session)
        return f"250 {server.hostname}"

    def _count_greeted(self, session: Session) -> None:
        """A session counts once its client greets (a repeated EHLO, after STARTTLS say, does not;
        a connection that never greets, like aiosmtpd's own start-up probe, is no session)."""
        if self.sessions is not None and not getattr(session, "counted", False):
            session.counted = True
            self.sessions.session("smtp", "opened")

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        peer = _peer_ip(session)
        if not (_client_allowed(peer, self.settings.allow_networks) or session.authenticated):
            if self.sessions is not None:
                self.sessions.session("smtp", "refused_client")
            return AUTH_REQUIRED if self.auth_users else CLIENT_NOT_ALLOWED.format(peer=peer)
        if address != "<>" and not _has_domain(address):
            return BAD_SENDER
        for option in mail_options:
            if option.startswith("SIZE="):
                if not option[5:].isdigit():
                    return SIZE_SYNTAX
                if int(option[5:]) > self.settings.max_message_size:
                    return MESSAGE_TOO_BIG
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return OK_SENDER

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not _has_domain(address) and address.lower() != "postmaster":
            return BAD_RECIPIENT
        if len(envelope.rcpt_tos) >= self.settings.max_recipients:
            return TOO_MANY_RECIPIENTS  # RFC 5321 §4.5.3.1.10: the client sends the rest in another transaction
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return OK_RECIPIENT

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        sender = _clean_address(envelope.mail_from)
        recipients = [_clean_address(r) for r in envelope.rcpt_tos]
        loop = asyncio.get_running_loop()
        try:
            name = await loop.run_in_executor(
                self.executor, lambda: self.spool.put(envelope.original_content, sender, recipients, peer=_peer_ip(session))
            )
        except OSError:
            log.exception("cannot spool a message from %s", _peer_ip(session))
            return SPOOL_FAILED
        if self.notify is not None:
            self.notify()
        return OK_QUEUED.format(queue_id=name.removesuffix(".msg"))

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """aiosmtpd authenticator for AUTH PLAIN/LOGIN against the argon2 hashes of the auth file."""
        from argon2 import PasswordHasher
        from argon2.exceptions import VerificationError

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        digest = self.auth_users.get(auth_data.login.decode("utf-8", "replace"))
        try:
            ok = digest is not None and PasswordHasher().verify(digest, auth_data.password)
        except VerificationError:
            ok = False
        return AuthResult(success=bool(ok), handled=False, auth_data=auth_data.login)


class JournalSMTP(SMTP):
    """aiosmtpd's SMTP with a DATA reader fit for an archive (see the module docstring)."""

    def __init__(self, handler: JournalHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.max_message_size = handler.settings.max_message_size

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """Plain ``<local@domain> params`` without the email header parser (a third of the CPU per message)."""
        match = _SIMPLE_PATH.match(arg)
        if match:
            return match.group(1), match.group(2)
        return super()._getaddr(arg)

    async def smtp_DATA(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push(NEED_RCPT)
            return
        if arg:
            await self.push(DATA_SYNTAX)
            return
        await self.push(START_DATA)
        content = await self._read_data()
        if content is None:  # RFC 1870: read it all, then refuse
            self._set_post_data_state()
            await self.push(MESSAGE_TOO_BIG)
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)

    async def _read_data(self) -> bytes | None:
        """Bytes up to ``<CRLF>.<CRLF>``, dot-stuffing undone; None when over the size limit.

        Reads in large pieces — up to each ``.<CRLF>``, or all that is buffered — rather than line by
        line: a per-line loop was most of the receiver's CPU time per message.
        """
        wire = bytearray()
        overflow = False
        cap = self.max_message_size * 3 // 2 + 5  # dot-stuffing adds at most half again
        while True:
            try:
                wire += await self._reader.readuntil(b".\r\n")
                if len(wire) == 3 or wire[-5:-3] == b"\r\n":  # the dot line starts the data or a CRLF line
                    break
            except asyncio.LimitOverrunError as exc:  # no ".<CRLF>" in what is buffered: take it all
                wire += await self._reader.read(exc.consumed)
            if len(wire) > cap:
                overflow = True
                del wire[:-4]  # keep reading to the end of the data, holding only what finds the end
        if overflow:
            return None
        message = bytes(wire[:-3])
        del wire
        if message.startswith(b"."):
            message = message[1:]
        # A dot after any LF was stuffed: after CRLF by the RFC, after a bare LF by the clients that send
        # bare LF (smtplib does).
        message = message.replace(b"\n.", b"\n")
        return None if len(message) > self.max_message_size else message


class JournalController(Controller):
    """aiosmtpd's threaded controller serving on a socket bound beforehand (``daemons.listen``).

    ``_create_server`` is the documented extension point of aiosmtpd's controllers ("overridden by
    subclasses to actually perform the async binding"); passing ``sock=`` lets ``serve`` bind every
    listener before it creates anything. Port and host are taken from the socket, so aiosmtpd's
    start-up probe connects to the right place even for port 0.
    """

    def __init__(self, handler: JournalHandler, sock: socket.socket, **kwargs: Any) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self.sock = sock

    def factory(self) -> JournalSMTP:
        return JournalSMTP(self.handler, **self.SMTP_kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


def tls_context(settings: SmtpConfig) -> ssl.SSLContext | None:
    if not settings.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


class ArchiveSink:
    """What the drainer calls: spooled messages → ``Ingestor.ingest_many``.

    Built in the drainer process, which opens its own store handle on first use.
    """

    def __init__(self, config: Config, journal_addresses: Sequence[str]) -> None:
        self.config = config
        self.journal_addresses = tuple(journal_addresses)
        self._store = None
        self._ingestor = None

    def __call__(self, messages: list[SpooledMessage]) -> Iterable[object]:
        from server.indexing.pipeline import RawItem

        if self._ingestor is None:
            from server.indexing.pipeline import Ingestor
            from server.store import open_store

            self._store = open_store(self.config)
            self._ingestor = Ingestor(self._store, self.config)
        items = [
            RawItem(
                raw=m.raw,
                envelope_from=m.envelope_from or None,
                envelope_to=envelope_mailboxes(m.envelope_to, self.journal_addresses),
                source="smtp",
                origin=f"spool:{m.name}",
                received_at=parse_time(m.received_at) if m.received_at else None,  # when the 250 was sent
            )
            for m in messages
        ]
        return self._ingestor.ingest_many(items)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = self._ingestor = None


class JournalService:
    """The receiver as ``mailarchive serve`` runs it: spool drainer + SMTP listener.

    Constructing it only binds the listener (see ``server.daemons``); ``start()`` creates the spool,
    starts the drainer process (which replays what a previous run left) and serves.
    """

    name = "smtp"

    def __init__(self, config: Config, settings: SmtpConfig | None = None) -> None:
        """``settings``: the receiver's section when not ``config.smtp`` (tests run it on a free port)."""
        if settings is not None:
            config = config.replace(smtp=settings)
        self.config = config
        self.settings = settings = config.smtp
        self.socket = listen(settings.bind, settings.port, what="the SMTP journal receiver",
                             port_variable="MAILARCHIVE_SMTP_PORT", bind_variable="MAILARCHIVE_SMTP_BIND")  # fmt: skip
        self.spool: Spool | None = None
        self.drainer: DrainerProcess | None = None
        self.controller: JournalController | None = None
        self.sessions: SessionCounter | None = None

    @property
    def address(self) -> str:
        return address_of(self.socket)

    def start(self, *, drain: bool = True) -> JournalService:
        """``drain=False``: the listener alone writing into a spool nothing drains (tests read it back)."""
        settings = self.settings
        self.spool = Spool(self.config.spool_dir)
        if drain:
            self.drainer = DrainerProcess(self.config.spool_dir, partial(ArchiveSink, self.config, settings.journal_addresses))
        self.sessions = SessionCounter(partial(open_store, self.config), close_store=True)
        self.handler = JournalHandler(settings, self.spool, self.drainer.notify if self.drainer else None, self.sessions)
        self.controller = JournalController(
            self.handler,
            self.socket,
            server_hostname=settings.hostname or socket.gethostname(),
            ident="mailarchive journal receiver",
            data_size_limit=None,  # SIZE is advertised and enforced by JournalHandler / JournalSMTP
            enable_SMTPUTF8=True,
            tls_context=tls_context(settings),
            require_starttls=settings.require_tls,
            authenticator=self.handler.authenticate if self.handler.auth_users else None,
        )
        if self.drainer:
            self.drainer.start()  # replays whatever a previous run left in the spool
        try:
            self.controller.start()
        except BaseException:
            self.stop()
            raise
        return self

    def describe(self) -> str:
        extras = [name for name, on in (("STARTTLS", self.settings.tls_cert), ("AUTH", self.handler.auth_users)) if on]
        suffix = f" ({', '.join(extras)})" if extras else ""
        return f"journal SMTP on {self.address}{suffix}, spool {self.config.spool_dir}"

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop(no_assert=True)  # also when start() failed half-way
            self.handler.executor.shutdown(wait=True)
        self.socket.close()
        if self.drainer is not None:
            self.drainer.stop()
        if self.sessions is not None:
            self.sessions.close()


def bind(config: Config) -> JournalService:
    return JournalService(config)
