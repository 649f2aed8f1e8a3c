"""The embedded Redis: one server per data dir whoever starts it, stopped by its last user, data kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from server.jobs.embedded_redis import REDIS_DIR, EmbeddedRedis

# A user process: acquires the data dir's Redis, prints the server's pid, holds it until stdin closes.
USER = """
import sys
from server.jobs.embedded_redis import EmbeddedRedis
redis = EmbeddedRedis(sys.argv[1])
redis.acquire().ping()
print(redis.pid(), flush=True)
sys.stdin.read()
redis.release()
"""


def _user(data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", USER, str(data_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[2])  # fmt: skip


@pytest.fixture
def data_dir(tmp_path: Path):  # noqa: ANN201
    yield tmp_path / "data"
    EmbeddedRedis(tmp_path / "data").shutdown()  # whatever a failed test left running


def test_concurrent_starts_share_one_server_and_the_last_user_stops_it(data_dir: Path) -> None:
    users = [_user(data_dir) for _ in range(4)]  # all race to start it at once
    pids = {int(u.stdout.readline()) for u in users}
    assert len(pids) == 1
    redis = EmbeddedRedis(data_dir)
    for user in users[:-1]:
        user.communicate("")
        assert redis.answers(), "stopped while another process still used it"
    users[-1].communicate("")
    assert not redis.answers() and not redis.socket.exists()
    assert {p.name for p in (data_dir / REDIS_DIR).iterdir()} >= {"appendonly.aof", "redis.conf", "redis.log"}


def test_a_killed_user_leaves_the_server_to_the_next_one(data_dir: Path) -> None:
    first = _user(data_dir)
    pid = int(first.stdout.readline())
    first.send_signal(signal.SIGKILL)
    first.wait()
    redis = EmbeddedRedis(data_dir)
    assert redis.answers()  # the server outlives a killed user ...
    second = _user(data_dir)
    assert int(second.stdout.readline()) == pid  # ... the next one attaches instead of starting another
    second.communicate("")
    assert not redis.answers()  # ... and, as the last user, stops it


def test_queued_data_survives_a_restart(data_dir: Path) -> None:
    redis = EmbeddedRedis(data_dir)
    redis.acquire().rpush("rq:queue:test", b"job-1")
    redis.release()
    assert not redis.answers()
    again = EmbeddedRedis(data_dir)
    try:
        assert again.acquire().lrange("rq:queue:test", 0, -1) == [b"job-1"]
    finally:
        again.release()


def test_a_forked_child_letting_go_keeps_the_parents_hold(data_dir: Path) -> None:
    """RQ forks a work horse per job; its copy of the lock must not release the parent's."""
    redis = EmbeddedRedis(data_dir)
    redis.acquire()
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            redis.release()
            os._exit(0)
        os.waitpid(child, 0)
        other = _user(data_dir)
        other.stdout.readline()
        other.communicate("")  # another user leaving must see the parent still holding it
        assert redis.answers()
    finally:
        redis.release()
    assert not redis.answers()


def test_a_data_dir_too_long_for_a_unix_socket_gets_a_private_short_one(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 90) / "data"
    redis = EmbeddedRedis(deep)
    assert len(str(redis.socket)) < 100 and redis.socket.parent.stat().st_mode & 0o077 == 0
    try:
        assert redis.acquire().ping()
    finally:
        redis.release()
    assert not redis.answers()
