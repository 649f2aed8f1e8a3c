"""The spool the receiver acknowledges from: durable files, arrival order, damaged files parked, not lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from server.indexing.spool import DirectorySync, Spool, SpoolError


def test_put_then_load_gives_back_bytes_and_envelope(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    raw = b"Subject: x\r\n\r\n\x00\xff bytes\n\r\n"
    name = spool.put(bytearray(raw), "alice@corp.example", ["bob@corp.example", "eve@corp.example"], peer="127.0.0.1")
    message = Spool(tmp_path / "spool").load(name)  # a new process sees the same
    assert (message.raw, message.envelope_from, message.envelope_to, message.peer) == (
        raw, "alice@corp.example", ("bob@corp.example", "eve@corp.example"), "127.0.0.1")
    assert message.received_at.endswith("Z")


def test_pending_is_arrival_order_and_remove_forgets(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    names = [spool.put(f"m{i}".encode(), "a@x.example", ["b@x.example"]) for i in range(30)]
    assert spool.pending() == names
    spool.remove(names[0])
    spool.remove(names[0])  # twice is fine: a replay after a crash may do that
    assert spool.pending() == names[1:]


def test_unacknowledged_partial_writes_are_dropped_on_start(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (spool.tmp / "123.partial.msg").write_bytes(b"MAILARCHIVE-SPOOL 1\n{\"fro")
    kept = spool.put(b"kept", None, ["b@x.example"])
    assert list(Spool(tmp_path).tmp.iterdir()) == []
    assert Spool(tmp_path).pending() == [kept]


@pytest.mark.parametrize(
    "content",
    [b"", b"MAILARCHIVE-SPOOL 1\n", b"garbage\n{}\nraw", b'MAILARCHIVE-SPOOL 1\n{"size": 10}\nshort'],
)
def test_damaged_file_is_reported_with_its_name(tmp_path: Path, content: bytes) -> None:
    spool = Spool(tmp_path)
    (spool.new / "0001.bad.msg").write_bytes(content)
    with pytest.raises(SpoolError, match="0001.bad.msg"):
        spool.load("0001.bad.msg")


def test_hold_parks_a_file_without_losing_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    name = spool.put(b"poison", "a@x.example", ["b@x.example"])
    spool.hold(name)
    assert spool.pending() == [] and spool.held() == [name]
    assert (spool.hold_dir / name).read_bytes().endswith(b"poison")


class _WatchedSync(DirectorySync):
    """The real group commit, with the times each caller entered and left ``sync`` and each fsync ran."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls: list[tuple[float, float]] = []
        self.windows: list[tuple[float, float]] = []
        self._guard = threading.Lock()

    def sync(self) -> None:
        entered = time.monotonic()  # the caller's rename is done by now
        super().sync()
        with self._guard:
            self.calls.append((entered, time.monotonic()))

    def _fsync(self) -> None:
        began = time.monotonic()
        super()._fsync()
        with self._guard:
            self.windows.append((began, time.monotonic()))


def test_every_put_returns_after_a_directory_fsync_that_began_after_its_rename(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    watched = spool._new_entries = _WatchedSync(spool.new)

    def deliver(n: int) -> None:
        for i in range(40):
            spool.put(f"m{n}-{i}".encode(), "a@x.example", ["b@x.example"])

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(spool.pending()) == 400 and len(watched.calls) == 400
    # Some fsync of new/ must lie wholly inside each caller's wait: it began after the rename.
    uncovered = [c for c in watched.calls if not any(c[0] <= began and ended <= c[1] for began, ended in watched.windows)]
    assert not uncovered
    assert watched.fsyncs == len(watched.windows) <= 400


class _FailingOnce(DirectorySync):
    """The real group commit whose first fsync fails, as an I/O error would make it."""

    failed = False

    def _fsync(self) -> None:
        if not self.failed:
            self.failed = True
            raise OSError(5, "Input/output error")
        super()._fsync()


def test_a_failed_directory_fsync_fails_its_put_and_the_next_put_syncs_again(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool._new_entries = _FailingOnce(spool.new)
    with pytest.raises(OSError, match="Input/output"):
        spool.put(b"first", "a@x.example", ["b@x.example"])  # the receiver answers 451: the client retries
    spool.put(b"second", "a@x.example", ["b@x.example"])
    assert spool._new_entries.fsyncs == 1
