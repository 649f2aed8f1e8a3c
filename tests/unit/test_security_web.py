"""Deliverable 3 (web), over every route of the real app (``app.url_map``), so a page added later
is covered the moment it is registered: CSRF on every state-changing route, a fresh session at
sign-in, no open redirects, security headers on every answer, safe download names."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from io import BytesIO

import pytest
from flask import Flask
from werkzeug.routing import Rule

from server.web.context import services_of
from tests.support.web import api_token, csrf_token, login
from tests.support.webdata import sample_app, signed_in

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
USERS = ("archie", "emma", "postmaster")  # every console role


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[Flask]:  # noqa: ANN001
    from server.config import load_config

    config = load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=tmp_path_factory.mktemp("web") / "data")
    app = sample_app(config)
    yield app
    services_of(app).close()


def _rules(app: Flask, methods: set[str]) -> list[tuple[Rule, str]]:
    rules = [(r, m) for r in app.url_map.iter_rules() if r.endpoint != "static" for m in sorted(r.methods & methods)]
    return sorted(rules, key=lambda rm: rm[0].endpoint == "auth.logout")


def _url(rule: Rule, mid: str) -> str:
    values = {a: 1 if type(rule._converters[a]).__name__ == "IntegerConverter" else (mid if "id" in a else "x")
              for a in rule.arguments}  # fmt: skip
    return rule.build(values, append_unknown=False)[1]


def _entries(app: Flask) -> int:
    last = services_of(app).store.audit_last()
    return last.seq if last else 0


def test_every_state_changing_route_needs_the_csrf_token(app: Flask) -> None:
    """Form posts and JSON with the session cookie, without a token: refused and nothing done (no
    audit entry written). Each route is tried by every console role that acts: the role allowed in
    gets the CSRF refusal (400), the others the role refusal (403) before anything else."""
    mid = app.sample_ids["report"]
    refused_for_csrf, wrong = set(), []
    for user in USERS:
        client = signed_in(app, user)
        for rule, method in _rules(app, UNSAFE):
            url = _url(rule, mid)
            for kwargs in ({"data": {"x": "1"}}, {"json": {"x": "1"}}):
                before = _entries(app)
                response = client.open(url, method=method, **kwargs)
                csrf = response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
                if _entries(app) != before or not (csrf or response.status_code == 403):
                    wrong.append(f"{method} {url} as {user}: {response.status_code}")
                if csrf:
                    refused_for_csrf.add((rule.rule, method))
    assert wrong == []
    assert {(r.rule, m) for r, m in _rules(app, UNSAFE)} - refused_for_csrf == set()


def test_bearer_token_requests_are_exempt_from_csrf(app: Flask) -> None:
    headers = api_token(app, "archie")
    exempt = [(r, m) for r, m in _rules(app, UNSAFE) if r.rule.startswith("/api/")]
    assert exempt, "the API has state-changing routes"
    for rule, method in exempt:
        response = app.test_client().open(_url(rule, app.sample_ids["report"]), method=method, json={}, headers=headers)
        assert "CSRF" not in response.get_data(as_text=True), f"{method} {rule.rule}"


def test_sign_in_starts_a_new_session(app: Flask) -> None:
    client = app.test_client()
    token_before = csrf_token(client)
    cookie_before = client.get_cookie("mailarchive_session").value
    assert login(client, "archie").status_code == 302
    assert client.get_cookie("mailarchive_session").value != cookie_before
    assert csrf_token(client, "/search") != token_before  # nothing of the pre-sign-in session carries over
    planted = app.test_client()  # an attacker who planted the pre-sign-in cookie is not signed in by it
    planted.set_cookie("mailarchive_session", cookie_before)
    assert planted.get("/search").status_code == 302


REDIRECTS = ["//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
             "/\n/evil.example", "javascript:alert(1)", "http:/evil.example", " //evil.example", "/%2F/evil.example@x",
             "///evil.example", "https:evil.example"]  # fmt: skip


@pytest.mark.parametrize("target", REDIRECTS)
def test_no_open_redirect_after_sign_in_or_language_switch(app: Flask, target: str) -> None:
    client = app.test_client()
    signed = client.post("/login", data={"username": "archie", "password": "correct horse battery", "next": target,
                                         "csrf_token": csrf_token(client)})  # fmt: skip
    switched = app.test_client().get("/lang/en", query_string={"next": target})
    for response in (signed, switched):
        location = response.headers["Location"]
        assert response.status_code == 302 and re.match(r"^/(?![/\\])", location), location
        assert "evil" not in location.split("?")[0].lstrip("/").split("/")[0]


def test_security_headers_on_every_page(app: Flask) -> None:
    client = signed_in(app, "archie")
    missing = []
    for rule, _ in _rules(app, {"GET"}):
        if rule.endpoint == "auth.logout":
            continue
        response = client.get(_url(rule, app.sample_ids["contract"]))
        headers = response.headers
        csp = headers.get("Content-Security-Policy", "")
        problems = [name for name, ok in (
            ("frame-ancestors", "frame-ancestors" in csp), ("nosniff", headers.get("X-Content-Type-Options") == "nosniff"),
            ("Referrer-Policy", bool(headers.get("Referrer-Policy"))), ("Permissions-Policy", bool(headers.get("Permissions-Policy"))),
            ("no HSTS over plain HTTP", "Strict-Transport-Security" not in headers),
        ) if not ok]  # fmt: skip
        if problems:
            missing.append(f"{rule.rule} ({response.status_code}): {', '.join(problems)}")
    assert missing == []
    secure = client.get("/search", base_url="https://archive.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_hostile_attachment_and_export_names_cannot_traverse(app: Flask) -> None:
    """Download names come from the sender: the Content-Disposition and the zip entries keep no
    directory part, drive letter or ``..``."""
    from server.indexing.pipeline import Ingestor
    from tests.support.mail import make_mail

    svc = services_of(app)
    raw = make_mail(subject="../../../etc/cron.d/x", attachments=[("../../.ssh/authorized_keys", b"k", "text/plain"),
                    ("..\\..\\Windows\\win.ini", b"w", "text/plain"), ("C:\\boot.ini", b"b", "text/plain")])  # fmt: skip
    mid = Ingestor(svc.store, svc.config).ingest(raw, source="import").id
    svc.store.refresh()
    client = signed_in(app, "archie")
    for index in range(3):
        disposition = client.get(f"/messages/{mid}/attachments/{index}").headers["Content-Disposition"]
        names = re.findall(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)', disposition)
        assert names and all("/" not in n and "\\" not in n and "%2F" not in n.upper() and "%5C" not in n.upper()
                             and not n.startswith(".") for n in names), disposition  # fmt: skip
    response = app.test_client().post("/api/v1/messages/export", json={"ids": [mid]}, headers=api_token(app, "archie"))
    assert response.status_code == 200, response.status_code
    for name in zipfile.ZipFile(BytesIO(response.data)).namelist():
        assert not name.startswith(("/", "\\")) and ".." not in re.split(r"[/\\]", name) and ":" not in name, name

