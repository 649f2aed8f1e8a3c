"""Archive Mail Management: the summary from real archived data, the switch from page and API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.archiving import switch_state
from server.audit.log import AuditLog
from server.config import with_overrides
from server.indexing.pipeline import Ingestor
from server.model import Account
from server.store.sqlite import SqliteStore
from server.users import Role
from server.web.context import services_of
from tests.support.mail import make_mail
from tests.support.web import api_token, csrf_token, running_app, signed_in


@pytest.fixture
def app(config) -> Iterator[Flask]:
    config = with_overrides(config, internal_domains="corp.example", retention_years=7, timezone="Asia/Shanghai")
    with running_app(config, {"alice": Role.ARCHIVE_ADMIN, "anna": Role.ARCHIVE_ADMIN, "bob": Role.EMAIL_ADMIN}) as app:
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return signed_in(app, "alice")


def fill_archive(app: Flask) -> None:
    """Directory: 2 active internal accounts, 1 disabled, 1 on another domain. Archive: 4 mailboxes."""
    svc = services_of(app)
    svc.store.upsert_accounts([
        Account("a@corp.example"), Account("b@corp.example"),
        Account("c@corp.example", status="disabled"), Account("x@partner.example"), Account("s@eu.corp.example"),
    ])  # fmt: skip
    ingestor = Ingestor(svc.store, svc.config)
    for raw in (
        make_mail(subject="one", sender="a@corp.example", to=["b@corp.example"]),
        make_mail(subject="two", sender="a@corp.example", to=["d@corp.example", "x@partner.example"]),
    ):
        assert ingestor.ingest(raw, source="import").status == "archived"
    # journal mail while disabled: acknowledged, not stored, counted
    assert ingestor.ingest(make_mail(subject="three"), source="smtp").status == "skipped_disabled"
    svc.store.refresh()


def test_summary_figures_come_from_real_data(app: Flask, client: FlaskClient) -> None:
    fill_archive(app)
    summary = client.get("/api/v1/summary", headers=api_token(app, "alice")).json
    assert summary.pop("storage_bytes") > 0  # the ops figures (issue 15); their own tests: test_ops_summary.py
    assert summary.pop("last_received_at") is not None
    assert (summary.pop("oldest_message"), summary.pop("newest_message")) == ("2024-03-14T09:26:53.000Z",) * 2
    assert summary.pop("last_journaled_at") is None  # the journal mail was not stored
    assert summary == {
        "status": "disabled",
        "archivable_mailboxes": 3,  # a, b, s (subdomain); c disabled, x not on an internal domain
        "archived_mailboxes": 4,  # a, b, d (internal domain) and x (the directory knows it)
        "archived_messages": 2,
        "retention_years": 7,
        "last_enabled_at": None,
        "last_disabled_at": None,
        "archive_admins": ["alice", "anna"],
        "journal_not_stored": 1,
        "timezone": "Asia/Shanghai",
        "integrity_failures": 0,
    }
    page = client.get("/archiving/summary").get_data(as_text=True)
    for element, value in (("archivable-mailboxes", "3"), ("archived-mailboxes", "4"), ("journal-not-stored", "1"),
                           ("archive-admins", "alice, anna"), ("retention", "7 years")):  # fmt: skip
        assert f'id="{element}">{value}<' in page


def test_enable_needs_the_confirmation_step_and_is_audited(app: Flask, client: FlaskClient) -> None:
    store = services_of(app).store
    confirm = client.get("/archiving/confirm/enable")
    assert confirm.status_code == 200 and 'name="confirmed" value="yes"' in confirm.get_data(as_text=True)
    token = csrf_token(client, "/archiving/")
    unconfirmed = client.post("/archiving/switch", data={"action": "enable", "csrf_token": token})
    assert unconfirmed.status_code == 302 and switch_state(store)["enabled"] is False
    done = client.post("/archiving/switch", data={"action": "enable", "confirmed": "yes", "csrf_token": token})
    assert done.status_code == 302
    state = switch_state(store)
    assert state["enabled"] is True and state["changed_by"] == "alice" and state["last_enabled_at"]
    entry = store.audit_last()
    assert (entry.operation, entry.actor, entry.role, entry.details) == (
        "archiving_enable", "alice", "archive-admin", {"enabled": True, "was_enabled": False})
    assert "Enabled" in client.get("/archiving/").get_data(as_text=True)


def test_api_switch_round_trip_and_validation(app: Flask) -> None:
    client, headers = app.test_client(), api_token(app, "alice")
    assert client.post("/api/v1/archiving", json={"enabled": True}, headers=headers).json["enabled"] is True
    off = client.post("/api/v1/archiving", json={"enabled": False}, headers=headers).json
    assert off["enabled"] is False and off["last_disabled_at"] >= off["last_enabled_at"]
    assert [e.operation for e in services_of(app).store.audit_scan()] == ["archiving_enable", "archiving_disable"]
    bad = client.post("/api/v1/archiving", json={"enabled": "yes"}, headers=headers)
    assert bad.status_code == 400 and bad.json == {"error": '"enabled" must be true or false'}
    assert client.post("/api/v1/archiving", data="x", headers=headers).status_code == 400
    denied = client.post("/api/v1/archiving", json={"enabled": True}, headers=api_token(app, "bob"))
    assert denied.status_code == 403 and "error" in denied.json
    assert switch_state(services_of(app).store)["enabled"] is False


def test_switch_is_refused_when_the_audit_log_cannot_be_written(app: Flask, client: FlaskClient, tmp_path) -> None:
    svc = services_of(app)
    token = csrf_token(client, "/archiving/")
    broken = SqliteStore(tmp_path / "audit-only.sqlite3")
    broken.close()  # a real audit log whose store fails every append
    svc.audit_log = AuditLog(broken, tmp_path / "anchors")
    response = client.post("/archiving/switch", data={"action": "enable", "confirmed": "yes", "csrf_token": token})
    assert response.status_code == 503
    assert switch_state(svc.store)["enabled"] is False


def test_times_are_shown_in_the_configured_zone(app: Flask, client: FlaskClient) -> None:
    store = services_of(app).store
    store.set_setting("archiving", {"enabled": True, "last_enabled_at": "2026-01-31T20:30:00.000Z"})
    assert "2026-02-01 04:30:00" in client.get("/archiving/").get_data(as_text=True)  # Asia/Shanghai, UTC+8
