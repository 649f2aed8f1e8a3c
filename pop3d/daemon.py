"""pop3d as ``mailarchive serve`` runs it: an asyncio loop in a thread of its own, plus a small pool.

The loop moves bytes for every session; the pool (``WORKERS`` threads) runs the blocking parts —
argon2, the store, the audit log — so a slow disk or a login never stalls the other sessions.
The listeners are bound first (``bind``, creating nothing), like every daemon ``serve`` runs;
``start`` opens the archive. They are up whether or not the service is enabled: logins are
refused while it is disabled, and enabling it on the integration page needs no restart.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor

from pop3d.backend import ArchiveBackend
from pop3d.listener import Limits, Listener
from pop3d.throttle import LoginThrottle, ThrottlePolicy
from server.config import Config
from server.daemons import address_of, listen
from server.ops.sessions import SessionCounter
from server.services.context import Services

WORKERS = 4


def tls_context(certificate: str | None, key: str | None) -> ssl.SSLContext | None:
    if not certificate:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context


class Pop3Daemon:
    """Constructing it only binds the listeners (``server.daemons``); ``start()`` opens the archive."""

    name = "pop3"

    def __init__(self, config: Config, *, limits: Limits | None = None, throttle: ThrottlePolicy | None = None) -> None:
        self.config = config
        settings = config.pop3
        self.limits = limits or Limits(idle_timeout=settings.idle_timeout, max_sessions=settings.max_sessions)
        self.throttle = throttle
        self.socket = listen(settings.bind, settings.port, what="the POP3 server",
                             port_variable="MAILARCHIVE_POP3_PORT", bind_variable="MAILARCHIVE_POP3_BIND")  # fmt: skip
        self.tls_socket: socket.socket | None = None
        if settings.tls_port is not None:
            try:
                self.tls_socket = listen(settings.bind, settings.tls_port, what="POP3 over TLS",
                                         port_variable="MAILARCHIVE_POP3_TLS_PORT",
                                         bind_variable="MAILARCHIVE_POP3_BIND")  # fmt: skip
            except BaseException:
                self.socket.close()
                raise
        self.svc: Services | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.listener: Listener | None = None
        self.sessions: SessionCounter | None = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="pop3", daemon=True)

    def start(self) -> Pop3Daemon:
        settings = self.config.pop3
        context = tls_context(settings.certificate, settings.key)  # OSError: serve reports it in one line
        self.svc = Services.open(self.config)
        self.executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="pop3")
        backend = ArchiveBackend(self.svc, LoginThrottle(self.throttle), self.executor)
        self.sessions = SessionCounter(lambda: self.svc.store)  # type: ignore[union-attr]
        self.listener = Listener(backend, self.limits, context, self.sessions)
        self.thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.listener.start(self.socket, self.tls_socket), self.loop).result(30)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def port(self) -> int:
        return self.socket.getsockname()[1]

    @property
    def tls_port(self) -> int | None:
        return self.tls_socket.getsockname()[1] if self.tls_socket is not None else None

    def describe(self) -> str:
        line = f"POP3 for third-party archiving on {address_of(self.socket)}"
        if self.config.pop3.certificate:
            line += " (STLS)"
        if self.tls_socket is not None:
            line += f", TLS on {address_of(self.tls_socket)}"
        enabled = self.svc is not None and self.svc.pop3.is_enabled()
        state = "enabled" if enabled else "disabled until enabled on the Third-party Archive Integration page"
        return f"{line}; account {self.config.pop3.account}, {state}"

    def stop(self) -> None:
        if self.thread.is_alive():
            if self.listener is not None:
                asyncio.run_coroutine_threadsafe(self.listener.close(), self.loop).result(timeout=30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
        if not self.loop.is_closed() and not self.loop.is_running():
            self.loop.close()
        for sock in (self.socket, self.tls_socket):
            if sock is not None:
                sock.close()
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        if self.sessions is not None:
            self.sessions.close()  # before the store it writes to
        if self.svc is not None:
            self.svc.close()


def bind(config: Config) -> Pop3Daemon:
    return Pop3Daemon(config)
