"""POP3 multi-line encoding: CRLF line ends, dot-stuffing, TOP, and that decoding gives the bytes back."""

from __future__ import annotations

import pytest

from pop3d.wire import chunks, message_response, top_response


@pytest.mark.parametrize(
    ("raw", "wire"),
    [
        (b"", b".\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"a\nb\n", b"a\r\nb\r\n.\r\n"),  # imported files with LF
        (b"a\r\nb", b"a\r\nb\r\n.\r\n"),  # no final line end
        (b".hidden\r\n..two\r\n.\r\n", b"..hidden\r\n...two\r\n..\r\n.\r\n"),
        (b"x\n.\n.\n", b"x\r\n..\r\n..\r\n.\r\n"),  # consecutive dot lines, LF
        (b"mixed\r\nlf\nend", b"mixed\r\nlf\r\nend\r\n.\r\n"),
        (b"bare\rcr\r\n", b"bare\rcr\r\n.\r\n"),  # a CR inside a line is content
    ],
)
def test_message_response(raw: bytes, wire: bytes) -> None:
    assert message_response(raw) == wire


def unstuff(wire: bytes) -> bytes:
    """What a client does: drop the terminator, remove one leading dot per line."""
    assert wire.endswith(b".\r\n")
    lines = wire[:-3].split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def test_round_trip_of_crlf_mail() -> None:
    raw = b"Subject: x\r\n\r\n.\r\n..\r\nbody.\r\n.end\r\n"
    assert unstuff(message_response(raw)) == raw


def test_top_sends_header_blank_line_and_n_body_lines() -> None:
    raw = b"Subject: s\nFrom: a@b\n\nl1\nl2\n.l3\n"
    assert top_response(raw, 0) == b"Subject: s\r\nFrom: a@b\r\n\r\n.\r\n"
    assert top_response(raw, 2) == b"Subject: s\r\nFrom: a@b\r\n\r\nl1\r\nl2\r\n.\r\n"
    assert top_response(raw, 3) == b"Subject: s\r\nFrom: a@b\r\n\r\nl1\r\nl2\r\n..l3\r\n.\r\n"
    assert top_response(raw, 99) == top_response(raw, 3)


def test_top_of_message_without_body() -> None:
    assert top_response(b"Subject: only\r\n", 5) == b"Subject: only\r\n.\r\n"


def test_chunks_cover_the_data_without_copies() -> None:
    data = bytes(range(256)) * 1000
    parts = list(chunks(data, 1000))
    assert all(isinstance(p, memoryview) for p in parts)
    assert b"".join(parts) == data and len(parts) == 256
