"""The arrival sequence: numbers given at first archiving, kept by merges, walked in arrival order."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from server.model import ArrivalHead, Message
from server.store import Store
from tests.conformance.factory import ALICE, BOB, day, make, put


def seqs(store: Store, ids: list[str]) -> list[int]:
    return [m.archive_seq for m in store.get_messages(ids)]


def heads_of(messages: Sequence[Message]) -> list[ArrivalHead]:
    """What ``scan_archived_heads`` must return for these messages of ``scan_archived``."""
    return [ArrivalHead(m.archive_seq, m.id, m.sha256, m.size) for m in messages]


def test_an_empty_archive_has_watermark_zero(store: Store) -> None:
    assert store.max_archive_seq() == 0
    assert store.scan_archived(0, 10) == []
    assert store.scan_archived_heads(0, 10) == []


def test_numbers_follow_arrival_not_the_date(store: Store) -> None:
    """A message with an old Date header that arrives last gets the highest number."""
    put(store, [make("new-1", date=day(5)), make("new-2", date=day(6))])
    put(store, [make("old-late", date=datetime(1999, 1, 1, tzinfo=UTC))])
    first, second, late = seqs(store, ["new-1", "new-2", "old-late"])
    assert 0 < first < second < late
    assert store.max_archive_seq() == late
    assert [m.id for m in store.scan_archived(0, 10)] == ["new-1", "new-2", "old-late"]
    assert [m.id for m in store.scan_archived(second, 10)] == ["old-late"]
    assert [m.id for m in store.scan_archived(0, 2)] == ["new-1", "new-2"]
    assert store.scan_archived(late, 10) == []


def test_a_merge_keeps_the_number_of_the_first_copy(store: Store) -> None:
    put(store, [make("copy", mailboxes=[ALICE])])
    (before,) = seqs(store, ["copy"])
    put(store, [make("other")])
    assert put(store, [make("copy", mailboxes=[BOB])]) == ["merged"]
    (after,) = seqs(store, ["copy"])
    assert after == before
    assert [m.id for m in store.scan_archived(0, 10)] == ["copy", "other"]
    assert store.scan_archived(0, 10)[0].mailboxes == [ALICE, BOB]


def test_copies_inside_one_batch_share_one_number(store: Store) -> None:
    put(store, [make("twin", mailboxes=[ALICE]), make("solo"), make("twin", mailboxes=[BOB])])
    twin, solo = seqs(store, ["twin", "solo"])
    assert twin != solo
    assert sorted(m.id for m in store.scan_archived(0, 10)) == ["solo", "twin"]


def test_a_number_given_by_the_caller_is_ignored(store: Store) -> None:
    message, raw = make("claims-seq")
    message.archive_seq = 10_000
    put(store, [(message, raw)])
    assert 0 < seqs(store, ["claims-seq"])[0] < 10_000


def test_concurrent_writers_never_share_a_number(store: Store) -> None:
    """Four threads, each putting its own batches: every message gets a distinct number and the
    walk in seq order returns every message exactly once."""
    def writer(n: int) -> None:
        for batch in range(3):
            store.put_messages([make(f"w{n}-{batch}-{i}", date=day(1 + i % 5)) for i in range(20)])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.refresh()
    walked, after = [], 0
    while page := store.scan_archived(after, 37):
        walked += page
        after = page[-1].archive_seq
    numbers = [m.archive_seq for m in walked]
    assert len(walked) == 240 == len(set(numbers)) == len({m.id for m in walked})
    assert numbers == sorted(numbers)
    assert store.max_archive_seq() >= numbers[-1]


def test_a_large_window_comes_back_whole_and_in_order(store: Store) -> None:
    """More than one search page (Elasticsearch pages internally; 10,000 is a POP3 window)."""
    until = datetime(2025, 1, 1, tzinfo=UTC)
    for batch in range(3):
        put(store, [make(f"big-{batch}-{n:03d}", date=day(1 + n % 9), retention_until=until) for n in range(400)])
    walked = store.scan_archived(0, 5000)
    assert len(walked) == 1200 and [m.archive_seq for m in walked] == sorted(m.archive_seq for m in walked)
    assert [m.id for m in walked[:2]] == ["big-0-000", "big-0-001"] and walked[-1].id == "big-2-399"
    assert [m.id for m in store.scan_archived(0, 1100)] == [m.id for m in walked[:1100]]
    assert store.scan_archived_heads(0, 5000) == heads_of(walked)
    assert store.scan_archived_heads(0, 1100) == heads_of(walked[:1100])
    assert store.scan_archived_heads(walked[999].archive_seq, 150) == heads_of(walked[1000:1150])
    assert [m.id for m in store.scan_expired(until + timedelta(days=1), 1150)] == [m.id for m in walked[:1150]]


@pytest.mark.parametrize("limit", [1, 2, 7, 1000])
def test_arrival_heads_are_the_archived_messages_fields_in_order(store: Store, limit: int) -> None:
    """A POP3 window reads heads: from every position and page by page, they are ``scan_archived``'s
    messages with its sequence, id, SHA-256 and size, across a merged copy, one blob shared by two
    messages, a purged gap and an old Date that arrived last."""
    put(store, [make(f"h-{n}", date=day(1 + n % 5), body="x" * 37 * n) for n in range(9)])
    shared = b"Subject: one blob\r\n\r\ntwo messages\r\n"
    put(store, [make("shared-a", raw=shared), make("shared-b", raw=shared)])
    assert put(store, [make("h-3", mailboxes=[BOB], body="x" * 37 * 3)]) == ["merged"]
    assert store.delete_messages(["h-5"]) == 1
    put(store, [make("old-late", date=datetime(1999, 1, 1, tzinfo=UTC))])
    archived = store.scan_archived(0, 1000)
    assert len(archived) == 11 and len({m.size for m in archived}) > 5
    for after in [0, *(m.archive_seq for m in archived)]:
        assert store.scan_archived_heads(after, limit) == heads_of(store.scan_archived(after, limit))
    walked: list[ArrivalHead] = []
    while page := store.scan_archived_heads(walked[-1].archive_seq if walked else 0, limit):
        walked += page
    assert walked == heads_of(archived)
