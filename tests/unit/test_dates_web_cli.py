"""Dates on the console, the API and the CLI (issue #19 item 1).

Dates and cursors outside what the archive can hold are bad input (400 / exit 2 with one line), never a
500 or a traceback: on /api/v1/messages, /search, /api/v1/audit, ``mailarchive search`` and ``audit query``.
Shown times say which clock they are: the API's are UTC (``Z``), the console names its time zone.

The archive's time zone is Asia/Shanghai here, so a plain ``0001-01-01`` starts before year 1 in UTC.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.cli import main
from server.config import load_config
from server.model import parse_time
from server.query.criteria import CriteriaError, decode_cursor, encode_cursor, parse_criteria
from tests.support.cli import cli_archive
from tests.support.web import close_app
from tests.support.webdata import sample_app, signed_in

ZONE = "Asia/Shanghai"
OK = {"from": "2000-01-01", "to": "2100-01-01"}


def cursor_of_ms(ms: int) -> str:
    """A cursor in the store's format whose time lies at ``ms`` milliseconds from 1970."""
    return base64.urlsafe_b64encode(f"{ms}:someid".encode()).decode().rstrip("=")


BAD_RANGES = [
    pytest.param({"from": "0001-01-01T00:00+01:00", "to": "2024-01-01"}, "'from'", id="from-year-1-east"),
    pytest.param({"from": "2024-01-01", "to": "9999-12-31T23:59-01:00"}, "'to'", id="to-year-9999-west"),
    pytest.param({"from": "0001-01-01", "to": "2024-01-01"}, "'from'", id="plain-year-1-in-shanghai"),
]
BAD_CURSORS = [cursor_of_ms(10**15), cursor_of_ms(-(10**15)), cursor_of_ms(10**40)]


@pytest.mark.parametrize(("params", "named"), BAD_RANGES)
def test_out_of_range_bounds_are_criteria_errors(params: dict[str, str], named: str) -> None:
    with pytest.raises(CriteriaError, match=rf"{named} .*out of range"):
        parse_criteria(params, tz=ZONE)


def test_the_whole_representable_range_is_accepted_and_cursors_round_trip() -> None:
    criteria = parse_criteria({"from": "0001-01-01", "to": "9999-12-31"}, tz="UTC")
    assert (criteria.start.year, criteria.end.year) == (1, 9999)
    for moment in (criteria.start, criteria.end):
        assert decode_cursor(encode_cursor(moment, "x")) == (moment, "x")


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_cursors_beyond_the_years_1_to_9999_are_invalid(cursor: str) -> None:
    with pytest.raises(CriteriaError, match="'cursor' is not valid"):
        decode_cursor(cursor)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    config = load_config(env={"MAILARCHIVE_CONFIG": "none", "MAILARCHIVE_TIMEZONE": ZONE},
                         data_dir=tmp_path / "data")
    app = sample_app(config)
    yield app
    close_app(app)


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    return signed_in(app, "archie")


@pytest.mark.parametrize(("params", "named"), BAD_RANGES)
@pytest.mark.parametrize("path", ["/api/v1/messages", "/api/v1/audit"])
def test_api_answers_400_for_out_of_range_dates(admin: FlaskClient, path: str, params: dict[str, str], named: str) -> None:
    response = admin.get(f"{path}?{urlencode(params)}")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert named in response.json["error"] and "out of range" in response.json["error"]


@pytest.mark.parametrize(("params", "named"), BAD_RANGES)
def test_search_page_answers_400_with_the_message(admin: FlaskClient, params: dict[str, str], named: str) -> None:
    response = admin.get(f"/search?{urlencode(params)}")
    assert response.status_code == 400
    assert "out of range" in response.get_data(as_text=True)


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_out_of_range_search_cursors_are_400(admin: FlaskClient, cursor: str) -> None:
    response = admin.get(f"/api/v1/messages?{urlencode({**OK, 'cursor': cursor})}")
    assert response.status_code == 400 and "'cursor' is not valid" in response.json["error"]
    assert admin.get(f"/search?{urlencode({**OK, 'cursor': cursor})}").status_code == 400


@pytest.mark.parametrize("cursor", ["99999999999999999999999", str(2**63)])
def test_out_of_range_audit_cursors_are_400(admin: FlaskClient, cursor: str) -> None:
    response = admin.get(f"/api/v1/audit?{urlencode({**OK, 'cursor': cursor})}")
    assert response.status_code == 400 and "'cursor' is not valid" in response.json["error"]


def test_the_widest_valid_range_searches(admin: FlaskClient) -> None:
    """Year 1 to year 9999 in UTC is fine: the bounds reach the store and come back as results."""
    wide = {"from": "0001-01-02", "to": "9999-12-30"}
    response = admin.get(f"/api/v1/messages?{urlencode(wide)}")
    assert response.status_code == 200 and response.json["total"] == 4
    assert admin.get(f"/api/v1/audit?{urlencode(wide)}").status_code == 200


def test_api_times_are_utc_and_the_console_names_its_time_zone(app: Flask, admin: FlaskClient) -> None:
    listed = admin.get(f"/api/v1/messages?{urlencode(OK)}").json["results"]
    assert listed and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", m["date"]) for m in listed)
    mid = app.sample_ids["report"]
    doc = admin.get(f"/api/v1/messages/{mid}").json
    assert all(doc[k].endswith("Z") for k in ("date", "received_at", "archived_at"))
    page = admin.get(f"/search?{urlencode(OK)}").get_data(as_text=True)
    assert re.search(r'id="date-column"[^>]*>\s*<a [^>]*>Date <span class="zone">\(Asia/Shanghai\)</span>', page)
    view = admin.get(f"/messages/{mid}").get_data(as_text=True)
    received = parse_time(doc["received_at"]).astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M:%S")
    assert f'<td id="received-at">{received} Asia/Shanghai</td>' in view
    assert re.search(r'<td id="archived-at">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Asia/Shanghai</td>', view)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli_archive(monkeypatch, tmp_path / "data")
    monkeypatch.setenv("MAILARCHIVE_TIMEZONE", ZONE)


@pytest.mark.parametrize(("params", "named"), BAD_RANGES)
@pytest.mark.parametrize("command", [["search"], ["audit", "query"]])
def test_cli_exits_2_with_one_line(cli_env: None, capsys: pytest.CaptureFixture[str], command: list[str],
                                   params: dict[str, str], named: str) -> None:  # fmt: skip
    assert main([*command, "--from", params["from"], "--to", params["to"]]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and named in err and "out of range" in err


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_cli_search_cursor_out_of_range_exits_2(cli_env: None, capsys: pytest.CaptureFixture[str], cursor: str) -> None:
    code = main(["search", "--from", OK["from"], "--to", OK["to"], "--cursor", cursor])
    err = capsys.readouterr().err
    if code == 2 and "--cursor" in err and "unrecognized" in err:
        pytest.skip("mailarchive search has no --cursor yet (issue #10 item 5)")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "cursor" in err
