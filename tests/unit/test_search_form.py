"""The search form's own checks (every problem of one submit, by field) and its time presets."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from flask import Flask

from server.web.search_form import check_form, presets


def fields(params: dict[str, str]) -> list[str]:
    return [e.field for e in check_form(params, "Asia/Shanghai")]


def test_every_problem_is_reported_at_once_in_form_order() -> None:
    bad = {"from": "2026-13-01", "to": "", "mailbox": "a@b.example,nope", "sender": "x", "recipient": "@",
           "keyword": "invoice OR", "limit": "5000", "sort": "name"}  # fmt: skip
    assert fields(bad) == ["from", "to", "mailbox", "sender", "recipient", "keyword", "limit", "sort"]
    errors = {e.field: e for e in check_form(bad, "UTC")}
    assert errors["to"].text == "Enter a date (%(format)s)."
    assert errors["mailbox"].values == {"value": "nope"}
    assert errors["keyword"].values["detail"] == "'OR' needs a word, phrase or group on both sides"


def test_a_reversed_range_names_both_dates_as_typed() -> None:
    [error] = check_form({"from": "2026-02-01", "to": "2026-01-01"}, "UTC")
    assert (error.field, error.values) == ("from", {"start": "2026-02-01", "end": "2026-01-01"})


def test_good_criteria_pass() -> None:
    assert fields({"from": "2026-01-01", "to": "2026-01-31", "sender": "@corp.example", "keyword": "合同 OR deliver*",
                   "limit": "25", "sort": "-size"}) == []  # fmt: skip
    assert fields({"from": "0001-01-01", "to": "2026-01-01"}) == ["from"]  # before year 1 in UTC


def test_presets_stay_inside_the_archive() -> None:
    today = date(2026, 12, 1)
    picks = {days: (start, end) for days, start, end in presets(today, (date(2026, 11, 20), date(2026, 12, 1)))}
    assert picks[1] == ("2026-12-01", "2026-12-01")
    assert picks[7] == ("2026-11-25", "2026-12-01")
    assert picks[30] == picks[365] == picks[0] == ("2026-11-20", "2026-12-01")  # nothing before the first message
    later = {d: r for d, r, _ in presets(today, (date(2020, 1, 1), date(2027, 1, 1)))}
    assert later[365] == "2025-12-02" and later[0] == "2020-01-01"
    assert [p[0] for p in presets(today, None)] == [1, 7, 30, 365]  # empty archive: no "all time"


def _keyword_templates() -> set[str]:
    """Every sentence ``keywords.py`` can raise: the first argument of each ``KeywordError(...)``."""
    import ast

    import server.query.keywords as keywords

    tree = ast.parse(Path(keywords.__file__).read_text(encoding="utf-8"))
    found = {keywords.SHORT_PREFIX}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "KeywordError" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
            else:  # a name (SHORT_PREFIX) is covered above; anything else would escape translation
                assert isinstance(first, ast.Name), ast.dump(first)
    return found


def test_every_keyword_syntax_error_has_a_chinese_sentence() -> None:
    catalog = json.loads((Path(__file__).parents[2] / "server/web/locales/zh-CN/review.json").read_text("utf-8"))
    templates = _keyword_templates()
    assert len(templates) >= 15
    assert sorted(t for t in templates if t not in catalog) == []


@pytest.mark.parametrize(("keyword", "chinese"), [("deliver**", "只能放在词尾"), ("de*", "至少需要 3 个"),
                                                  ('"a b"*', "短语后不能加"), ("-invoice", "只有排除项")])
def test_keyword_errors_show_in_the_pages_language_with_their_part(keyword: str, chinese: str) -> None:
    [error] = check_form({"from": "2026-01-01", "to": "2026-01-31", "keyword": keyword}, "UTC")
    app = Flask(__name__)
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        from server.web.search_views import _translated

        shown = _translated([error])["keyword"]
    assert chinese in shown and "关键字有误" in shown
    assert not any(word in shown for word in ("needs", "only", "after a phrase", "excludes")), shown
