"""Every console page in a real browser (Debian's Chromium via Playwright) at 1366x900 and 390x844:
nothing sticks out sideways (``document.scrollingElement.scrollWidth <= innerWidth``), the page
loads without a failed request (the favicon included), and a full-page screenshot of each is kept
in test-artifacts/screenshots/ (``page-<name>-<width>.png``) for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from server.config import load_config
from server.web.context import services_of
from server.web.roles import allows
from server.web.service import start as start_web
from tests.support.browser import (  # noqa: F401 - fixtures
    SIZES,
    browser_fixture,
    horizontal_overflow,
    new_page,
    playwright_or_skip,
    screenshot,
    sign_in,
)
from tests.support.web import PASSWORD
from tests.support.webdata import load_samples

pytestmark = pytest.mark.e2e
playwright_or_skip()
# name -> endpoint (and its arguments); "message" is filled in with an archived id
PAGES = {
    "login": ("auth.login", {}),
    "search": ("search.search", {"keyword": "合同 OR quarterly", "from": "2000-01-01", "to": "2099-12-31"}),
    "message": ("message.view", {}),
    "audit-log": ("audit.page", {}),
    "task-center": ("exports.page", {}),
    "ops": ("ops.dashboard", {}),
    "retention": ("retention.settings", {}),
    "holds": ("retention.holds", {}),
    "pop3": ("pop3.page", {}),
    "users": ("admin.users", {}),
    "summary": ("archiving.summary", {}),
    "archiving": ("archiving.manage", {}),
    "password": ("auth.account", {}),
    "api-tokens": ("tokens.page", {}),
}
USERS = {"archie": "archive-admin", "emma": "email-admin"}


@dataclass
class Console:
    url: str
    paths: dict[str, tuple[str, str | None]]  # page name -> (path, user to sign in as; None: nobody)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    config = load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=tmp_path_factory.mktemp("pages") / "data", web_port=0)
    web = start_web(config)
    try:
        svc = services_of(web.app)
        ids = load_samples(svc.store, config)
        for name, role in USERS.items():
            svc.users.add(name, role, PASSWORD)
        paths = {}
        with web.app.test_request_context():
            from flask import url_for

            for page, (endpoint, args) in PAGES.items():
                if page == "message":
                    args = {"message_id": ids["contract"]}
                user = None if page == "login" else next((u for u, r in USERS.items() if allows(endpoint, r)), None)
                assert page == "login" or user, f"no test user may open {endpoint}"
                paths[page] = (url_for(endpoint, **args), user)
        yield Console(web.url.removesuffix("/login"), paths)
    finally:
        web.stop()


@pytest.mark.parametrize("width", list(SIZES))
def test_every_console_page_fits_the_screen(browser, console: Console, width: str) -> None:  # noqa: ANN001
    pages = {user: new_page(browser, SIZES[width]) for user in (*USERS, None)}
    try:
        failed: list[str] = []
        for page in pages.values():
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        for user, page in pages.items():
            if user:
                sign_in(page, console.url, user)
        problems = {}
        for name, (path, user) in console.paths.items():
            page = pages[user]
            response = page.goto(console.url + path)
            assert response.status == 200, (name, response.status)
            page.wait_for_load_state("load")
            overflow = horizontal_overflow(page)
            if overflow:
                problems[name] = overflow
            screenshot(page, f"page-{name}-{width}")
        assert problems == {}, problems
        assert failed == [], failed
    finally:
        for page in pages.values():
            page.context.close()
