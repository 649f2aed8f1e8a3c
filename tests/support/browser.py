"""The shared Playwright set-up of the browser tests: Debian's Chromium, one browser per module, a
fresh context per test, sign-in, screenshots kept as test artifacts and the layout checks every page
must pass.

Usage in a test module::

    from tests.support.browser import browser_fixture, page_fixture, playwright_or_skip, screenshot, sign_in

    sync_api = playwright_or_skip()   # skips the module when Chromium or Playwright is missing

``make test`` installs Chromium (``chromium`` Debian package) and the fonts (``fonts-noto-cjk``, so
Chinese renders in screenshots instead of boxes); only Chromium's absence skips these tests.
Screenshots go to ``test-artifacts/screenshots/`` (git-ignored) or ``$MAILARCHIVE_TEST_ARTIFACTS``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urljoin

import pytest

from tests.support.web import PASSWORD

CHROMIUM = shutil.which("chromium")
ARTIFACTS = Path(os.environ.get("MAILARCHIVE_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts")
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = {"1366": DESKTOP, "390": PHONE}
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def playwright_or_skip() -> ModuleType:
    """``playwright.sync_api``; skips the calling test module (at import) without Chromium or Playwright."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make test installs it: apt-get install chromium)",
                    allow_module_level=True)
    return pytest.importorskip("playwright.sync_api", reason="the playwright package comes with '.[test]'")


@pytest.fixture(name="browser", scope="module")
def browser_fixture() -> Iterator[Any]:
    """One Chromium per test module: launching it costs a second or two on a loaded machine."""
    sync_api = playwright_or_skip()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(name="page")
def page_fixture(browser: Any) -> Iterator[Any]:
    """A page in a fresh context (no cookies from another test) at 1366x900, English, downloads on."""
    context = browser.new_context(locale="en-US", viewport=DESKTOP, accept_downloads=True)
    yield context.new_page()
    context.close()


def new_page(browser: Any, viewport: dict[str, int] = DESKTOP, locale: str = "en-US") -> Any:
    """A page in its own context, for tests that need another size or language; close its ``context``."""
    return browser.new_context(locale=locale, viewport=viewport, accept_downloads=True).new_page()


def sign_in(page: Any, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form as a person would; waits for the console's navigation."""
    page.goto(base_url.removesuffix("/login") + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("nav.sidenav", state="attached")  # folded away on small screens


def screenshot(page: Any, name: str, full_page: bool = True) -> Path:
    """Save a screenshot for a person to look at; returns its path (``ARTIFACTS/screenshots/NAME.png``)."""
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    return path


def horizontal_overflow(page: Any) -> dict[str, Any] | None:
    """None when the page fits its viewport's width; otherwise the widths and the widest offenders,
    so a failing assertion names what sticks out."""
    return page.evaluate("""() => {
        const root = document.scrollingElement, width = window.innerWidth;
        if (root.scrollWidth <= width) return null;
        const wide = [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 1)
            .slice(0, 5).map(e => `${e.tagName.toLowerCase()}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`);
        return {scrollWidth: root.scrollWidth, innerWidth: width, wide};
    }""")


def open_full_page(page: Any, link: Any) -> None:
    """Follow a result's link as a full page (on wide screens a click opens the preview pane)."""
    page.goto(urljoin(page.url, link.get_attribute("href")))


@contextmanager
def signed_in_page(browser: Any, base_url: str, username: str, viewport: dict[str, int] = DESKTOP,
                   locale: str = "en-US") -> Iterator[Any]:  # fmt: skip
    """A page of its own context at ``viewport``, signed in as ``username``; closed afterwards."""
    page = new_page(browser, viewport, locale)
    try:
        sign_in(page, base_url, username)
        yield page
    finally:
        page.context.close()
