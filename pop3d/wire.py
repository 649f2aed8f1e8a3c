"""Archived bytes as a POP3 multi-line response (RFC 1939 §3): CRLF line ends, dot-stuffing, ``.``.

The archive keeps the original bytes exactly; only their transmission changes. A lone LF becomes
CRLF (imported files often use LF), an existing CRLF and a bare CR inside a line stay as they are,
every line starting with ``.`` gets one more, and the terminator ``.`` line follows. All of it is
``bytes.replace`` work done in C, so the encoding runs far above the RETR throughput target.
"""

from __future__ import annotations

from collections.abc import Iterator

CRLF = b"\r\n"
TERMINATOR = b".\r\n"
CHUNK = 64 * 1024  # bytes written between two waits for the client to read (back-pressure)


def crlf_lines(raw: bytes) -> bytes:
    """``raw`` with every line ending (LF or CRLF) as CRLF."""
    if raw.count(b"\n") != raw.count(CRLF):
        raw = raw.replace(CRLF, b"\n").replace(b"\n", CRLF)
    return raw


def dot_stuffed(text: bytes) -> bytes:
    """The multi-line body of a response for CRLF ``text``: stuffed, CRLF-ended, terminated."""
    if text.startswith(b"."):
        text = b"." + text
    text = text.replace(b"\r\n.", b"\r\n..")
    if text and not text.endswith(CRLF):
        text += CRLF
    return text + TERMINATOR


def message_response(raw: bytes) -> bytes:
    """The body of a RETR response for the archived ``raw`` bytes."""
    return dot_stuffed(crlf_lines(raw))


def top_response(raw: bytes, lines: int) -> bytes:
    """The body of a ``TOP msg n`` response: the header, the blank line and ``lines`` body lines."""
    text = crlf_lines(raw)
    blank = text.find(b"\r\n\r\n")
    if blank < 0:  # no body at all: the whole message is header
        return dot_stuffed(text)
    end = blank + 4
    for _ in range(lines):
        if end >= len(text):
            break
        nxt = text.find(CRLF, end)
        end = len(text) if nxt < 0 else nxt + 2
    return dot_stuffed(text[:end])


def chunks(data: bytes, size: int = CHUNK) -> Iterator[memoryview]:
    """``data`` in slices of ``size`` without copying (each is written, then the writer drains)."""
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield view[start : start + size]
