"""Building blocks for POP3 tests: archive real mail, enable the account, run the real daemon.

    with pop3_daemon(config) as daemon:          # listens on a free loopback port
        client = poplib.POP3("127.0.0.1", daemon.port)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from typing import Any

import pytest
import zstandard
from argon2 import PasswordHasher

from pop3d.daemon import Pop3Daemon
from pop3d.listener import Limits
from pop3d.throttle import ThrottlePolicy
from server.config import Config
from server.indexing.pipeline import Ingestor
from server.model import Message
from server.services.actor import Actor
from server.services.context import Services
from server.users import set_password_hasher

PASSWORD = "pop3 archive secret"
ACCOUNT = "archive"
# Real argon2id at a test cost (the default costs ~0.3 s per login on the shared 2-core machine).
set_password_hasher(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
# The real throttle, with pauses short enough for a test to wait them out.
FAST_THROTTLE = ThrottlePolicy(base_delay=0.01, max_delay=0.05, address_limit=5, address_lockout=60,
                               account_limit=50, account_lockout=60)  # fmt: skip


def pop3_config(config: Config, **pop3: Any) -> Config:
    """``config`` with POP3 on a free port (0) and any other POP3 settings given."""
    return config.replace(pop3=config.pop3.replace(**{"port": 0, **pop3}))


def archive(config: Config, raws: Sequence[bytes]) -> list[Message]:
    """Archive ``raws`` through the real pipeline; the stored messages in arrival order."""
    with Services.open(config) as svc:
        ingestor = Ingestor(svc.store, config)
        ids = [ingestor.ingest(raw, source="import").id for raw in raws]
        svc.store.refresh()
        return svc.store.get_messages(ids)


def enable(config: Config, password: str = PASSWORD) -> None:
    with Services.open(config) as svc:
        svc.pop3.enable(Actor.cli(), password)


def client_config(config: Config, binary: str | None, package: str, window: int) -> Config:
    """For a test driving a packaged POP3 client: skip when ``binary`` is missing, else ``config``
    with POP3 on a free port, a ``window``-message maildrop, and the service enabled."""
    if binary is None:
        pytest.skip(f"{package} is not installed (make test installs it: apt-get install {package})")
    config = pop3_config(config, window=window)
    enable(config)
    return config


def corrupt_raw(config: Config, sha256: str, data: bytes = b"tampered") -> None:
    """Overwrite archived bytes behind the store's back (SQLite), as disk rot or an intruder would."""
    with closing(sqlite3.connect(config.sqlite_path)) as conn, conn:
        conn.execute("UPDATE raws SET data = ? WHERE sha256 = ?", (zstandard.ZstdCompressor().compress(data), sha256))


def lose_raw(config: Config, sha256: str) -> None:
    """Delete archived bytes behind the store's back (SQLite): a damaged archive whose message remains."""
    with closing(sqlite3.connect(config.sqlite_path)) as conn, conn:
        conn.execute("DELETE FROM raws WHERE sha256 = ?", (sha256,))


@contextmanager
def pop3_daemon(config: Config, *, limits: Limits | None = None, throttle: ThrottlePolicy = FAST_THROTTLE
                ) -> Iterator[Pop3Daemon]:  # fmt: skip
    daemon = Pop3Daemon(config, limits=limits, throttle=throttle).start()  # binds, then starts
    try:
        yield daemon
    finally:
        daemon.stop()
