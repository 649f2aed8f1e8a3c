"""The console's frame in a real browser (Debian's Chromium via Playwright) against ``mailarchive
serve``'s web service: sign-in, menus by role, the archiving switch with its confirmation, the
language switch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.archiving import switch_state
from server.config import Config, with_overrides
from server.web.context import services_of
from server.web.service import WebService
from tests.support.browser import browser_fixture, page_fixture, playwright_or_skip  # noqa: F401 - fixtures
from tests.support.browser import sign_in as browser_sign_in
from tests.support.web import PASSWORD

pytestmark = pytest.mark.e2e
playwright_or_skip()


@pytest.fixture
def service(config: Config) -> Iterator[WebService]:
    service = WebService(with_overrides(config, web_port=0)).start()
    users = services_of(service.app).users
    users.add("alice", "archive-admin", PASSWORD)
    users.set_password("postmaster", PASSWORD)  # created by the first start
    yield service
    service.stop()


def sign_in(page, service: WebService, username: str) -> None:  # noqa: ANN001
    browser_sign_in(page, service.url, username)


def menu(page) -> list[str]:  # noqa: ANN001
    return [text.strip() for text in page.locator(".sidenav a").all_inner_texts()]


def test_archive_admin_enables_archiving_after_confirming(page, service: WebService) -> None:  # noqa: ANN001
    sign_in(page, service, "alice")
    assert {"Archive Mail Management", "Archive summary"} <= set(menu(page))
    page.click("text=Archive Mail Management")
    page.click("text=Enable archiving")
    assert "will be archived" in page.inner_text("main")
    page.click("text=Yes, enable archiving")
    assert "Archiving is now enabled." in page.inner_text(".flash")
    assert switch_state(services_of(service.app).store)["enabled"] is True
    page.click("text=简体中文")
    assert page.inner_text("h1") == "归档邮件管理"
    page.click(".topbar button[type=submit]")  # sign out
    assert page.url == service.url and "您已退出登录。" in page.inner_text(".flash")


def test_postmaster_sees_no_archive_menu_and_is_refused(page, service: WebService) -> None:  # noqa: ANN001
    sign_in(page, service, "postmaster")
    assert menu(page) == ["Change password"]
    assert "no rights on the mail archive" in page.inner_text("main")
    response = page.goto(service.url.removesuffix("/login") + "/archiving/summary")
    assert response.status == 403 and "Your role does not allow this page." in page.inner_text("main")
