"""Readiness: may a load balancer send traffic to this node? (``/readyz``, ``mailarchive status``).

Liveness (``/healthz``) only says the process answers; readiness checks what a request needs: the
store answers, Redis answers (exports and maintenance queue there), the SMTP spool accepts a file
(a journal message is acknowledged only once spooled) and the data disk has room. Each check is
cheap and bounded, so an orchestrator may poll every few seconds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import redis

from server.archiving import SWITCH_KEY
from server.config import Config
from server.jobs.embedded_redis import EmbeddedRedis
from server.store.protocol import Store

MB = 1024 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # one line: what was found, or what is wrong
    seconds: float = 0.0


@dataclass(frozen=True)
class Readiness:
    checks: list[Check]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict:
        return {"status": "ready" if self.ready else "unavailable", "checks": [asdict(c) for c in self.checks]}


def check_store(store: Store) -> tuple[bool, str]:
    store.get_setting(SWITCH_KEY)
    return True, "answers"


def check_redis(config: Config) -> tuple[bool, str]:
    """The configured Redis must answer a PING; the embedded one must be running (``serve`` or
    ``mailarchive worker`` starts it); this check never starts it."""
    if config.worker.redis_url:
        client = redis.Redis.from_url(config.worker.redis_url, socket_timeout=2, socket_connect_timeout=2)
        with contextlib.closing(client):
            client.ping()
        return True, "configured Redis answers"
    if EmbeddedRedis(config.data_dir).answers():
        return True, "embedded Redis answers"
    return False, "embedded Redis is not running (start 'mailarchive serve' or 'mailarchive worker')"


def check_spool(config: Config) -> tuple[bool, str]:
    """Write, fsync and remove a probe file where the receiver writes (``tmp/`` of the spool)."""
    tmp = config.spool_dir / "tmp"
    if not tmp.is_dir():
        return False, f"{tmp} is not a directory" if tmp.exists() else f"spool directory {tmp} does not exist"
    probe = tmp / f".readyz-{os.getpid()}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b"probe")
        os.fsync(fd)
    finally:
        os.close(fd)
        probe.unlink(missing_ok=True)
    return True, f"{tmp} writable"


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def check_disk(config: Config) -> tuple[bool, str]:
    free = free_bytes(config.data_dir)
    need = config.ops.min_free_disk_mb * MB
    text = f"{free // MB:,} MiB free in {config.data_dir} (minimum {config.ops.min_free_disk_mb:,} MiB)"
    return free >= need, text


def _run(name: str, probe: Callable[[], tuple[bool, str]]) -> Check:
    started = time.monotonic()
    try:
        ok, detail = probe()
    except Exception as exc:  # a failing dependency is a "not ready" line, never a 500
        ok, detail = False, f"{type(exc).__name__}: {exc}".splitlines()[0]
    return Check(name, ok, detail, round(time.monotonic() - started, 4))


# Which node roles (``serve --only`` / ``MAILARCHIVE_ROLES``) need Redis: the web console queues
# Export All jobs there, the worker takes them. The spool is only the SMTP receiver's.
NEEDS_REDIS = frozenset({"web", "worker"})
NEEDS_SPOOL = frozenset({"smtp"})


def readiness(store: Store, config: Config) -> Readiness:
    """The checks this node's roles need (``config.ops.roles``): the store and the disk always,
    Redis where jobs are queued or run, the spool where journal mail is received. A web-only node
    behind a load balancer is then ready without a spool (and with Redis reached by URL), while a
    full node checks everything."""
    roles = set(config.ops.roles)
    checks = [_run("store", lambda: check_store(store))]
    if roles & NEEDS_REDIS:
        checks.append(_run("redis", lambda: check_redis(config)))
    if roles & NEEDS_SPOOL:
        checks.append(_run("spool", lambda: check_spool(config)))
    checks.append(_run("disk", lambda: check_disk(config)))
    return Readiness(checks)
