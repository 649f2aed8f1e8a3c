"""Hostile and random search criteria through ``/api/v1/messages``, the search page and
``mailarchive search``, on both backends (SQLite and the session's real Elasticsearch node):
every answer is a 400 with a message (exit 2 with one line for the command) or a correct result,
never a 500, a traceback or a hang (issue 17 item 2).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.cli import main
from server.config import Config
from server.query.criteria import encode_cursor
from server.store import open_store
from server.web.roles import Role
from tests.conformance.factory import DATASET, MONTH, T0, make, put
from tests.support.es import es_config
from tests.support.web import running_app, signed_in

pytestmark = pytest.mark.fuzz
SYNTAX = "\"()*-:+!^~[]{}<>/\\|&?=@#%$'`;,."
HOSTILE_TEXT = [
    "", " ", "a" * 1001, "word " * 30_000, "x" * 1_000_000, SYNTAX, *SYNTAX, '"', '"unclosed', "((((a", "a)))))", "-", "--a",
    "NOT", "OR", "a OR", "OR OR OR", "a* b* c*", "ab*", "*", "\\", "' OR 1=1 --", "'; DROP TABLE messages; --",
    "\" OR \"\"=\"", "messages MATCH 'x'", "{\"query\": {\"match_all\": {}}}", '{"script": "ctx._source"}',
    "subject:x", "NEAR(a b)", "a NEAR b", "^a", "a\x00b", "\x00", "\ud800", "a\udcffb", "\u202eevil\u202c", "\u200f",
    "e\u0301\u0301\u0301\u0301", "🧨💣", "👨‍👩‍👧‍👦", "ＡＢＣ１２３", "中文 邮件", "\ufeff", "\r\n", "\t", "%00", "%s%n%x",
    "<script>alert(1)</script>", "../../etc/passwd", "a" * 64 + " " + " ".join(["w"] * 65),
]
DATES = ["", "2024-13-01", "2024-02-30", "0000-01-01", "0001-01-01", "9999-12-31", "99999-01-01", "-2024-01-01",
         "2024-01-01T25:00", "2024-03-01T10:00:00+24:00", "2024-03-01T10:00:00Z", "now", "1e308", "\x00", "２０２４-０１-０１",
         "2024-03-01' OR '1'='1", "9999-12-31T23:59:59-23:59"]
LIMITS = ["", "0", "-1", "1", "1000", "1001", "99999999999999999999", "1e3", "abc", "\x00", "１０"]
CURSORS = ["", "x", "!!!!", "=" * 40, "MTIz", encode_cursor(T0, "budget-q"), "LTk5OTk5OTk5OTk5OTk5OTk5OTk6eA",
           "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5Ong", "\x00", "a" * 100_000]
ADDRESSES = ["", "@", "a@", "@corp.example", "@corp", "alice@corp.example", "ALICE@CORP.EXAMPLE", "a@b.c" * 1000,
             "\u202ealice@corp.example", "alice@corp.example\x00", "'; --@x.example", "*@corp.example", "a,b,,c"]
FIELDS = {"keyword": HOSTILE_TEXT, "from": DATES, "to": DATES, "limit": LIMITS, "cursor": CURSORS,
          "sender": ADDRESSES, "recipient": ADDRESSES, "mailbox": ADDRESSES, "department": HOSTILE_TEXT[:12],
          "scope": ["", "subject", "nope", "subject,,body", SYNTAX, "\x00"], "include_subdepartments": ["maybe", "\x00"]}
CASES = [(name, value) for name, values in FIELDS.items() for value in values]


@pytest.fixture(params=["sqlite", "elasticsearch"])
def archive(request: pytest.FixtureRequest, config: Config) -> Config:
    chosen = config if request.param == "sqlite" else es_config(request)
    store = open_store(chosen)
    try:
        put(store, [*DATASET, make("unicode", subject="emoji 🧨 and 中文 and ＡＢＣ", body="RTL \u202e text")])
    finally:
        store.close()
    return chosen


@pytest.fixture
def app(archive: Config) -> Iterator[Flask]:
    with running_app(archive, {"alice": Role.ARCHIVE_ADMIN}) as app:
        yield app


def params_for(name: str, value: str) -> dict[str, str]:
    params = {**MONTH, name: value}
    return params


def query(params: dict[str, str]) -> str:
    """The query string a client sends; lone surrogates as the bytes WTF-8 gives them (invalid UTF-8)."""
    return urlencode(params, encoding="utf-8", errors="surrogatepass")


def check_api(client: FlaskClient, params: dict[str, str]) -> dict:
    response = client.get("/api/v1/messages?" + query(params))
    body = response.get_data(as_text=True)
    assert response.status_code in (200, 400), (params, response.status_code, body[:500])
    assert "Traceback" not in body
    data = json.loads(body)
    if response.status_code == 400:
        assert data["error"].strip(), params
    else:
        assert len(data["results"]) <= data["total"]
    return data


def test_every_hostile_criterion_is_a_400_with_a_message_or_a_result(app: Flask) -> None:
    client = signed_in(app, "alice")
    answered = {"ok": 0, "refused": 0}
    for name, value in CASES:
        data = check_api(client, params_for(name, value))
        answered["refused" if "error" in data else "ok"] += 1
        page = client.get("/search?" + query(params_for(name, value)))
        assert page.status_code in (200, 400), (name, value, page.status_code)
        assert "Traceback" not in page.get_data(as_text=True)
    assert answered["ok"] and answered["refused"], answered


def test_a_huge_keyword_is_refused_quickly_and_named(app: Flask) -> None:
    client = signed_in(app, "alice")
    data = check_api(client, {**MONTH, "keyword": "word " * 30_000})
    assert "1,000" in data["error"] or "1000" in data["error"], data


def test_unicode_and_syntax_characters_find_what_they_should(app: Flask) -> None:
    client = signed_in(app, "alice")
    for keyword in ("🧨", "中文", "ＡＢＣ", "abc", "emoji AND"):
        data = check_api(client, {**MONTH, "keyword": keyword})
        assert "error" in data or [r["id"] for r in data["results"]] == ["unicode"], (keyword, data)
    assert check_api(client, {**MONTH, "keyword": "budget"})["total"] >= 1


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(keyword=st.text(max_size=200), sender=st.text(max_size=40), day=st.text(max_size=25))
def test_random_criteria_never_answer_500(app: Flask, keyword: str, sender: str, day: str) -> None:
    client = signed_in(app, "alice")
    check_api(client, {"from": day or MONTH["from"], "to": MONTH["to"], "keyword": keyword, "sender": sender})


CLI_CASES = [c for c in CASES if "\x00" not in c[1] and len(c[1]) < 200_000][::4] + [("keyword", "a\udcffb")]


@pytest.mark.parametrize(("name", "value"), CLI_CASES)
def test_the_command_line_answers_hostile_criteria_with_one_line_and_exit_2(
        archive: Config, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str) -> None:
    monkeypatch.setenv("MAILARCHIVE_DATA_DIR", str(archive.data_dir))
    monkeypatch.setenv("MAILARCHIVE_CONFIG", "none")
    monkeypatch.setenv("MAILARCHIVE_STORE", archive.store.url)
    monkeypatch.setenv("MAILARCHIVE_ES_INDEX_PREFIX", archive.store.index_prefix)
    option = {"from": "--from", "include_subdepartments": "--include-subdepartments"}.get(name, f"--{name}")
    args = ["search", "--json", *(f"--{k}={v}" for k, v in MONTH.items() if k != name)]
    args += [option] if name == "include_subdepartments" else [f"{option}={value}"]
    code = main(args)
    out, err = capsys.readouterr()
    assert code in (0, 2), (name, value, code, err[-500:])
    assert "Traceback" not in err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.strip(), err
    else:
        assert json.loads(out)["total"] >= 0
