"""Sender and recipient accept a whole domain (``@example.com``) on both backends (DESIGN.md §5)."""

from __future__ import annotations

import pytest

from server.query.criteria import CriteriaError
from server.store import Store
from tests.conformance import factory as f
from tests.conformance.factory import DATASET, crit, make, newest_first, put, search_ids

SUBDOMAIN = make("subdomain", date=f.day(9), subject="from a subdomain", sender="ops@mail.external.com",
                 to=["x@sub.partner.cn"], mailboxes=[f.BOB])  # fmt: skip


@pytest.fixture
def loaded(store: Store) -> Store:
    put(store, [*DATASET, SUBDOMAIN])
    return store


CORP = newest_first("budget-q", "zh-contract", "ja-meeting", "budget-done", "attach-only", "outage")
DOMAINS = [
    ({"sender": "@external.com"}, newest_first("reversed", "external")),
    ({"sender": "@EXTERNAL.Com"}, newest_first("reversed", "external")),
    ({"sender": "@corp.example"}, CORP),
    ({"sender": "@mail.external.com"}, ["subdomain"]),  # exactly that domain: no parent, no children
    ({"sender": "@ternal.com"}, []),  # a whole domain, not a suffix of one
    ({"sender": "@nowhere.example"}, []),
    ({"recipient": "@partner.cn"}, newest_first("zh-contract", "budget-done")),  # To and Cc
    ({"recipient": "@sub.partner.cn"}, ["subdomain"]),
    ({"recipient": "@corp.example", "sender": "@external.com"}, newest_first("reversed", "external")),
    ({"recipient": "@corp.example", "keyword": "budget -review"}, ["reversed"]),
    ({"sender": "@corp.example", "recipient": f.ALICE}, newest_first("ja-meeting", "outage")),
    ({"sender": "@corp.example", "mailbox": f.CAROL}, newest_first("budget-done", "attach-only")),
    ({"sender": "@corp.example", "department": "/Sales/East"}, newest_first("budget-q", "ja-meeting", "outage")),
]


@pytest.mark.parametrize(("params", "expected"), DOMAINS, ids=[str(p) for p, _ in DOMAINS])
def test_whole_domain(loaded: Store, params: dict, expected: list[str]) -> None:
    assert search_ids(loaded, **params) == expected
    assert loaded.count(crit(**params)) == len(expected)


def test_domains_of_messages_merged_later_are_found(loaded: Store) -> None:
    copy = make("external", date=f.day(8), sender="news@external.com", to=["new@late.example"], mailboxes=[f.LI])
    assert put(loaded, [copy]) == ["merged"]
    assert search_ids(loaded, recipient="@late.example") == ["external"]


@pytest.mark.parametrize("value", ["@corp", "@", "@.example.com", "@a..com", "@exa*mple.com", "corp.example", "@bad domain.com"])
def test_a_bad_domain_names_the_field(value: str) -> None:
    with pytest.raises(CriteriaError, match="'sender' must be a full email address .* or a whole domain such as @example.com"):
        crit(sender=value)
