"""BatchedReads' pipeline (Export All): order, flat memory, and clean stops whatever happens."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from server.export.batched import BatchedReads


@dataclass(frozen=True)
class Item:
    id: str
    size: int


class Scan:
    """A scan that records which threads advanced it and whether it was closed (and where)."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count, self.fail_at = count, fail_at
        self.threads: set[str] = set()
        self.closed_in: str | None = None

    def __iter__(self) -> Iterator[Item]:
        try:
            for n in range(self.count):
                self.threads.add(threading.current_thread().name)
                if n == self.fail_at:
                    raise RuntimeError(f"scan failed at {n}")
                yield Item(f"m{n:05d}", 100 + n % 7)
        finally:
            self.closed_in = threading.current_thread().name


def raws(batch: Sequence[Item]) -> list[bytes | Exception]:
    return [item.id.encode() * 3 if item.id != "m00042" else ValueError("m00042 is damaged") for item in batch]


class Setups:
    """thread_setup: which threads entered it, and whether each left it in the same thread."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.left: list[str] = []

    @contextmanager
    def __call__(self) -> Iterator[None]:
        self.entered.append(threading.current_thread().name)
        try:
            yield
        finally:
            self.left.append(threading.current_thread().name)


def reads(scan: Scan, setups: Setups | None = None) -> BatchedReads[Item]:
    return BatchedReads(scan, raws, max_messages=16, ahead=True, thread_setup=setups or Setups())


def test_every_message_in_scan_order_with_its_own_bytes() -> None:
    scan, setups = Scan(1000), Setups()
    pipeline = reads(scan, setups)
    seen = []
    for item in pipeline:
        if item.id == "m00042":
            with pytest.raises(ValueError, match="damaged"):
                pipeline.raw_of(item)
        else:
            assert pipeline.raw_of(item) == item.id.encode() * 3
            assert pipeline.crc_of(item) == zlib.crc32(item.id.encode() * 3)  # computed in the reading thread
        seen.append(item.id)
    assert seen == [f"m{n:05d}" for n in range(1000)]
    assert scan.threads == {scan.closed_in} and scan.closed_in.startswith("scan-ahead")
    assert sorted(setups.entered) == sorted(setups.left) and len(setups.entered) == 2
    assert {name.split("_")[0] for name in setups.entered} == {"scan-ahead", "read-ahead"}
    assert threading.current_thread().name not in setups.entered


def test_bytes_are_handed_out_in_order_only() -> None:
    pipeline = reads(Scan(40))
    first, second = next(iter_ := iter(pipeline)), next(iter_)
    with pytest.raises(LookupError, match="order"):
        pipeline.raw_of(second)
    assert pipeline.raw_of(first) == first.id.encode() * 3


def test_a_caller_stopping_early_closes_the_scan_in_its_thread_and_undoes_every_setup() -> None:
    scan, setups = Scan(10_000), Setups()
    for n, _ in enumerate(reads(scan, setups)):
        if n == 100:
            break
    assert scan.closed_in and scan.closed_in.startswith("scan-ahead")
    assert len(setups.left) == 2 and sorted(setups.entered) == sorted(setups.left)


def test_a_failing_scan_reaches_the_caller_and_nothing_after_it_is_handed_out() -> None:
    """The export then fails as a whole (its partial file is removed), so the batch read meanwhile
    need not be handed out first; what was handed out is the scan's order, without a gap."""
    scan, setups = Scan(500, fail_at=300), Setups()
    seen = []
    with pytest.raises(RuntimeError, match="scan failed at 300"):
        for item in reads(scan, setups):
            seen.append(item.id)
    assert seen == [f"m{n:05d}" for n in range(len(seen))] and 256 <= len(seen) <= 288
    assert len(setups.left) == 2


def test_a_failing_read_reaches_the_caller_and_stops_the_scan() -> None:
    scan, setups = Scan(5000), Setups()

    def broken(batch: Sequence[Item]) -> list[bytes | Exception]:
        if batch[0].id >= "m00160":
            raise OSError("disk gone")
        return raws(batch)

    with pytest.raises(OSError, match="disk gone"):
        for _ in BatchedReads(scan, broken, max_messages=16, ahead=True, thread_setup=setups):
            pass
    assert scan.closed_in and len(setups.left) == 2


def test_without_read_ahead_the_crc_is_of_the_bytes_just_handed_out() -> None:
    pipeline = BatchedReads(Scan(50), raws, max_messages=16)
    checked = 0
    for item in pipeline:
        if item.id == "m00042":
            with pytest.raises(ValueError):
                pipeline.raw_of(item)
            continue
        raw = pipeline.raw_of(item)
        assert pipeline.crc_of(item) == zlib.crc32(raw)
        checked += 1
    assert checked == 49
