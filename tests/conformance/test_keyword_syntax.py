"""The keyword language (DESIGN.md §5, docs/search.md) on both backends: exclusion, OR, groups,
prefixes, each alone, with scopes and with CJK text. Parse errors are tested in
tests/unit/test_keywords.py (they never reach a backend)."""

from __future__ import annotations

import pytest

from server.store import Store
from tests.conformance.factory import DATASET, crit, newest_first, put, search_ids

BUDGET = newest_first("budget-q", "budget-done", "attach-only", "reversed")


@pytest.fixture
def loaded(store: Store) -> Store:
    put(store, DATASET)
    return store


SYNTAX = [
    # exclusion: the "invoice -contract" case
    ("budget -review", {}, ["reversed"]),
    ("budget NOT review", {}, ["reversed"]),
    ('budget -"budget review"', {}, newest_first("budget-done", "reversed")),
    ("review -budget", {}, []),
    ("budget -review -quarterly", {}, []),
    ("budget -nonexistentword", {}, BUDGET),
    ("budget -(quarterly OR approved)", {}, ["attach-only"]),
    # exclusion looks only where the keyword is searched
    ("budget -review", {"scope": "subject"}, ["reversed"]),
    ("budget -review", {"scope": "attachment"}, ["budget-q"]),
    ("budget -quarterly", {"scope": "body"}, newest_first("budget-q", "budget-done")),
    # OR (upper case) between terms and groups; binds tighter than the implicit AND
    ("numbers OR invitation", {}, newest_first("budget-q", "budget-done", "reversed", "external")),
    ("budget or invitation", {}, []),  # lower-case "or" is a word, and no message has it
    ("budget quarterly OR approved", {}, newest_first("budget-q", "budget-done", "reversed")),
    ("budget (quarterly OR approved)", {}, newest_first("budget-q", "budget-done", "reversed")),
    ("(numbers OR invitation) -budget", {}, ["external"]),
    ('"budget review" OR "server outage"', {}, newest_first("budget-q", "attach-only", "outage")),
    ("(quarterly review) OR (urgent server)", {}, newest_first("budget-q", "outage")),
    ("budget AND review", {}, newest_first("budget-q", "budget-done", "attach-only")),
    ("invitation OR numbers", {"scope": "subject"}, newest_first("budget-done", "external")),
    # prefix: at least 3 characters, one word, start of a token only
    ("quart*", {}, newest_first("budget-q", "reversed")),
    ("QUART*", {}, newest_first("budget-q", "reversed")),
    ("serv*", {}, ["outage"]),
    ("arch*", {}, ["external"]),
    ("udget*", {}, []),
    ("budg*", {"scope": "attachment"}, newest_first("budget-q", "attach-only")),
    ("budg* -rev*", {}, ["reversed"]),
    ("xlsx OR pdf*", {"scope": "attachment"}, newest_first("budget-q", "attach-only")),
    ("quarter*", {"scope": "body"}, ["reversed"]),
    # CJK: substring, combinable with every operator
    ("合同 -草案", {}, []),
    ("合同 -草案", {"scope": "subject,body"}, ["zh-contract"]),
    ("会議 OR 合同", {}, newest_first("zh-contract", "ja-meeting")),
    ("(会議 OR 合同) -東京", {}, ["zh-contract"]),
    ("budget OR 合同", {}, newest_first("budget-q", "zh-contract", "budget-done", "attach-only", "reversed")),
    ("合同 OR invit*", {}, newest_first("zh-contract", "external")),
    # punctuation-only words are ignored, as the index ignores them
    ("budget - review", {}, newest_first("budget-q", "budget-done", "attach-only")),
]


@pytest.mark.parametrize(("keyword", "params", "expected"), SYNTAX, ids=[f"{k}|{p}" for k, p, _ in SYNTAX])
def test_keyword_syntax(loaded: Store, keyword: str, params: dict, expected: list[str]) -> None:
    assert search_ids(loaded, keyword=keyword, **params) == expected
    assert loaded.count(crit(keyword=keyword, **params)) == len(expected)
