"""The full role matrix: every endpoint of the app × every kind of caller, driven by app.url_map.

Each endpoint's declaration (server.web.roles) is the intent; this walks the real app, so a page
added by any blueprint is covered the moment it is registered, and an endpoint without a
declaration fails here (and is refused at run time).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.routing import Rule

from server.users import NO_ROLE, Role
from server.web.roles import Access, access_of
from tests.support.web import add_user, close_app, login, make_app

CALLERS = {"anonymous": None, "no-role": NO_ROLE, **{r.value: r.value for r in Role}}

# Intended access of the core endpoints; other page groups are checked by the invariants below.
INTENDED = {
    "auth.login": "public",
    "auth.logout": "signed-in",
    "auth.home": "signed-in",
    "auth.account": "signed-in",
    "i18n.switch": "public",
    "health.healthz": "public",
    "health.readyz": "public",
    "admin.users": {Role.EMAIL_ADMIN},
    "admin.add_user": {Role.EMAIL_ADMIN},
    "admin.set_role": {Role.EMAIL_ADMIN},
    "admin.new_link": {Role.EMAIL_ADMIN},
    "auth.set_password": "public",  # the link's token is the credential (server.users.PasswordLink)
    "archiving.manage": {Role.ARCHIVE_ADMIN},
    "archiving.confirm": {Role.ARCHIVE_ADMIN},
    "archiving.switch": {Role.ARCHIVE_ADMIN},
    "archiving.summary": {Role.ARCHIVE_ADMIN},
    "api_core.me": "signed-in",
    "api_core.summary": {Role.ARCHIVE_ADMIN},
    "api_core.archiving": {Role.ARCHIVE_ADMIN},
    "ops.metrics": "public",  # scrapers do not sign in: the view checks its token or role (SELF_CHECKED)
}
# Public to the guard, checked by the view itself: the roles it lets in (others: 401 anonymous, else 403).
SELF_CHECKED = {"ops.metrics": {Role.ARCHIVE_ADMIN, Role.EMAIL_ADMIN}}
# Public endpoints whose 503 is an answer, not a failure (the test's data dir has no Redis or spool).
MAY_BE_UNAVAILABLE = {"health.readyz"}


@pytest.fixture
def app(config) -> Iterator[Flask]:
    app = make_app(config, WTF_CSRF_ENABLED=False)  # CSRF has its own tests; here the role check alone
    yield app
    close_app(app)


def endpoint_rules(app: Flask) -> list[Rule]:
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    return sorted(rules, key=lambda r: r.endpoint == "auth.logout")  # signing out last keeps the session


def sample_url(rule: Rule) -> str:
    values = {arg: 1 if type(rule._converters[arg]).__name__ == "IntegerConverter" else "x" for arg in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def describe(access: Access) -> object:
    if access.public:
        return "public"
    return "signed-in" if access.roles is None else set(access.roles)


def test_every_endpoint_declares_its_access(app: Flask) -> None:
    undeclared = [r.endpoint for r in endpoint_rules(app) if access_of(app.view_functions[r.endpoint]) is None]
    assert undeclared == []


def test_core_endpoints_declare_the_intended_roles(app: Flask) -> None:
    declared = {e: describe(access_of(app.view_functions[e])) for e in INTENDED if e in app.view_functions}
    assert declared == {e: (v if isinstance(v, str) else {str(r) for r in v}) for e, v in INTENDED.items()}


def test_postmaster_has_no_archive_rights(app: Flask) -> None:
    """Built-in postmaster: only what every signed-in user has; no endpoint names its role."""
    naming = [e for e, view in app.view_functions.items() if (a := access_of(view)) and a.roles and Role.POSTMASTER in a.roles]
    assert naming == []


@pytest.mark.parametrize("caller", list(CALLERS))
def test_role_matrix(app: Flask, caller: str) -> None:
    client = app.test_client()
    role = CALLERS[caller]
    if role is not None:
        name = "postmaster" if role == Role.POSTMASTER else "matrix-user"  # the postmaster role is that user's only
        add_user(app, name, role)
        assert login(client, name).status_code == 302
    wrong = []
    for rule in endpoint_rules(app):
        access = access_of(app.view_functions[rule.endpoint])
        url = sample_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            verdict = judge(access, role, rule, method, response)
            if verdict:
                wrong.append(f"{method} {url} ({rule.endpoint}) as {caller}: {verdict}")
    assert wrong == []


def judge(access: Access, role: str | None, rule: Rule, method: str, response) -> str | None:  # noqa: ANN001
    """Why ``response`` is not what ``access`` intends for ``role``; None when it is."""
    status, api = response.status_code, rule.rule.startswith("/api/")
    if rule.endpoint in SELF_CHECKED:
        let_in = role in SELF_CHECKED[rule.endpoint]
        expected = 200 if let_in else 401 if role is None else 403
        return None if status == expected else f"expected {expected}, got {status}"
    if rule.endpoint in MAY_BE_UNAVAILABLE and status == 503:
        return None
    to_login = status == 302 and response.headers["Location"].startswith("/login?next=")  # refused, not signed out
    if not access.permits(role):
        if role is None:
            expected = 401 if api else 302
            ok = status == 401 and response.is_json and "error" in response.json if api else to_login
        else:
            expected, ok = 403, status == 403 and (not api or "error" in response.json)
        return None if ok else f"expected {expected}, got {status}"
    if status in (401, 403) or to_login or status >= 500:
        return f"allowed, but got {status}"
    if not rule.arguments and status == 404:
        return "allowed, but the page says it does not exist"
    return None
