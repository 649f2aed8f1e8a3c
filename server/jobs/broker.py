"""The Redis connection and RQ queue of one process: the real Redis at ``MAILARCHIVE_REDIS_URL``,
or the embedded one under the data dir (started on first use, stopped by its last user).

Redis only carries jobs: what an export is, how far it got and where its file is lives in the
store's task document, so a Redis that loses its data loses nothing a worker cannot rebuild
(``ExportService.maintain`` re-queues tasks whose job vanished).
"""

from __future__ import annotations

import atexit
import threading

import redis
from rq import Queue

from server.config import Config
from server.jobs.embedded_redis import EmbeddedRedis

QUEUE_NAME = "mailarchive"


def redis_url(config: Config) -> str | None:
    """The configured Redis URL, None for the embedded server."""
    return config.worker.redis_url or None


class Broker:
    """Opened lazily and at most once per process; thread-safe (the web app enqueues from many
    threads; redis-py's pool is thread-safe)."""

    def __init__(self, config: Config) -> None:
        self.url = redis_url(config)
        self.embedded = None if self.url else EmbeddedRedis(config.data_dir)
        self._connection: redis.Redis | None = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """For the console line of ``serve``/``worker`` (the URL without any password)."""
        if self.embedded is not None:
            return f"embedded Redis at {self.embedded.url}"
        return f"Redis at {redact(self.url or '')}"

    def connection(self) -> redis.Redis:
        with self._lock:
            if self._connection is None:
                self._connection = (self.embedded.acquire() if self.embedded is not None
                                    else redis.Redis.from_url(self.url or ""))
            return self._connection

    def queue(self) -> Queue:
        return Queue(QUEUE_NAME, connection=self.connection())

    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
            if self.embedded is not None:
                self.embedded.release()


def redact(url: str) -> str:
    """``redis://user:secret@host`` -> ``redis://user:***@host``."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


_brokers: dict[tuple[str, str | None], Broker] = {}
_brokers_lock = threading.Lock()


def broker_for(config: Config) -> Broker:
    """The process's broker for this data dir and Redis URL (the web app, the worker daemon and the
    jobs of one process share it, so the embedded server has one user per process)."""
    key = (str(config.data_dir.resolve()), redis_url(config))
    with _brokers_lock:
        if not _brokers:
            atexit.register(close_all)  # a process that never calls close_all still lets go at exit
        if key not in _brokers:
            _brokers[key] = Broker(config)
        return _brokers[key]


def close_all() -> None:
    """Release every broker of this process (``serve`` and ``worker`` at exit, test fixtures)."""
    with _brokers_lock:
        brokers = list(_brokers.values())
        _brokers.clear()
    for broker in brokers:
        broker.close()
