"""Single messages the fuzz runs found breaking the parser, kept as regression tests (parse never raises)."""

from __future__ import annotations

import hashlib
import threading

from server.config import Config
from server.indexing.parse import parse
from server.indexing.pipeline import Ingestor, RawItem
from server.store.sqlite import SqliteStore


def test_a_date_offset_of_24_hours_or_more_is_an_unreadable_date_not_an_exception() -> None:
    raw = b"From: a@b.example\r\nDate: Thu, 01 Jan 1970 00:00:00 +9999\r\nSubject: x\r\n\r\nbody\r\n"
    mail = parse(raw)
    assert mail.date is None
    assert any("date: unreadable" in e for e in mail.parse_errors)
    assert mail.subject == "x"


def nested_rfc822_chain(levels: int = 40, words: int = 4000) -> bytes:
    """35 KB the stdlib needs about a second per level for: every nested message/rfc822 is serialised
    again (server.indexing.mime) and its header of thousands of encoded words refolded."""
    inner = b"From: inner@b.example\r\nSubject: " + b" ".join([b"=?utf-8?B?QUFB?="] * words) + b"\r\n\r\ninnermost"
    for _ in range(levels):
        inner = b"Content-Type: message/rfc822\r\n\r\n" + inner
    return b"From: Outer <outer@b.example>\r\nSubject: chain\r\nMessage-ID: <chain@b.example>\r\n" + inner


def test_a_message_over_the_parse_budget_keeps_its_headers_and_is_archived_byte_for_byte(config: Config) -> None:
    raw = nested_rfc822_chain()
    mail = parse(raw, seconds=1.0)
    assert any(e.startswith("parse: over the time budget (") for e in mail.parse_errors)  # CPU, or the backstop
    assert (mail.sender, mail.subject, mail.message_id) == ("outer@b.example", "chain", "<chain@b.example>")
    store = SqliteStore.from_config(config)
    try:
        item = RawItem(raw, source="import")
        [outcome] = Ingestor(store, config).store_batch([(item, mail)])
        assert outcome.status == "archived"
        assert store.get_raw(hashlib.sha256(raw).hexdigest()) == raw
        assert any("time budget" in e for e in store.get_message(outcome.id).parse_errors)
    finally:
        store.close()


def test_the_budget_also_stops_a_parse_in_a_thread_where_no_timer_signal_reaches() -> None:
    results: list = []
    worker = threading.Thread(target=lambda: results.append(parse(nested_rfc822_chain(), seconds=1.0)))
    worker.start()
    worker.join(120)
    assert not worker.is_alive()
    assert any("time budget" in e for e in results[0].parse_errors)
