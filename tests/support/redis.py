"""Real Redis servers for tests: Debian's ``redis-server`` on a free loopback port (the
``MAILARCHIVE_REDIS_URL`` path) and the embedded one under a data dir (the default path).

No fake Redis anywhere: RQ runs against these, with real workers in real processes.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from server.jobs.broker import close_all
from tests.support.smtp import free_port

REDIS_SERVER = "/usr/bin/redis-server"  # Debian's package (``make test`` installs it)


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A private ``redis-server`` on 127.0.0.1 (no persistence); yields its URL."""
    binary = REDIS_SERVER if Path(REDIS_SERVER).exists() else shutil.which("redis-server")
    if binary is None:
        pytest.skip("Debian's redis-server is not installed (make test installs it)")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory), "--protected-mode", "yes", "--logfile", str(directory / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start; see {directory / 'redis.log'}") from None
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        close_all()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
