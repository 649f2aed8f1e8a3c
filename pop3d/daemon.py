"""pop3d as ``mailarchive serve`` runs it: an asyncio loop in a thread of its own, plus a small pool.

The loop moves bytes for every session; the pool (``WORKERS`` threads) runs the blocking parts —
argon2, the store, the audit log — so a slow disk or a login never stalls the other sessions.
The listener is up whether or not the service is enabled: logins are refused while it is
disabled, and enabling it on the integration page takes effect without a restart.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor

from pop3d.backend import ArchiveBackend
from pop3d.listener import Limits, Listener
from pop3d.throttle import LoginThrottle, ThrottlePolicy
from server.config import Config
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
    name = "pop3"

    def __init__(self, config: Config, *, limits: Limits | None = None, throttle: ThrottlePolicy | None = None) -> None:
        self.config = config
        settings = config.pop3
        self.limits = limits or Limits(idle_timeout=settings.idle_timeout, max_sessions=settings.max_sessions)
        self.svc = Services.open(config)
        self.executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="pop3")
        backend = ArchiveBackend(self.svc, LoginThrottle(throttle), self.executor)
        self.listener = Listener(backend, self.limits, tls_context(settings.certificate, settings.key))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="pop3", daemon=True)

    def start(self) -> Pop3Daemon:
        self.thread.start()
        settings = self.config.pop3
        try:
            asyncio.run_coroutine_threadsafe(
                self.listener.start(settings.bind, settings.port, settings.tls_port), self.loop
            ).result(timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def port(self) -> int:
        return self.listener.addresses()[0][1]

    @property
    def tls_port(self) -> int | None:
        addresses = self.listener.addresses()
        return addresses[1][1] if len(addresses) > 1 else None

    def describe(self) -> str:
        host = self.config.pop3.bind
        line = f"POP3 for third-party archiving on {host}:{self.port}"
        if self.listener.tls_context is not None:
            line += " (STLS)"
        if self.tls_port is not None:
            line += f", TLS on {host}:{self.tls_port}"
        state = "enabled" if self.svc.pop3.is_enabled() else "disabled: enable it with `mailarchive pop3 enable`"
        return f"{line}; account {self.config.pop3.account}, {state}"

    def stop(self) -> None:
        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.listener.close(), self.loop).result(timeout=30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
        self.loop.close()
        self.executor.shutdown(wait=True)
        self.svc.close()


def start(config: Config) -> Pop3Daemon:
    return Pop3Daemon(config).start()
