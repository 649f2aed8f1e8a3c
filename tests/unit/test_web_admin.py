"""Users and roles page: separation of duties enforced and audited."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.users import NO_ROLE, Role
from server.web.context import services_of
from tests.support.web import add_user, csrf_token, login, running_app, signed_in


@pytest.fixture
def app(config) -> Iterator[Flask]:
    with running_app(config, {"postmaster": Role.POSTMASTER, "eve": Role.EMAIL_ADMIN, "carl": NO_ROLE}) as app:
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return signed_in(app, "eve")


def post(client: FlaskClient, url: str, **data: str):  # noqa: ANN201
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/admin/users")})


def test_grant_and_revoke_archive_admin(app: Flask, client: FlaskClient) -> None:
    users, store = services_of(app).users, services_of(app).store
    granted = post(client, "/admin/users/carl/role", role="archive-admin")
    assert granted.status_code == 200 and users.require("carl").pending_role == Role.ARCHIVE_ADMIN
    link = re.search(r'id="set-password-link">[^<]*(/set-password/[^<\s]+)<', granted.get_data(as_text=True)).group(1)
    carl = app.test_client()
    assert carl.post(link, data={"new": "carl's own pass", "confirm": "carl's own pass", "csrf_token": csrf_token(carl, link)}).status_code == 302
    assert users.require("carl").role == Role.ARCHIVE_ADMIN
    login(carl, "carl", "carl's own pass")
    assert carl.get("/archiving/summary").status_code == 200
    post(client, "/admin/users/carl/role", role="none")
    assert users.require("carl").role == NO_ROLE
    assert carl.get("/archiving/summary").status_code == 403  # at once, same session
    changes = [(e.actor, e.target, e.details) for e in store.audit_scan() if e.operation == "role_change"]
    assert changes == [("eve", "carl", {"from": "", "to": "archive-admin", "pending": True}),
                       ("eve", "carl", {"from": "archive-admin", "to": ""})]  # fmt: skip


@pytest.mark.parametrize(("target", "role"), [("postmaster", "none"), ("carl", "email-admin"), ("carl", "postmaster"),
                                              ("eve", "archive-admin")])  # fmt: skip
def test_email_admin_cannot_go_beyond_archive_admin(app: Flask, client: FlaskClient, target: str, role: str) -> None:
    users = services_of(app).users
    before = users.require(target).role
    response = post(client, f"/admin/users/{target}/role", role=role)
    assert response.status_code == 302
    assert users.require(target).role == before
    entry = services_of(app).store.audit_last()
    assert (entry.operation, entry.result, entry.target) == ("role_change", "denied", target)


def test_add_user_shows_a_one_time_link_not_a_password(app: Flask, client: FlaskClient) -> None:
    page = post(client, "/admin/users", username="Dora", archive_admin="yes")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert 'id="initial-password"' not in html and 'id="pending-role"' in html
    link = re.search(r'id="set-password-link">[^<]*(/set-password/[^<\s]+)<', html).group(1)
    assert services_of(app).users.require("dora").role == NO_ROLE  # pending until dora sets a password
    dora = app.test_client()
    assert dora.post(link, data={"new": "dora chose this", "confirm": "dora chose this",
                                 "csrf_token": csrf_token(dora, link)}).status_code == 302  # fmt: skip
    assert services_of(app).users.require("dora").role == Role.ARCHIVE_ADMIN
    assert login(app.test_client(), "dora", "dora chose this").status_code == 302
    ops = [(e.operation, e.target) for e in services_of(app).store.audit_scan()][-4:]
    assert ops == [("user_change", "dora"), ("role_change", "dora"), ("user_change", "dora"), ("login", "dora")]
    again = post(client, "/admin/users", username="dora")
    assert again.status_code == 302 and "exists already" in client.get("/admin/users").get_data(as_text=True)


def test_archive_admin_cannot_appoint_anyone(app: Flask) -> None:
    add_user(app, "alice", Role.ARCHIVE_ADMIN)
    client = app.test_client()
    login(client, "alice")
    assert client.post("/admin/users/carl/role", data={"role": "archive-admin"}).status_code == 403
    assert services_of(app).users.require("carl").role == NO_ROLE
