"""Search criteria alone and combined, keyword semantics (DESIGN.md §5), on both backends."""

from __future__ import annotations

import pytest

from server.store import Store
from tests.conformance import factory as f
from tests.conformance.factory import DATASET, NEWEST_FIRST, crit, newest_first, put, search_ids


@pytest.fixture
def loaded(store: Store) -> Store:
    assert put(store, DATASET) == ["created"] * len(DATASET)
    return store


ALL_BUT_ATTACH = [i for i in NEWEST_FIRST if i != "attach-only"]

FILTERS = [
    ({}, NEWEST_FIRST),
    ({"mailbox": f.ALICE}, newest_first("budget-q", "ja-meeting", "outage")),
    ({"mailbox": f"{f.ALICE},{f.LI}"}, newest_first("budget-q", "zh-contract", "ja-meeting", "outage", "external")),
    ({"mailbox": "nobody@corp.example"}, []),
    ({"sender": f.BOB}, ["budget-done"]),
    ({"sender": "BOB@Corp.Example"}, ["budget-done"]),
    ({"sender": "partner@external.com"}, ["reversed"]),
    ({"recipient": f.ALICE}, newest_first("ja-meeting", "outage")),
    ({"recipient": "dave@partner.cn"}, ["budget-done"]),  # cc
    ({"recipient": f.AUDIT}, ["outage"]),  # bcc
    ({"recipient": "ALICE@CORP.EXAMPLE"}, newest_first("ja-meeting", "outage")),
    ({"department": "/Sales/East"}, newest_first("budget-q", "ja-meeting", "outage")),
    ({"department": "/Sales/East", "include_subdepartments": "true"},
     newest_first("budget-q", "zh-contract", "ja-meeting", "outage", "external")),
    ({"department": "/Sales"}, []),
    ({"department": "/Sales", "include_subdepartments": "true"}, ALL_BUT_ATTACH),
    ({"department": "/Engineering"}, newest_first("budget-done", "attach-only")),
    ({"department": "Engineering/", "include_subdepartments": "1"},
     newest_first("ja-meeting", "budget-done", "attach-only", "outage")),
    ({"from": "2024-03-02", "to": "2024-03-04"}, newest_first("zh-contract", "ja-meeting", "budget-done")),
    ({"from": "2024-02-01", "to": "2024-02-29"}, []),
]  # fmt: skip


@pytest.mark.parametrize(("params", "expected"), FILTERS, ids=[str(p) for p, _ in FILTERS])
def test_filter(loaded: Store, params: dict, expected: list[str]) -> None:
    assert search_ids(loaded, **params) == expected
    assert loaded.search(crit(**params), limit=1).total == len(expected)


KEYWORDS = [
    ("budget", {}, newest_first("budget-q", "budget-done", "attach-only", "reversed")),
    ("BUDGET", {}, newest_first("budget-q", "budget-done", "attach-only", "reversed")),
    ("budget review", {}, newest_first("budget-q", "budget-done", "attach-only")),  # words: AND, any order
    ('"budget review"', {}, newest_first("budget-q", "attach-only")),  # phrase: in order
    ('"quarterly budget"', {}, ["budget-q"]),
    ('quarterly "budget numbers"', {}, ["budget-q"]),  # phrases may match in different fields
    ("budget nonexistentword", {}, []),
    ("server outage", {}, ["outage"]),
    ("urgent", {}, ["outage"]),
    ("03", {}, ["outage"]),
    ("e-mail", {}, ["external"]),
    ("email", {}, []),
    ("budget", {"scope": "subject"}, newest_first("budget-q", "reversed")),
    ("budget", {"scope": "body"}, newest_first("budget-q", "budget-done", "reversed")),
    ("budget", {"scope": "attachment"}, newest_first("budget-q", "attach-only")),
    ("budget", {"scope": "subject,attachment"}, newest_first("budget-q", "attach-only", "reversed")),
    ("quarterly", {"scope": "body"}, ["reversed"]),
    ("xlsx", {"scope": "attachment"}, ["budget-q"]),
    ('"review notes"', {"scope": "attachment"}, []),  # no phrase across two attachment names
]


@pytest.mark.parametrize(("keyword", "params", "expected"), KEYWORDS, ids=[f"{k}|{p}" for k, p, _ in KEYWORDS])
def test_keyword(loaded: Store, keyword: str, params: dict, expected: list[str]) -> None:
    assert search_ids(loaded, keyword=keyword, **params) == expected


CJK = [
    ("合同", {}, ["zh-contract"]),
    ("同审", {}, ["zh-contract"]),  # a substring across what a word segmenter would split
    ("采购合同书", {}, ["zh-contract"]),
    ("审批合同", {}, []),  # characters present, but not adjacent in this order
    ("合同 谢谢", {}, ["zh-contract"]),  # two words: both anywhere
    ("草案", {"scope": "attachment"}, ["zh-contract"]),
    ("草案", {"scope": "subject,body"}, []),
    ("会議", {}, ["ja-meeting"]),
    ("議事録", {"scope": "subject"}, ["ja-meeting"]),
    ("東京本社", {}, ["ja-meeting"]),
    ("京東", {}, []),
    ("会議 budget", {}, []),
]


@pytest.mark.parametrize(("keyword", "params", "expected"), CJK, ids=[f"{k}|{p}" for k, p, _ in CJK])
def test_cjk_substring(loaded: Store, keyword: str, params: dict, expected: list[str]) -> None:
    assert search_ids(loaded, keyword=keyword, **params) == expected


COMBINED = [
    ({"mailbox": f.ALICE, "keyword": "budget"}, ["budget-q"]),
    ({"sender": f.OPS, "recipient": f.ALICE}, ["outage"]),
    ({"department": "/Sales", "include_subdepartments": "true", "keyword": "budget", "scope": "body"},
     newest_first("budget-q", "budget-done", "reversed")),
    ({"from": "2024-03-03", "to": "2024-03-06", "mailbox": f.CAROL}, newest_first("budget-done", "attach-only")),
    ({"mailbox": f.BOB, "sender": f.ALICE, "recipient": f.BOB, "department": "/Sales/West", "keyword": "review",
      "scope": "subject", "from": "2024-03-01", "to": "2024-03-01"}, ["budget-q"]),
    ({"mailbox": f.BOB, "keyword": "合同"}, []),
    ({"mailbox": f"{f.ALICE},{f.BOB}", "department": "/Engineering", "include_subdepartments": "true"},
     newest_first("ja-meeting", "budget-done", "outage")),
    ({"from": "2024-03-05", "to": "2024-03-31", "keyword": "budget"}, newest_first("attach-only", "reversed")),
]  # fmt: skip


@pytest.mark.parametrize(("params", "expected"), COMBINED, ids=[str(p) for p, _ in COMBINED])
def test_combined(loaded: Store, params: dict, expected: list[str]) -> None:
    page = loaded.search(crit(**params))
    assert [m.id for m in page.results] == expected
    assert page.total == len(expected) == loaded.count(crit(**params))


def test_results_are_full_messages(loaded: Store) -> None:
    original = {m.id: m for m, _ in DATASET}
    for message in loaded.search(crit()).results:
        assert message.archive_seq >= 1
        assert message.to_dict() == {**original[message.id].to_dict(), "archive_seq": message.archive_seq}


def test_time_zone_of_the_range(loaded: Store) -> None:
    """A date is a whole day in the configured zone. Messages are dated 10:00 UTC, which is 19:00 in
    Tokyo and exactly midnight (the inclusive start of the day) in Honolulu."""
    assert search_ids(loaded, **{"from": "2024-03-01", "to": "2024-03-01", "tz": "Asia/Tokyo"}) == ["budget-q"]
    assert search_ids(loaded, **{"from": "2024-03-02", "to": "2024-03-02", "tz": "Pacific/Honolulu"}) == ["zh-contract"]
