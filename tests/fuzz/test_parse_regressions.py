"""Single messages the fuzz runs found breaking the parser, kept as regression tests (parse never raises)."""

from __future__ import annotations

from server.indexing.parse import parse


def test_a_date_offset_of_24_hours_or_more_is_an_unreadable_date_not_an_exception() -> None:
    raw = b"From: a@b.example\r\nDate: Thu, 01 Jan 1970 00:00:00 +9999\r\nSubject: x\r\n\r\nbody\r\n"
    mail = parse(raw)
    assert mail.date is None
    assert any("date: unreadable" in e for e in mail.parse_errors)
    assert mail.subject == "x"
