"""Both backends return identical result lists for the same data and criteria.

One dataset (the search fixture plus a block of same-date ties) goes into a reference SqliteStore
and into the ``store`` under test; every criteria below must give the same ids, in the same order,
with the same total, page by page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.store import Store
from server.store.sqlite import SqliteStore
from tests.conformance.factory import ALICE, BOB, DATASET, LI, all_pages, crit, day, make, put

TIES = [make(f"x-tie-{n:02d}", date=day(9), subject=f"weekly status {n}", body="合同 budget", mailboxes=[ALICE, BOB][: 1 + n % 2],
             departments=["/Sales/East"]) for n in range(25)]  # fmt: skip
DATA = DATASET + TIES

CRITERIA = [
    {},
    {"keyword": "budget"},
    {"keyword": "合同"},
    {"keyword": '"weekly status"', "scope": "subject"},
    {"keyword": "status budget"},
    {"mailbox": ALICE},
    {"mailbox": f"{BOB},{LI}"},
    {"department": "/Sales", "include_subdepartments": "true"},
    {"department": "/Sales/East", "keyword": "budget"},
    {"department": "/Sales", "include_subdepartments": "true", "keyword": "budget"},
    {"department": "/Sales", "include_subdepartments": "true", "keyword": "合同 OR quarterly", "mailbox": BOB},
    {"from": "2024-03-04", "to": "2024-03-09", "sender": BOB},
    {"recipient": ALICE, "from": "2024-03-03", "to": "2024-03-06"},
    {"keyword": "budget -status"},
    {"keyword": "weekly OR 合同", "scope": "subject,body"},
    {"keyword": "stat* -(review OR 审批)"},
    {"keyword": '(quarterly OR "weekly status") -合同', "mailbox": ALICE},
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    ref = SqliteStore(Path(tmp_path_factory.mktemp("reference")) / "ref.sqlite3")
    put(ref, DATA)
    yield ref
    ref.close()


@pytest.fixture
def loaded(store: Store) -> Store:
    put(store, DATA)
    return store


@pytest.mark.parametrize("params", CRITERIA, ids=[str(p) for p in CRITERIA])
def test_same_results_as_the_reference(loaded: Store, reference: Store, params: dict) -> None:
    criteria = crit(**params)
    assert all_pages(loaded, criteria, 6) == all_pages(reference, criteria, 6)
    assert [m.id for m in loaded.scan(criteria, batch_size=7)] == [m.id for m in reference.scan(criteria, batch_size=7)]


@pytest.mark.parametrize("by", ["day", "department", "mailbox"])
def test_same_aggregations_as_the_reference(loaded: Store, reference: Store, by: str) -> None:
    for params in CRITERIA[:3]:
        assert loaded.aggregate(crit(**params), by).buckets == reference.aggregate(crit(**params), by).buckets
