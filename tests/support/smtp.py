"""Run the real SMTP journal receiver for tests: on a free loopback port, with a real spool.

``spool_receiver`` runs the listener alone (no drainer), so a test can read back exactly what was
acknowledged from the spool; ``archive_receiver`` runs the whole service (spool + drainer + store).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from server.config import Config, SmtpConfig
from server.indexing.smtp import JournalService
from server.indexing.spool import Spool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def receiver_settings(config: Config, **overrides: object) -> SmtpConfig:
    """The test config's SMTP section (no MAILARCHIVE_* variables) on a free port."""
    return config.smtp.replace(port=free_port(), hostname="archive.test", **overrides)


@contextmanager
def running_service(config: Config, settings: SmtpConfig) -> Iterator[JournalService]:
    service = JournalService(config, settings).start()
    try:
        yield service
    finally:
        service.stop()


@contextmanager
def spool_receiver(config: Config, settings: SmtpConfig) -> Iterator[Spool]:
    """The listener writing into a real spool that nothing drains."""
    service = JournalService(config, settings).start(drain=False)
    try:
        assert service.spool is not None
        yield service.spool
    finally:
        service.stop()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate for STARTTLS tests, made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
         "-days", "2", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key
