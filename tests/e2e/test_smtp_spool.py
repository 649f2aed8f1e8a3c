"""The spool the receiver acknowledges from: durable files, arrival order, damaged files parked, not lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.indexing.spool import Spool, SpoolError


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
