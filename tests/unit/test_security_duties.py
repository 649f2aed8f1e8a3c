"""Separation of duties (issue 17, deliverable 4): an email administrator grants and revokes the
archive-admin role but never holds or sees an archive administrator's credentials.

Walked through the real console and CLI on a real store: the grant is pending until the user has
set a password through a one-time link (single use, expiring, replaced by a newer one, audited),
the granter sees no password and cannot set one, and the operator's CLI behaves the same.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.model import format_time, now_utc
from server.users import LINK_KIND, NO_ROLE, Role, UserService
from server.web.context import services_of
from tests.support.cli import cli_archive
from tests.support.cli import run_cli as _cli
from tests.support.web import PASSWORD, csrf_token, login, running_app, signed_in

LINK = re.compile(r'id="set-password-link">[^<]*(/set-password/[^<\s]+)<')
OWN = "only I know this one"


@pytest.fixture
def app(config) -> Iterator[Flask]:  # noqa: ANN001
    with running_app(config, {"eve": Role.EMAIL_ADMIN, "carl": NO_ROLE}) as app:
        yield app


@pytest.fixture
def eve(app: Flask) -> FlaskClient:
    return signed_in(app, "eve")


def _post(client: FlaskClient, url: str, **data: str):  # noqa: ANN202
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/admin/users")})


def _set_password(app: Flask, link: str, password: str = OWN) -> int:
    client = app.test_client()
    return client.post(link, data={"new": password, "confirm": password, "csrf_token": csrf_token(client, link)}).status_code


def _link_of(response) -> str:  # noqa: ANN001
    return LINK.search(response.get_data(as_text=True)).group(1)


def test_granted_role_takes_effect_only_after_the_user_set_its_own_password(app: Flask, eve: FlaskClient) -> None:
    carl = signed_in(app, "carl")  # carl's current password might be known to the granter
    granted = _post(eve, "/admin/users/carl/role", role="archive-admin")
    assert granted.status_code == 200 and PASSWORD not in granted.get_data(as_text=True)
    link = _link_of(granted)
    assert carl.get("/archiving/summary").status_code == 403  # pending: no archive rights yet
    assert signed_in(app, "carl").get("/api/v1/summary").status_code == 403  # nor with a fresh sign-in
    assert "pending" in eve.get("/admin/users").get_data(as_text=True)
    assert _set_password(app, link) == 302
    assert carl.get("/archiving/summary").status_code == 302  # the old session ended (password changed)
    assert login(app.test_client(), "carl", PASSWORD).status_code == 200  # the old password is gone
    assert signed_in(app, "carl", OWN).get("/archiving/summary").status_code == 200
    entries = [(e.actor, e.operation, e.target, e.details.get("change")) for e in services_of(app).store.audit_scan()]
    assert ("anonymous", "user_change", "carl", "password_link_used") in entries


def test_a_link_works_once_and_not_after_it_expired_or_was_replaced(app: Flask, eve: FlaskClient) -> None:
    first = _link_of(_post(eve, "/admin/users", username="dora", archive_admin="yes"))
    second = _link_of(_post(eve, "/admin/users/dora/link"))
    assert _set_password(app, first) == 404  # replaced by the newer one
    assert app.test_client().get(second).status_code == 200  # showing the form does not use it
    assert _set_password(app, second, "short") == 400  # too short: refused, link still valid
    assert _set_password(app, second) == 302
    assert _set_password(app, second, "another password!") == 404  # used
    assert services_of(app).users.require("dora").role == Role.ARCHIVE_ADMIN
    users = services_of(app).users
    users.set_role("dora", NO_ROLE)
    link = users.grant_pending("dora", Role.ARCHIVE_ADMIN)
    store = services_of(app).store
    doc = store.get_doc(LINK_KIND, users.require("dora").link_key)
    store.put_doc(LINK_KIND, users.require("dora").link_key, {**doc, "expires_at": format_time(now_utc() - timedelta(seconds=1))})
    page = app.test_client().get(link.path)
    assert page.status_code == 404 and 'id="link-invalid"' in page.get_data(as_text=True)


def test_revoking_a_pending_grant_kills_its_link(app: Flask, eve: FlaskClient) -> None:
    link = _link_of(_post(eve, "/admin/users/carl/role", role="archive-admin"))
    assert _post(eve, "/admin/users/carl/role", role="none").status_code == 302
    assert _set_password(app, link) == 404
    assert services_of(app).users.require("carl").role == NO_ROLE


def test_the_granter_cannot_take_over_an_archive_admin(app: Flask, eve: FlaskClient) -> None:
    _set_password(app, _link_of(_post(eve, "/admin/users/carl/role", role="archive-admin")))
    before = services_of(app).users.require("carl")
    assert _post(eve, "/admin/users/carl/link").status_code == 302  # refused, flashed
    after = services_of(app).users.require("carl")
    assert (after.password_hash, after.link_key) == (before.password_hash, "")
    last = services_of(app).store.audit_last()
    assert (last.operation, last.target, last.result) == ("user_change", "carl", "denied")
    assert "/set-password/" not in eve.get("/admin/users").get_data(as_text=True)
    about_a_user = sorted(r.rule for r in app.url_map.iter_rules() if "<username>" in r.rule)
    assert about_a_user == ["/admin/users/<username>/link", "/admin/users/<username>/role"]  # no password route


def test_cli_gives_archive_admins_links_never_passwords(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path) -> None:  # noqa: ANN001  # fmt: skip
    from server.cli.common import opened_store

    config = cli_archive(monkeypatch, tmp_path / "data")
    monkeypatch.setattr("sys.stdin", io.StringIO("a password I chose\n"))
    code, _, err = _cli(capsys, "user", "add", "alice", "--role", "archive-admin", "--password-stdin")
    assert code == 2 and "chooses its own password" in err and err.count("\n") == 1
    code, out, _ = _cli(capsys, "user", "add", "alice", "--role", "archive-admin")
    assert code == 0 and "password:" not in out and "(pending)" in out
    link = next(word for word in out.split() if "/set-password/" in word)
    with opened_store(config) as store:
        assert UserService(store).require("alice").role == NO_ROLE
    monkeypatch.setattr("sys.stdin", io.StringIO(OWN + "\n"))
    assert _cli(capsys, "user", "use-link", link, "--password-stdin")[:2] == (0, "password of alice set; role now archive-admin\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(OWN + "\n"))
    code, _, err = _cli(capsys, "user", "use-link", link, "--password-stdin")
    assert code == 2 and "not valid" in err  # once only
    with opened_store(config) as store:
        assert UserService(store).authenticate("alice", OWN).role == Role.ARCHIVE_ADMIN
    monkeypatch.setattr("sys.stdin", io.StringIO("operator's choice!\n"))
    code, _, err = _cli(capsys, "user", "passwd", "alice", "--password-stdin")
    assert code == 2 and "chooses its own password" in err
    code, out, _ = _cli(capsys, "user", "passwd", "alice")
    assert code == 0 and "new password" not in out and "/set-password/" in out
    with opened_store(config) as store:
        assert UserService(store).authenticate("alice", OWN) is not None  # unchanged until alice uses the link
