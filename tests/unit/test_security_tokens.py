"""API tokens without the operator or the granter seeing them (issue 17, separation of duties).

An archive administrator's token is its own: made on the console's API tokens page after giving
its password again, shown once, kept as a SHA-256, replaced or revoked there, every step audited.
The operator's ``mailarchive user token`` refuses archive administrators (granted or pending), and
tokens a user had before a granted archive-admin role took effect stop working then. Real app on
both backends, real CLI.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.audit.operations import Op
from server.users import NO_ROLE, TOKEN_KIND, Role, UserService, token_key
from server.web.context import services_of
from tests.support.cli import cli_archive
from tests.support.cli import run_cli as _cli
from tests.support.es import es_config
from tests.support.web import PASSWORD, csrf_token, running_app, signed_in

TOKEN = re.compile(r'id="token-value">(ma_[^<]+)<')
ROW = re.compile(r'data-token="([0-9a-f]+)"')


@pytest.fixture(params=["sqlite", "elasticsearch"])
def app(request: pytest.FixtureRequest, config) -> Iterator[Flask]:  # noqa: ANN001
    chosen = config if request.param == "sqlite" else es_config(request)
    users = {"archie": Role.ARCHIVE_ADMIN, "eve": Role.EMAIL_ADMIN, "postmaster": Role.POSTMASTER, "nobody": NO_ROLE}
    with running_app(chosen, users) as app:
        yield app


def _post(client: FlaskClient, url: str, **data: str):  # noqa: ANN202
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/account/tokens")})


def _me(app: Flask, token: str) -> int:
    return app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def _last_change(app: Flask) -> tuple[str, str, dict]:
    entry = services_of(app).store.audit_last()
    assert entry.operation == Op.USER_CHANGE
    return entry.actor, entry.result, entry.details


def test_an_archive_admin_makes_its_own_token_shown_once_and_kept_as_a_hash(app: Flask) -> None:
    archie = signed_in(app, "archie")
    page = archie.get("/account/tokens")
    assert page.status_code == 200 and 'id="no-tokens"' in page.get_data(as_text=True)
    made = _post(archie, "/account/tokens", label="nightly export", current=PASSWORD)
    token = TOKEN.search(made.get_data(as_text=True)).group(1)
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    assert _me(app, token) == 200
    again = archie.get("/account/tokens").get_data(as_text=True)
    assert token not in again and "nightly export" in again and ROW.findall(again) == [token_key(token)[:12]]
    store = services_of(app).store
    assert store.get_doc(TOKEN_KIND, token) is None and store.get_doc(TOKEN_KIND, token_key(token))["label"] == "nightly export"
    assert _last_change(app) == ("archie", "success", {"change": "api_token", "label": "nightly export",
                                                       "token_id": token_key(token)[:12]})  # fmt: skip


def test_making_a_token_needs_the_current_password(app: Flask) -> None:
    archie = signed_in(app, "archie")
    for wrong in ("", "not the password"):
        refused = _post(archie, "/account/tokens", current=wrong)
        assert refused.status_code == 400 and not TOKEN.search(refused.get_data(as_text=True))
        assert _last_change(app)[:2] == ("archie", "denied")
    assert services_of(app).users.tokens_of("archie") == []


def test_guessing_the_password_on_the_token_page_locks_the_account(app: Flask) -> None:
    """A session left open must not become a password oracle: wrong passwords count as failed sign-ins."""
    archie = signed_in(app, "archie")
    answers = [_post(archie, "/account/tokens", current=f"guess {n}").status_code for n in range(12)]
    assert answers == [400] * 5 + [429] * 7  # the sign-in form's limit: 5 per address and name
    assert _post(archie, "/account/tokens", current=PASSWORD).status_code == 429  # even the right one, for now
    assert services_of(app).users.tokens_of("archie") == []


def test_replacing_a_token_ends_the_old_one_and_keeps_its_label(app: Flask) -> None:
    archie = signed_in(app, "archie")
    old = TOKEN.search(_post(archie, "/account/tokens", label="ci", current=PASSWORD).get_data(as_text=True)).group(1)
    old_id = token_key(old)[:12]
    assert _post(archie, f"/account/tokens/{old_id}/rotate", current="wrong password").status_code == 400
    assert _me(app, old) == 200
    replaced = _post(archie, f"/account/tokens/{old_id}/rotate", current=PASSWORD)
    new = TOKEN.search(replaced.get_data(as_text=True)).group(1)
    assert (_me(app, old), _me(app, new)) == (401, 200)
    assert [(t.id, t.label) for t in services_of(app).users.tokens_of("archie")] == [(token_key(new)[:12], "ci")]
    assert _last_change(app)[2] == {"change": "api_token_rotated", "token_id": old_id, "new_token_id": token_key(new)[:12],
                                    "label": "ci"}  # fmt: skip


def test_revoking_ends_a_token_and_nobody_touches_anothers(app: Flask) -> None:
    archie, eve = signed_in(app, "archie"), signed_in(app, "eve")
    token = TOKEN.search(_post(archie, "/account/tokens", current=PASSWORD).get_data(as_text=True)).group(1)
    token_id = token_key(token)[:12]
    assert _post(eve, f"/account/tokens/{token_id}/revoke").status_code == 404  # not eve's
    assert _post(eve, f"/account/tokens/{token_id}/rotate", current=PASSWORD).status_code == 404
    assert _me(app, token) == 200
    assert _post(archie, f"/account/tokens/{token_id}/revoke").status_code == 302
    assert _me(app, token) == 401
    assert _last_change(app) == ("archie", "success", {"change": "api_token_revoked", "token_id": token_id, "label": ""})
    assert _post(archie, f"/account/tokens/{token_id}/revoke").status_code == 404


def test_an_email_admin_has_its_own_tokens_the_roles_without_an_api_have_none(app: Flask) -> None:
    eve = signed_in(app, "eve")
    token = TOKEN.search(_post(eve, "/account/tokens", current=PASSWORD).get_data(as_text=True)).group(1)
    assert app.test_client().get("/api/v1/audit", query_string={"from": "2000-01-01", "to": "2100-01-01"},
                                 headers={"Authorization": f"Bearer {token}"}).status_code == 200  # fmt: skip
    for name in ("postmaster", "nobody"):
        client = signed_in(app, name)
        assert client.get("/account/tokens").status_code == 403
        assert "/account/tokens" not in client.get("/account").get_data(as_text=True)  # not in the menu
    assert "/account/tokens" in eve.get("/account").get_data(as_text=True)


def test_the_operator_issues_no_token_of_an_archive_admin(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path) -> None:  # noqa: ANN001  # fmt: skip
    from server.cli.common import opened_store

    config = cli_archive(monkeypatch, tmp_path / "data")
    out = _cli(capsys, "user", "add", "alice", "--role", "archive-admin")[1]
    link = next(word for word in out.split() if "/set-password/" in word)
    code, out, err = _cli(capsys, "user", "token", "alice")  # pending
    assert (code, out) == (2, "") and "/account/tokens" in err and err.count("\n") == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("only alice knows\n"))
    assert _cli(capsys, "user", "use-link", link, "--password-stdin")[0] == 0
    code, out, err = _cli(capsys, "user", "token", "alice")  # in effect
    assert (code, out) == (2, "") and "archive administrator" in err and "/account/tokens" in err
    assert _cli(capsys, "user", "add", "emma", "--role", "email-admin")[0] == 0
    code, out, _ = _cli(capsys, "user", "token", "emma")
    assert code == 0 and out.startswith("ma_")
    with opened_store(config) as store:
        assert UserService(store).tokens_of("alice") == []
        assert [t.issued_by for t in UserService(store).tokens_of("emma")] == ["cli"]
        entry = store.audit_last()
    assert (entry.operation, entry.target, entry.result) == (Op.USER_CHANGE, "emma", "success")


def test_tokens_issued_before_a_grant_stop_when_the_role_takes_effect(capsys: pytest.CaptureFixture,
                                                                      monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001  # fmt: skip
    """Else the operator could issue a token to a user without a role, wait for the grant, and read all mail."""
    from server.cli.common import opened_store

    config = cli_archive(monkeypatch, tmp_path / "data")
    assert _cli(capsys, "user", "add", "bob", "--role", "none")[0] == 0
    early = _cli(capsys, "user", "token", "bob")[1].strip()
    out = _cli(capsys, "user", "role", "bob", "archive-admin")[1]
    link = next(word for word in out.split() if "/set-password/" in word)
    monkeypatch.setattr("sys.stdin", io.StringIO("only bob knows it\n"))
    assert _cli(capsys, "user", "use-link", link, "--password-stdin")[0] == 0
    with opened_store(config) as store:
        users = UserService(store)
        assert users.require("bob").role == Role.ARCHIVE_ADMIN and users.user_for_token(early) is None
