"""Sign-in, sign-out, rate limiting, CSRF, session cookies and API tokens, on a real app and store."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import pytest
from flask import Flask, url_for

from server.config import with_overrides
from server.store.protocol import AuditRecord
from server.users import Role
from server.web.context import services_of
from server.web.nav import first_page
from server.web.security import SECRET_FILE
from tests.support.web import (
    PASSWORD,
    add_user,
    api_token,
    close_app,
    csrf_token,
    login,
    make_app,
    running_app,
)


@pytest.fixture
def app(config) -> Iterator[Flask]:
    with running_app(config, {"alice": Role.ARCHIVE_ADMIN}) as app:
        yield app


def url_for_nav(app: Flask, username: str) -> str:
    with app.test_request_context():
        return url_for(first_page(services_of(app).users.require(username).role))


def audit_entries(app: Flask) -> list[AuditRecord]:
    return list(services_of(app).store.audit_scan())


def test_sign_in_and_out_are_audited(app: Flask) -> None:
    client = app.test_client()
    response = login(client, "alice")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == url_for_nav(app, "alice")  # first menu entry of the role
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/account")}).status_code == 302
    assert client.get("/account").status_code == 302
    ops = [(e.operation, e.actor, e.role, e.source_ip) for e in audit_entries(app)]
    assert ops == [("login", "alice", "archive-admin", "127.0.0.1"), ("logout", "alice", "archive-admin", "127.0.0.1")]


def test_wrong_password_is_refused_and_audited(app: Flask) -> None:
    client = app.test_client()
    response = login(client, "alice", "not the password")
    assert response.status_code == 200 and "Wrong user name or password" in response.get_data(as_text=True)
    assert client.get("/archiving/").status_code == 302
    [entry] = audit_entries(app)
    assert (entry.operation, entry.actor, entry.result) == ("login_failed", "alice", "failure")


def test_failed_sign_in_with_a_huge_name_logs_a_bounded_name(app: Flask) -> None:
    login(app.test_client(), "x" * 200_000, "whatever")
    [entry] = audit_entries(app)
    assert entry.operation == "login_failed"
    for value in (entry.actor, entry.target):
        assert len(value.encode()) < 300 and "200000 bytes" in value


def test_console_pages_including_login_send_csp_and_permissions_policy(app: Flask) -> None:
    client = app.test_client()
    pages = [client.get("/login")]
    login(client, "alice")
    pages += [client.get("/account"), client.get("/archiving/")]
    for response in pages:
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert "object-src 'none'" in response.headers["Content-Security-Policy"]
        assert "camera=()" in response.headers["Permissions-Policy"]


def test_a_saved_cookie_no_longer_works_after_logout(app: Flask) -> None:
    client = app.test_client()
    login(client, "alice")
    saved = client.get_cookie("mailarchive_session").value
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/account")}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("mailarchive_session", saved)
    assert replay.get("/archiving/").status_code == 302


def test_login_is_rate_limited_per_address_and_user(app: Flask) -> None:
    client = app.test_client()
    for _ in range(5):
        assert login(client, "alice", "guess guess guess").status_code == 200
    response = login(client, "alice")  # even the right password, while blocked
    assert response.status_code == 429
    assert 840 <= int(response.headers["Retry-After"]) <= 900
    assert "15 minutes" in response.get_data(as_text=True)
    add_user(app, "bob", Role.EMAIL_ADMIN)
    assert login(client, "bob").status_code == 302  # another user from the same address still may


def test_forms_without_csrf_token_are_rejected(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    login(client, "alice")
    response = client.post("/archiving/switch", data={"action": "enable", "confirmed": "yes"})
    assert response.status_code == 400
    assert services_of(app).store.get_setting("archiving") is None


def test_json_with_session_needs_the_csrf_header_bearer_does_not(app: Flask) -> None:
    client = app.test_client()
    login(client, "alice")
    response = client.post("/api/v1/archiving", json={"enabled": True})
    assert response.status_code == 400 and "CSRF" in response.json["error"]
    token = csrf_token(client, "/archiving/")
    assert client.post("/api/v1/archiving", json={"enabled": True}, headers={"X-CSRFToken": token}).json["enabled"]
    bearer = app.test_client().post("/api/v1/archiving", json={"enabled": False}, headers=api_token(app, "alice"))
    assert bearer.status_code == 200 and bearer.json["enabled"] is False


def test_bearer_tokens(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/v1/me", headers=api_token(app, "alice")).json == {"username": "alice", "role": "archive-admin"}
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer ma_forged"})
    assert response.status_code == 401 and response.json["error"].startswith("authentication required")
    assert client.get("/archiving/", headers=api_token(app, "alice")).status_code == 302  # tokens are for /api/ only


def test_session_cookie_flags(app: Flask) -> None:
    client = app.test_client()
    cookie = login(client, "alice").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain HTTP
    tls = app.test_client()
    token = csrf_token(tls)
    response = tls.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token},
                        base_url="https://localhost", headers={"Referer": "https://localhost/login"})  # fmt: skip
    assert "Secure" in response.headers["Set-Cookie"]


def test_secret_key_is_generated_once_with_private_mode(config, app: Flask) -> None:
    path = config.data_dir / SECRET_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = make_app(config)
    try:
        assert second.secret_key == app.secret_key
    finally:
        close_app(second)


def test_sign_in_redirects_only_to_local_pages(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", data={"username": "alice", "password": PASSWORD, "next": "//evil.example/x",
                                           "csrf_token": csrf_token(client)})  # fmt: skip
    assert response.headers["Location"] == "/"
    client = app.test_client()
    response = client.post("/login", data={"username": "alice", "password": PASSWORD, "next": "/archiving/summary",
                                           "csrf_token": csrf_token(client)})  # fmt: skip
    assert response.headers["Location"] == "/archiving/summary"


def test_password_change_ends_other_sessions(app: Flask) -> None:
    first, second = app.test_client(), app.test_client()
    login(first, "alice")
    login(second, "alice")
    new = "a brand new password"
    response = first.post("/account", data={"current": PASSWORD, "new": new, "confirm": new,
                                            "csrf_token": csrf_token(first, "/account")})  # fmt: skip
    assert response.status_code == 302
    assert first.get("/archiving/").status_code == 200
    assert second.get("/archiving/").status_code == 302
    assert login(app.test_client(), "alice", new).status_code == 302
    assert [e.operation for e in audit_entries(app)][-2:] == ["user_change", "login"]


def test_disabled_role_check_is_immediate(app: Flask) -> None:
    client = app.test_client()
    login(client, "alice")
    assert client.get("/archiving/summary").status_code == 200
    services_of(app).users.set_role("alice", "none")
    assert client.get("/archiving/summary").status_code == 403


def test_behind_a_trusted_tls_proxy_the_cookie_is_secure(config) -> None:  # noqa: ANN001
    proxied = with_overrides(config, web_trusted_proxies=1)
    with running_app(proxied, {"alice": Role.ARCHIVE_ADMIN}) as app:
        client = app.test_client()
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", "Referer": "https://localhost/login"}
        token = csrf_token(client)
        response = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token}, headers=headers)
        assert "Secure" in response.headers["Set-Cookie"]
        assert services_of(app).store.audit_last().source_ip == "203.0.113.7"
