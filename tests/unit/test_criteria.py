"""Search criteria validation: the messages users see and the values both backends receive."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.query.criteria import (
    CriteriaError,
    decode_cursor,
    encode_cursor,
    parse_criteria,
    parse_limit,
)


def crit(**params):
    base = {"from": "2024-03-01", "to": "2024-03-31"}
    base.update(params)
    return parse_criteria(base, tz="Asia/Shanghai")


def test_dates_are_whole_days_in_the_configured_zone():
    c = crit()
    assert c.start == datetime(2024, 2, 29, 16, 0, tzinfo=UTC)
    assert c.end == datetime(2024, 3, 31, 15, 59, 59, 999000, tzinfo=UTC)


def test_datetimes_with_and_without_offset():
    c = crit(**{"from": "2024-03-01T08:30", "to": "2024-03-01T10:00:00Z"})
    assert c.start == datetime(2024, 3, 1, 0, 30, tzinfo=UTC)
    assert c.end == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": ""}, "time range is required"),
        ({"to": None}, "time range is required"),
        ({"from": "2024-04-01"}, "is after 'to'"),
        ({"from": "yesterday"}, "'from' must be a date"),
        ({"scope": "subject,headers"}, "unknown scope 'headers'"),
        ({"sender": "bob"}, "'sender' must be a full email address"),
        ({"recipient": "a@b"}, "'recipient' must be a full email address"),
        ({"mailbox": "ok@example.com,not an address"}, "'mailbox' must be"),
        ({"keyword": '"" --'}, "no letters or digits"),
        ({"keyword": '"annual budget'}, "keyword: unbalanced quote"),
        ({"keyword": "-invoice"}, "keyword: add a word to search for"),
    ],
)
def test_bad_input_names_what_to_fix(params, message):
    with pytest.raises(CriteriaError, match=message):
        crit(**params)


def test_addresses_lower_cased_and_scope_parsed():
    c = crit(sender="Alice@Example.COM", mailbox="B@x.cn, c@x.cn", scope="Subject, attachment")
    assert c.sender == "alice@example.com"
    assert c.mailboxes == ("b@x.cn", "c@x.cn")
    assert c.scope == {"subject", "attachment"}


def test_keyword_phrases_cjk_and_quotes():
    c = crit(keyword='"Quarterly Report" 合同 e-mail')
    assert c.phrases == (("quarterly", "report"), ("合", "同"), ("e", "mail"))


def test_department_normalised_and_subdepartments_flag():
    c = crit(department="Sales/East/", include_subdepartments="true")
    assert (c.department, c.include_subdepartments) == ("/Sales/East", True)


def test_as_params_round_trips():
    c = crit(keyword="合同", scope="body", sender="a@b.cn", department="/R&D", include_subdepartments=True)
    assert parse_criteria(c.as_params(), tz="Asia/Shanghai") == c


def test_cursor_round_trip_and_rejects_garbage():
    moment = datetime(1969, 7, 20, 20, 17, 40, 123000, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, "id:with:colons")) == (moment, "id:with:colons")
    with pytest.raises(CriteriaError, match="cursor"):
        decode_cursor("!!!")


@pytest.mark.parametrize("value", ["0", "1001", "ten"])
def test_limit_bounds(value):
    with pytest.raises(CriteriaError, match="limit"):
        parse_limit(value)
