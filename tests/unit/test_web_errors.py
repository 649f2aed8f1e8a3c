"""Error format (JSON under /api/, a page elsewhere) and the health endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from server.users import Role
from server.web.context import services_of
from tests.support.web import api_token, running_app, signed_in


@pytest.fixture
def app(config) -> Iterator[Flask]:
    with running_app(config, {"eve": Role.EMAIL_ADMIN}) as app:
        yield app


def test_api_errors_are_json(app: Flask) -> None:
    client, headers = app.test_client(), api_token(app, "eve")
    missing = client.get("/api/v1/nothing-here", headers=headers)
    assert missing.status_code == 404 and set(missing.json) == {"error"}
    wrong_method = client.delete("/api/v1/summary", headers=headers)
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"] and "error" in wrong_method.json
    forbidden = client.get("/api/v1/summary", headers=headers)
    assert forbidden.status_code == 403 and forbidden.is_json and forbidden.json["error"]
    anonymous = client.get("/api/v1/summary")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")


def test_pages_get_a_friendly_page(app: Flask) -> None:
    client = signed_in(app, "eve")
    page = client.get("/archiving/summary")
    assert page.status_code == 403 and page.mimetype == "text/html"
    assert "Your role does not allow this page." in page.get_data(as_text=True)
    assert client.get("/no/such/page").status_code == 404


def test_health_and_readiness(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    checks = {c["name"]: c["ok"] for c in client.get("/readyz").json["checks"]}
    assert checks["store"] is True  # Redis and the spool belong to serve/worker, not this bare app
    services_of(app).store.close()
    broken = client.get("/readyz")
    assert broken.status_code == 503 and broken.json["status"] == "unavailable"
    assert {c["name"]: c["ok"] for c in broken.json["checks"]}["store"] is False
    assert client.get("/healthz").status_code == 200
