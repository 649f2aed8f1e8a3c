"""Archive Log Query page, ``GET /api/v1/audit`` and the CSV download, on a real app and store; and
the fail-closed rule: when the audit entry cannot be written, the operation fails and changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.archiving import is_enabled
from server.audit.operations import Op
from server.config import Config
from server.users import Role
from server.web.context import services_of
from server.web.i18n import catalog
from tests.support.web import add_user, api_token, close_app, login, make_app

RANGE = {"from": "2000-01-01", "to": "2100-01-01"}


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    app = make_app(config)
    for name, role in (("arch", Role.ARCHIVE_ADMIN), ("mail", Role.EMAIL_ADMIN), ("postmaster", Role.POSTMASTER)):
        add_user(app, name, role)
    log = services_of(app).audit_log
    for n in range(5):
        log.record(actor="arch" if n % 2 else "mail", role="archive-admin", operation=Op.SEARCH if n < 4 else Op.EML_EXPORT,
                   target=f"msg-{n}", details={"keyword": "报价单" if n == 2 else "budget", "hits": n}, source_ip="10.0.0.9")  # fmt: skip
    yield app
    close_app(app)


def _client(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    login(client, name)
    return client


def test_api_filters_by_actor_operation_and_keyword(app: Flask) -> None:
    headers = api_token(app, "mail")
    body = app.test_client().get("/api/v1/audit", query_string={**RANGE, "actor": "arch", "operation": "search"}, headers=headers).get_json()
    assert body["total"] == 2 and [r["target"] for r in body["results"]] == ["msg-3", "msg-1"]
    body = app.test_client().get("/api/v1/audit", query_string={**RANGE, "keyword": "报价单"}, headers=headers).get_json()
    assert body["results"] == []  # a searched word is redacted for an email admin: its keyword finds nothing
    body = app.test_client().get("/api/v1/audit", query_string={**RANGE, "keyword": "msg-2"}, headers=headers).get_json()
    assert [r["target"] for r in body["results"]] == ["msg-2"]
    assert set(body["results"][0]) >= {"seq", "time", "actor", "role", "source_ip", "operation", "target", "details", "result", "hash"}


def test_email_admin_sees_keywords_redacted_archive_admin_sees_them(app: Flask) -> None:
    query = {**RANGE, "operation": "search"}
    mail = app.test_client().get("/api/v1/audit", query_string=query, headers=api_token(app, "mail")).get_json()
    assert {r["details"]["keyword"] for r in mail["results"]} == {"[redacted]"}
    arch = app.test_client().get("/api/v1/audit", query_string=query, headers=api_token(app, "arch")).get_json()
    assert "报价单" in {r["details"]["keyword"] for r in arch["results"]}


def test_api_pages_with_a_cursor(app: Flask) -> None:
    client = _client(app, "arch")
    first = client.get("/api/v1/audit", query_string={**RANGE, "operation": "search", "limit": 3}).get_json()
    assert first["total"] == 4 and len(first["results"]) == 3 and first["next_cursor"]
    rest = client.get("/api/v1/audit", query_string={**RANGE, "operation": "search", "limit": 3, "cursor": first["next_cursor"]}).get_json()
    assert [r["target"] for r in rest["results"]] == ["msg-0"] and rest["next_cursor"] is None


def test_api_requires_a_time_range(app: Flask) -> None:
    response = _client(app, "arch").get("/api/v1/audit", query_string={"actor": "arch"})
    assert response.status_code == 400 and "time range is required" in response.get_json()["error"]


@pytest.mark.parametrize("path", ["/api/v1/audit", "/api/v1/audit.csv", "/audit", "/audit/download"])
def test_postmaster_sees_nothing(app: Flask, path: str) -> None:
    before = services_of(app).store.audit_last().seq
    response = _client(app, "postmaster").get(path, query_string=RANGE)
    assert response.status_code == 403
    assert "msg-" not in response.get_data(as_text=True)
    last = services_of(app).store.audit_last()
    assert last.operation not in (Op.AUDIT_QUERY, Op.AUDIT_EXPORT) and last.seq >= before


def test_anonymous_api_call_is_refused(app: Flask) -> None:
    assert app.test_client().get("/api/v1/audit", query_string=RANGE).status_code == 401


def test_querying_and_downloading_are_audited(app: Flask) -> None:
    client = _client(app, "arch")  # (for an email admin "budget" is a redacted search word: no match)
    client.get("/api/v1/audit", query_string={**RANGE, "keyword": "budget"})
    last = services_of(app).store.audit_last()
    assert (last.actor, last.role, last.operation, last.details["keyword"], last.details["total"]) == (
        "arch", "archive-admin", "audit_query", "budget", 4)  # fmt: skip
    client.get("/api/v1/audit.csv", query_string=RANGE).get_data()
    assert services_of(app).store.audit_last().operation == Op.AUDIT_EXPORT


@pytest.mark.parametrize(("url", "extra"), [("/api/v1/audit.csv", {}), ("/api/v1/audit", {"format": "csv"}), ("/audit/download", {})])
def test_csv_download_has_every_matching_entry(app: Flask, url: str, extra: dict) -> None:
    response = _client(app, "arch").get(url, query_string={**RANGE, "operation": "search", **extra})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:7] == ["seq", "time", "actor", "role", "source_ip", "operation", "target"]
    assert [r[6] for r in rows[1:]] == ["msg-3", "msg-2", "msg-1", "msg-0"]
    assert '"keyword":"报价单"' in rows[2][7]


def test_page_shows_filters_labels_and_results(app: Flask) -> None:
    client = _client(app, "arch")
    fresh = client.get("/audit").get_data(as_text=True)
    assert 'name="operation"' in fresh and "View message" in fresh and "audit-table" not in fresh
    html = client.get("/audit", query_string={**RANGE, "operation": "eml_export"}).get_data(as_text=True)
    assert "msg-4" in html and "msg-1" not in html and "Download .eml" in html and 'id="audit-csv"' in html


def test_page_in_chinese(app: Flask) -> None:
    client = _client(app, "mail")
    client.set_cookie("lang", "zh-CN")
    html = client.get("/audit", query_string={**RANGE, "operation": "search", "limit": 2}).get_data(as_text=True)
    assert "归档日志查询" in html and "查询邮件" in html and 'id="next-page"' in html


def test_page_shows_bad_input_next_to_the_form(app: Flask) -> None:
    response = _client(app, "arch").get("/audit", query_string={"from": "2024-02-01", "to": "2024-01-01"})
    assert response.status_code == 400 and "is after" in response.get_data(as_text=True)


def _break_audit_writes(app: Flask) -> None:
    """Make the database refuse audit inserts, as a full disk or a broken table would: everything
    else in the store keeps working, only the audit entry cannot be written."""
    with closing(sqlite3.connect(services_of(app).config.sqlite_path, isolation_level=None)) as conn:
        conn.execute("CREATE TRIGGER audit_full BEFORE INSERT ON audit BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")


def test_no_audit_entry_no_operation(app: Flask) -> None:
    client = _client(app, "arch")
    store = services_of(app).store
    count = store.audit_last().seq
    _break_audit_writes(app)
    response = client.get("/api/v1/audit", query_string=RANGE)
    assert response.status_code == 503 and "msg-" not in response.get_data(as_text=True)
    response = client.post("/api/v1/archiving", json={"enabled": True}, headers=api_token(app, "arch"))
    assert response.status_code == 503
    assert not is_enabled(store) and store.audit_last().seq == count


def test_every_string_of_the_page_has_a_chinese_translation() -> None:
    root = Path(__file__).resolve().parents[2]
    sources = [root / "templates/audit/query.html", root / "server/web/audit_views.py"]
    keys = {k for path in sources for k in re.findall(r"""_\(["']([^"']+)["']""", path.read_text(encoding="utf-8"))}
    assert "Archive Log Query" in keys and not keys - set(catalog("zh-CN"))
