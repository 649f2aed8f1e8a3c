"""Building blocks for web tests: a real app on a real SQLite store in the test's data dir.

Usage (each test module defines its own small fixtures, Flask-tutorial style)::

    @pytest.fixture
    def app(config):
        app = make_app(config)
        yield app
        close_app(app)

    def test_x(app):
        client = app.test_client()
        login(client, "alice", add_user(app, "alice", Role.ARCHIVE_ADMIN))
"""

from __future__ import annotations

import re
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
