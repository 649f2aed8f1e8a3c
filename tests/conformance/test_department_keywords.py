"""A keyword AND a department, with and without sub-departments, on every backend.

SQLite answers these with one FTS5 MATCH over the text and the department tokens of the text
index's ``keys`` column (server/store/sqlite/fts_text.py): these cases pin that a department token
never matches a keyword (a keyword spelled like a token's hex, or holding the private-use mark,
finds only the text), that Chinese department names work, and that a copy which adds a department
is found under it and leaves nothing behind when purged.
"""

from __future__ import annotations

import pytest

from server.store import Store
from tests.conformance.factory import ALICE, BOB, LI, crit, day, make, put, search_ids

SALES_HEX = b"/Sales".hex()  # 2f53616c6573: the hex the SQLite token of /Sales carries
DATA = [
    make("renew-east", date=day(1), subject="Contract renewal", body="renewal terms attached", mailboxes=[ALICE],
         departments=["/Sales/East"]),
    make("renew-zh", date=day(2), subject="续约 renewal", body="请完成合规审查与合同续签", mailboxes=[LI],
         departments=["/法务部/合规"]),
    make("renew-west", date=day(3), subject="Note", body="the renewal is late", mailboxes=[BOB], departments=["/Sales/West"]),
    make("plain-east", date=day(4), subject="Lunch", body="no keyword here", mailboxes=[ALICE], departments=["/Sales/East"]),
    make("hex-word", date=day(5), subject=f"code {SALES_HEX}", body=f"dsales p{SALES_HEX}", mailboxes=[BOB],
         departments=["/Sales"]),
    make("renew-none", date=day(6), subject="renewal", body="no department at all", mailboxes=[ALICE]),
]  # fmt: skip
SALES_TREE = {"department": "/Sales", "include_subdepartments": "true"}

CASES = [
    ({"keyword": "renewal", **SALES_TREE}, ["renew-west", "renew-east"]),
    ({"keyword": "renewal", "department": "/Sales"}, []),
    ({"keyword": "renewal", "department": "/Sales/East"}, ["renew-east"]),
    ({"keyword": "renewal", "scope": "subject", **SALES_TREE}, ["renew-east"]),
    ({"keyword": "renewal", "scope": "subject,body", **SALES_TREE}, ["renew-west", "renew-east"]),
    ({"keyword": "renewal -terms", **SALES_TREE}, ["renew-west"]),
    ({"keyword": "renewal OR lunch", "department": "/Sales/East"}, ["plain-east", "renew-east"]),
    ({"keyword": "renew*", **SALES_TREE}, ["renew-west", "renew-east"]),
    ({"keyword": "renewal", "mailbox": ALICE, **SALES_TREE}, ["renew-east"]),
    ({"keyword": "renewal", "department": "/Nowhere", "include_subdepartments": "true"}, []),
    ({"keyword": "合同", "department": "/法务部", "include_subdepartments": "true"}, ["renew-zh"]),
    ({"keyword": "合规", "department": "/法务部/合规"}, ["renew-zh"]),
    ({"keyword": "renewal", "department": "/法务部"}, []),
    ({"keyword": SALES_HEX}, ["hex-word"]),  # the text's word, not every message of /Sales
    ({"keyword": f"{SALES_HEX[:4]}*"}, ["hex-word"]),
    ({"keyword": f"p{SALES_HEX}"}, ["hex-word"]),
    ({"keyword": f"\ue000p{SALES_HEX}"}, ["hex-word"]),  # the mark is no letter: the keyword is p2f53...
    ({"keyword": f"\ue000p{SALES_HEX}", "scope": "attachment"}, []),
    ({"keyword": SALES_HEX, **SALES_TREE}, ["hex-word"]),
    ({"keyword": "dsales", "department": "/Sales"}, ["hex-word"]),
]  # fmt: skip


@pytest.fixture
def loaded(store: Store) -> Store:
    put(store, DATA)
    return store


@pytest.mark.parametrize(("params", "expected"), CASES, ids=[str(p) for p, _ in CASES])
def test_keyword_and_department(loaded: Store, params: dict, expected: list[str]) -> None:
    page = loaded.search(crit(**params))
    assert [m.id for m in page.results] == expected
    assert page.total == len(expected) == loaded.count(crit(**params))
    assert [m.id for m in loaded.scan(crit(**params), batch_size=1)] == expected


def test_a_copy_adding_a_department_is_found_under_it_and_purged_without_trace(store: Store) -> None:
    first = make("merged", date=day(2), subject="renewal notice", body="合同续签", mailboxes=[ALICE],
                 departments=["/Sales/East"])  # fmt: skip
    copy = make("merged", date=day(2), subject="renewal notice", body="合同续签", mailboxes=[LI],
                departments=["/法务部/合规"], raw=b"Subject: a journal copy\r\n\r\nx\r\n")  # fmt: skip
    mailbox_only = make("merged", date=day(2), mailboxes=[BOB], departments=["/Sales/East"], raw=b"Subject: y\r\n\r\ny\r\n")
    assert put(store, [first, make("other", date=day(1), subject="renewal", departments=["/Sales/East"])]) == ["created"] * 2
    assert put(store, [copy]) == ["merged"]
    assert put(store, [mailbox_only]) == ["merged"]  # a new mailbox, no new department
    found = [
        {"department": "/法务部", "include_subdepartments": "true"}, {"department": "/法务部/合规"},
        {"department": "/Sales", "include_subdepartments": "true"}, {"department": "/Sales/East"},
    ]  # fmt: skip
    for params in found:
        assert search_ids(store, keyword="renewal", **params) == (["merged"] if "法务部" in params["department"]
                                                                  else ["merged", "other"]), params  # fmt: skip
        assert search_ids(store, keyword="合同", **params) == ["merged"], params
    assert search_ids(store, keyword="renewal", mailbox=BOB, department="/Sales/East") == ["merged"]
    assert store.delete_messages(["merged"]) == 1
    store.refresh()
    for params in found:
        assert search_ids(store, keyword="合同", **params) == [], params
    assert search_ids(store, keyword="renewal", department="/法务部", include_subdepartments="true") == []
    assert search_ids(store, keyword="renewal", **SALES_TREE) == ["other"]
