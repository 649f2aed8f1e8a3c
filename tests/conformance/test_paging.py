"""Paging: cursors across many messages sharing one date, exact totals, scan in search order."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import pytest

from server.model import HEAD_FIELDS
from server.store import Store
from tests.conformance.factory import ALICE, BOB, all_pages, crit, day, make, put

TIES = 30


@pytest.fixture
def tied(store: Store) -> Store:
    """30 messages with the same date (ids inserted in shuffled order) between 12 dated singly."""
    shuffled = sorted(range(TIES), key=lambda n: (n * 7) % TIES)
    items = [make(f"tie-{n:02d}", date=day(10), subject="report", mailboxes=[ALICE if n % 2 else BOB]) for n in shuffled]
    items += [make(f"solo-{n:02d}", date=day(10) + timedelta(hours=n - 6), subject="report", mailboxes=[ALICE])
              for n in range(12) if n != 6]  # fmt: skip
    items += [make("same-ms-a", date=day(10) + timedelta(milliseconds=1), subject="report", mailboxes=[ALICE])]
    put(store, items)
    return store


def expected_order(store: Store, **params: str) -> list[str]:
    everything = store.get_messages([m.id for m in store.search(crit(**params), limit=1000).results])
    return [m.id for m in sorted(everything, key=lambda m: (m.date, m.id), reverse=True)]


@pytest.mark.parametrize("limit", [1, 4, 7, 29, 30, 31, 1000])
def test_pages_have_no_duplicates_and_no_gaps(tied: Store, limit: int) -> None:
    ids, totals = all_pages(tied, crit(), limit)
    assert ids == expected_order(tied)
    assert len(ids) == len(set(ids)) == 42
    assert totals == {42}


@pytest.mark.parametrize("limit", [1, 5, 16])
@pytest.mark.parametrize("params", [{"keyword": "report"}, {"mailbox": ALICE}, {"mailbox": ALICE, "keyword": "report"},
                                    {"mailbox": BOB, "keyword": "report"}])  # fmt: skip
def test_filtered_pages_in_order(tied: Store, params: dict, limit: int) -> None:
    """Cursors inside and across the tied group, with the filter loaded or walked (SQLite pages
    a small result from one walk of every match, a large one by count and page walks)."""
    ids, totals = all_pages(tied, crit(**params), limit)
    assert ids == expected_order(tied, **params)
    assert totals == {len(ids)}


def test_ties_are_ordered_by_id_descending(tied: Store) -> None:
    ids = [m.id for m in tied.search(crit(), limit=1000).results]
    ties = [i for i in ids if i.startswith("tie-")]
    assert ties == [f"tie-{n:02d}" for n in reversed(range(TIES))]
    assert ids.index("same-ms-a") == ids.index("tie-29") - 1  # one millisecond later comes first


def test_paging_is_stable_when_repeated(tied: Store) -> None:
    first = tied.search(crit(), limit=10)
    again = tied.search(crit(), limit=10)
    assert [m.id for m in first.results] == [m.id for m in again.results]
    assert first.next_cursor == again.next_cursor
    second = tied.search(crit(), limit=10, cursor=first.next_cursor)
    assert not {m.id for m in first.results} & {m.id for m in second.results}


def test_last_page_has_no_cursor(store: Store) -> None:
    put(store, [make(date=day(n)) for n in range(1, 4)])
    page = store.search(crit(), limit=3)
    assert len(page.results) == 3 and page.next_cursor is None
    assert store.search(crit(), limit=2).next_cursor is not None


def test_empty_result(store: Store) -> None:
    page = store.search(crit(keyword="nothing"))
    assert (page.total, page.results, page.next_cursor) == (0, [], None)
    assert list(store.scan(crit(keyword="nothing"))) == []


@pytest.mark.parametrize("batch_size", [1, 5, 500])
def test_scan_streams_in_search_order(tied: Store, batch_size: int) -> None:
    scanned = [m.id for m in tied.scan(crit(), batch_size=batch_size)]
    assert scanned == [m.id for m in tied.search(crit(), limit=1000).results]


def test_scan_with_criteria(tied: Store) -> None:
    scanned = [m.id for m in tied.scan(crit(mailbox=BOB), batch_size=4)]
    assert scanned == expected_order(tied, mailbox=BOB) and len(scanned) == TIES // 2


@pytest.mark.parametrize("batch_size", [1, 5, 500])
@pytest.mark.parametrize("params", [{}, {"mailbox": BOB}, {"keyword": "report"}])
def test_scan_heads_are_the_scan_s_messages_in_its_order(tied: Store, batch_size: int, params: dict) -> None:
    """Export All reads heads: the same matches in the same order, each field as the full scan has it."""
    put(tied, [make(f"head-{n}", date=day(10) + timedelta(minutes=n), subject=f"合同 =SUM({n}) report",
                    sender=f"sender{n}@example.com", mailboxes=[BOB]) for n in range(3)])  # fmt: skip
    full = list(tied.scan(crit(**params), batch_size=batch_size))
    heads = list(tied.scan_heads(crit(**params), batch_size=batch_size))
    assert [h.id for h in heads] == [m.id for m in full] and heads
    assert [tuple(getattr(h, f) for f in HEAD_FIELDS) for h in heads] == \
        [tuple(getattr(m, f) for f in HEAD_FIELDS) for m in full]
    assert list(tied.scan_heads(crit(keyword="nothing"))) == []


def test_time_range_edges_are_inclusive(store: Store) -> None:
    start = day(20).replace(hour=0)
    edges = {"before": start - timedelta(milliseconds=1), "first": start,
             "last": start + timedelta(days=1, milliseconds=-1), "after": start + timedelta(days=1)}  # fmt: skip
    put(store, [make(name, date=moment) for name, moment in edges.items()])
    assert [m.id for m in store.search(crit(from_="2024-03-20", to="2024-03-20")).results] == ["last", "first"]
    exact = crit(from_="2024-03-20T00:00:00", to="2024-03-20T23:59:59.999")
    assert store.count(exact) == 2
    narrow = crit(from_="2024-03-19T23:59:59.999", to="2024-03-20T00:00:00")
    assert [m.id for m in store.search(narrow).results] == ["first", "before"]


def test_scan_memory_stays_flat(store: Store) -> None:
    """Streaming 1,500 messages of 16 KB (24 MB of text) holds only about one batch at a time."""
    body = "lorem ipsum dolor " * 900
    for start in range(0, 1500, 500):
        put(store, [make(f"big-{n:04d}", date=day(1 + n % 28), body=body) for n in range(start, start + 500)])
    tracemalloc.start()
    try:
        seen = sum(1 for _ in store.scan(crit(), batch_size=50))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seen == 1500
    assert peak < 6_000_000, f"scan held {peak} bytes"
