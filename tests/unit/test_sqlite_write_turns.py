"""Turns at the write lock (server/store/sqlite/write_turns.py): a writer that finds a bulk import's
long group holding the lock is let through after the import's next write, not after the group;
the import then goes on, and a waiter that dies never blocks it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from server.store.sqlite import SqliteStore, connection
from tests.conformance.factory import day, make

BATCHES = 400  # the import's length, in puts: far longer than a waiter should wait


def _import_until(store: SqliteStore, stop: threading.Event, done: list[int]) -> None:
    with store.bulk_import():
        for n in range(BATCHES):
            if stop.is_set():
                break
            store.put_messages([make(f"b{n}-{i}", date=day(1 + n % 20), body=f"w{n}") for i in range(5)])
            done[0] = n + 1


@pytest.fixture
def endless_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups that never end by size or age: only a waiter makes the import commit."""
    monkeypatch.setattr(connection, "GROUP_CHANGES", 10**12)
    monkeypatch.setattr(connection, "GROUP_SECONDS", 10**9)


def test_a_writer_is_let_through_a_long_import_group(tmp_path: Path, endless_groups: None) -> None:
    path = tmp_path / "archive.sqlite3"
    importer, console = SqliteStore(path), SqliteStore(path)
    stop, done = threading.Event(), [0]
    worker = threading.Thread(target=_import_until, args=(importer, stop, done))
    worker.start()
    try:
        while done[0] < 3 and worker.is_alive():  # the import holds its group open
            threading.Event().wait(0.01)
        console.set_setting("audited", "search")  # waits for the lock the import holds
        at_write = done[0]
        assert console.get_setting("audited") == "search"
        assert console.count() >= 3 * 5  # the import committed what it had stored before letting it in
        while done[0] < at_write + 3 and worker.is_alive():  # ... and goes on importing after it
            threading.Event().wait(0.01)
    finally:
        stop.set()
        worker.join()
    assert at_write < BATCHES  # without turns the write would wait for the import to end
    assert console.count() == done[0] * 5
    importer.close()
    console.close()


def test_a_dead_waiter_does_not_block_the_import(tmp_path: Path, endless_groups: None) -> None:
    """A waiter's lock dies with its process: another process takes it and exits."""
    path = tmp_path / "archive.sqlite3"
    store = SqliteStore(path)
    store.put_messages([make("seed")])
    waiter = "import fcntl, os, sys; fcntl.flock(os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT), fcntl.LOCK_EX)"
    subprocess.run([sys.executable, "-c", waiter, f"{path}-wanted"], check=True)  # takes the lock and dies
    stop, done = threading.Event(), [0]
    stop_after = threading.Timer(30, stop.set)  # a bound, never reached when the import runs freely
    stop_after.start()
    try:
        _import_until(store, stop, done)
    finally:
        stop_after.cancel()
    assert done[0] == BATCHES
    assert store.count() == 1 + BATCHES * 5
    store.close()
