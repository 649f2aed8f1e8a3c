"""The mbox reader splits at real From_ lines only, whatever the block boundaries fall on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.indexing import mailreaders
from server.indexing.mailreaders import read_mbox

JAN1 = datetime(2001, 1, 1, tzinfo=UTC)
JAN2 = datetime(2001, 1, 2, tzinfo=UTC)
CASES = {
    "quoting and a From in a body": (
        b"From a@b Mon Jan  1 00:00:00 2001\nSubject: x\n\nbody\n>From here\n>>From there\n\n"
        b"From b@c Tue Jan  2 00:00:00 2001\nSubject: y\n\nFrom Russia with love\nend",
        [(b"Subject: x\n\nbody\nFrom here\n>From there\n", JAN1), (b"Subject: y\n\nFrom Russia with love\nend", JAN2)],
    ),
    "byte order mark and CRLF": (
        b"\xef\xbb\xbfFrom - Mon Jan  1 00:00:00 2001\r\nA: b\r\n\r\nx\r\n\r\nFrom MAILER-DAEMON Mon\r\nB: c\r\n\r\n",
        [(b"A: b\r\n\r\nx\r\n", JAN1), (b"B: c\r\n", None)],
    ),
    "no From_ line at all: one message": (b"Subject: no from\n\nbody\n", [(b"Subject: no from\n\nbody\n", None)]),
    "text before the first From_ line is not mail": (b"junk\n\nFrom x@y Mon\nS: 1\n\n", [(b"S: 1\n", None)]),
    "a From_ look-alike split over two lines": (b"From foo\nMon bar\n", [(b"From foo\nMon bar\n", None)]),
    "only blank lines": (b"\n\n", []),
    "empty file": (b"", []),
    "a last From_ line without a newline": (b"From x@y Mon", [(b"", None)]),
    "only the last blank line is the separator": (
        b"From a@b Mon\nA: 1\n\n\n\nFrom a@b Mon\n\n", [(b"A: 1\n\n\n", None), (b"", None)],
    ),
}


@pytest.mark.parametrize("block", [1, 3, 7, 64, 4 * 1024 * 1024])
@pytest.mark.parametrize("name", list(CASES))
def test_messages_and_times_whatever_the_block_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    name: str, block: int) -> None:
    data, expected = CASES[name]
    path = tmp_path / "mail.mbox"
    path.write_bytes(data)
    monkeypatch.setattr(mailreaders, "_BLOCK", block)
    assert list(read_mbox(path)) == expected


def test_a_message_larger_than_a_block_stays_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = b"".join(b"line %d From nobody\n" % n for n in range(5000))
    path = tmp_path / "big.mbox"
    path.write_bytes(b"From a@b Mon\nS: 1\n\n" + body + b"\nFrom c@d Tue\nS: 2\n\nx\n")
    monkeypatch.setattr(mailreaders, "_BLOCK", 4096)
    assert [raw for raw, _ in read_mbox(path)] == [b"S: 1\n\n" + body, b"S: 2\n\nx\n"]
