"""Building blocks for web tests: a real app on a real SQLite store in the test's data dir.

Usage (each test module defines its own small fixtures, Flask-tutorial style)::

    @pytest.fixture
    def app(config):
        with running_app(config, {"alice": Role.ARCHIVE_ADMIN}) as app:
            yield app

    def test_x(app):
        client = signed_in(app, "alice")
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from server.config import Config
from server.users import set_password_hasher
from server.web.app import create_app
from server.web.context import services_of

PASSWORD = "correct horse battery"
# Real argon2id at a test cost: the default (~0.3 s per hash on a busy 2-core box) made every login slow.
set_password_hasher(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def make_app(config: Config, **overrides: Any) -> Flask:
    """The console as ``mailarchive serve`` builds it, with ``TESTING`` and any Flask overrides."""
    return create_app(config, {"TESTING": True, **overrides})


def close_app(app: Flask) -> None:
    services_of(app).close()


@contextmanager
def running_app(config: Config, users: Mapping[str, str] | None = None, **overrides: Any) -> Iterator[Flask]:
    """``make_app`` with console users already added (name -> role, password ``PASSWORD``), closed after."""
    app = make_app(config, **overrides)
    try:
        for username, role in (users or {}).items():
            add_user(app, username, role)
        yield app
    finally:
        close_app(app)


def signed_in(app: Flask, username: str, password: str = PASSWORD) -> FlaskClient:
    """A test client with a session of ``username``."""
    client = app.test_client()
    assert login(client, username, password).status_code == 302, f"{username} could not sign in"
    return client


def add_user(app: Flask, username: str, role: str, password: str = PASSWORD) -> str:
    """Create a console user directly in the store; returns the password."""
    services_of(app).users.add(username, role, password)
    return password


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's meta tag as the browser would."""
    match = _CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no csrf-token meta tag on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> TestResponse:
    """Sign in through the login form (CSRF token included); returns the form's response."""
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)})


def api_token(app: Flask, username: str) -> dict[str, str]:
    """``Authorization`` header with a fresh API token of ``username``."""
    return {"Authorization": f"Bearer {services_of(app).users.create_token(username)}"}
