"""Counts and aggregations for the summary page and charts."""

from __future__ import annotations

import pytest

from server.store import Store
from tests.conformance.factory import ALICE, AUDIT, BOB, CAROL, DATASET, LI, OPS, TANAKA, crit, put


@pytest.fixture
def loaded(store: Store) -> Store:
    put(store, DATASET)
    return store


def test_count(loaded: Store) -> None:
    assert loaded.count() == 8
    assert loaded.count(crit(mailbox=ALICE)) == 3
    assert loaded.count(crit(keyword="budget", scope="attachment")) == 2
    assert loaded.count(crit(from_="2024-04-01", to="2024-04-30")) == 0


def test_aggregate_by_day(loaded: Store) -> None:
    buckets = loaded.aggregate(crit(), "day").buckets
    assert list(buckets.items()) == [(f"2024-03-{d:02d}", 1) for d in range(1, 9)]
    assert loaded.aggregate(crit(keyword="budget"), "day").buckets == {
        "2024-03-01": 1, "2024-03-04": 1, "2024-03-05": 1, "2024-03-07": 1,
    }  # fmt: skip


def test_aggregate_by_department_counts_exact_departments(loaded: Store) -> None:
    buckets = loaded.aggregate(None, "department").buckets
    assert list(buckets.items()) == [
        ("/Sales/East", 3), ("/Sales/West", 3), ("/Engineering", 2), ("/Engineering/Ops", 2),
        ("/Sales/East/Shanghai", 2), ("/Engineering/Tokyo", 1), ("/Legal", 1),
    ]  # fmt: skip


def test_aggregate_by_mailbox(loaded: Store) -> None:
    everything = loaded.aggregate(crit(), "mailbox").buckets
    assert list(everything.items()) == [(ALICE, 3), (BOB, 3), (CAROL, 2), (LI, 2), (OPS, 2), (AUDIT, 1), (TANAKA, 1)]
    assert list(loaded.aggregate(crit(keyword="budget"), "mailbox").buckets.items()) == [
        (BOB, 3), (CAROL, 2), (ALICE, 1), (OPS, 1),
    ]  # fmt: skip


def test_aggregate_size_keeps_the_largest(loaded: Store) -> None:
    assert list(loaded.aggregate(None, "mailbox", size=2).buckets) == [ALICE, BOB]


def test_distinct_mailboxes(store: Store) -> None:
    assert store.distinct_mailboxes() == 0
    put(store, DATASET)
    assert store.distinct_mailboxes() == 7
