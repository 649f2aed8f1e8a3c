"""Sort orders of a result list (``search(..., sort=...)``): date either way and size either way,
ties broken by id in the sort's direction, exact totals, and cursors that resume each order with
no duplicates and no gaps, with and without a keyword and a filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.query.criteria import SORTS, CriteriaError, encode_cursor, encode_key_cursor
from server.store import Store
from tests.conformance.factory import ALICE, BOB, crit, day, make, put


@pytest.fixture
def mixed(store: Store) -> Store:
    """18 messages: sizes and dates both with ties (three share one date, four share one size)."""
    items = []
    for n in range(18):
        date = day(5) if n in (3, 9, 15) else day(1 + n) + timedelta(hours=n % 5)
        padding = "x" * (100 if n % 4 == 0 else 37 * n)  # n = 0, 4, 8, 12, 16: one size (ties)
        items.append(make(f"m-{n:02d}", date=date, subject="budget", body=padding, mailboxes=[ALICE if n % 3 else BOB]))
    put(store, items)
    return store


def expected(store: Store, sort: str, **params: str) -> list[str]:
    field, descending = SORTS[sort]
    found = store.get_messages([m.id for m in store.search(crit(**params), limit=1000).results])
    return [m.id for m in sorted(found, key=lambda m: (getattr(m, field), m.id), reverse=descending)]


def pages(store: Store, sort: str, limit: int, **params: str) -> tuple[list[str], set[int]]:
    ids, totals, cursor = [], set(), None
    while True:
        page = store.search(crit(**params), limit=limit, cursor=cursor, sort=sort)
        ids += [m.id for m in page.results]
        totals.add(page.total)
        if page.next_cursor is None:
            return ids, totals
        cursor = page.next_cursor


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("limit", [1, 4, 18])
def test_every_order_pages_without_duplicates_or_gaps(mixed: Store, sort: str, limit: int) -> None:
    ids, totals = pages(mixed, sort, limit)
    assert ids == expected(mixed, sort)
    assert len(set(ids)) == 18 and totals == {18}


@pytest.mark.parametrize("sort", ["date", "-size", "size"])
@pytest.mark.parametrize("params", [{"keyword": "budget"}, {"mailbox": ALICE}, {"mailbox": BOB, "keyword": "budget"}])
def test_orders_with_filters(mixed: Store, sort: str, params: dict) -> None:
    ids, totals = pages(mixed, sort, 5, **params)
    assert ids == expected(mixed, sort, **params)
    assert totals == {len(ids)} and ids


def test_size_order_puts_the_largest_first_and_breaks_ties_by_id(mixed: Store) -> None:
    ids = [m.id for m in mixed.search(crit(), limit=100, sort="-size").results]
    assert ids[0] == "m-17"  # the most padding
    ties = [i for i in ids if int(i[2:]) % 4 == 0]
    assert ties == ["m-16", "m-12", "m-08", "m-04", "m-00"]
    ascending = [m.id for m in mixed.search(crit(), limit=100, sort="size").results]
    assert ascending == list(reversed(ids))


def test_the_default_order_is_unchanged(mixed: Store) -> None:
    assert [m.id for m in mixed.search(crit(), limit=100, sort="-date").results] == \
        [m.id for m in mixed.search(crit(), limit=100).results] == expected(mixed, "-date")


EDGES = {"-date": encode_cursor(datetime(1, 1, 1, tzinfo=UTC), "a"), "date": encode_cursor(datetime(9999, 12, 31, tzinfo=UTC), "z"),
         "-size": encode_key_cursor(-1, "a"), "size": encode_key_cursor(1 << 62, "z")}  # fmt: skip


@pytest.mark.parametrize("sort", list(SORTS))
def test_a_cursor_from_past_the_end_gives_an_empty_page(mixed: Store, sort: str) -> None:
    page = mixed.search(crit(), limit=5, cursor=EDGES[sort], sort=sort)
    assert (page.results, page.total, page.next_cursor) == ([], 18, None)


@pytest.mark.parametrize(("sort", "value"), [("-size", 1 << 70), ("date", 1 << 62), ("-date", -(1 << 62))])
def test_a_cursor_out_of_range_is_refused(mixed: Store, sort: str, value: int) -> None:
    with pytest.raises(CriteriaError, match="cursor"):
        mixed.search(crit(), cursor=encode_key_cursor(value, "x"), sort=sort)


@pytest.mark.parametrize("limit", [1, 7, 29, 30, 31])
def test_oldest_first_through_a_large_same_millisecond_group(store: Store, limit: int) -> None:
    shuffled = sorted(range(30), key=lambda n: (n * 7) % 30)  # inserted out of id order
    items = [make(f"t-{n:02d}", date=day(10)) for n in shuffled]
    items += [make(f"s-{n}", date=day(10) + timedelta(hours=n - 3)) for n in range(6) if n != 3]
    put(store, items)
    ids, totals = pages(store, "date", limit)
    assert ids == expected(store, "date") and totals == {35}
    assert ids[3:33] == [f"t-{n:02d}" for n in range(30)]
