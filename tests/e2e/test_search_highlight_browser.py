"""Why a result matched, in a real browser (Debian's Chromium via Playwright) against the web
service as ``mailarchive serve`` runs it: fragments under the subject in the result list, marks in
the opened message (text body, HTML body in its sandboxed frame, attachment names), the keyword
syntax help and its errors.

Screenshots at 1366x900 are written to ``test-artifacts/screenshots/`` (or
``$MAILARCHIVE_TEST_ARTIFACTS``, see tests/support/browser.py) for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from server.config import load_config
from server.web.context import services_of
from server.web.service import start as start_web
from tests.support.browser import (  # noqa: F401 - fixtures
    browser_fixture,
    new_page,
    open_full_page,
    playwright_or_skip,
    screenshot,
    sign_in,
)
from tests.support.webdata import PASSWORD, WHEN, load_samples

pytestmark = pytest.mark.e2e
playwright_or_skip()
RANGE = {"from": (WHEN - timedelta(days=30)).date().isoformat(), "to": (WHEN + timedelta(days=3)).date().isoformat()}


@dataclass
class Server:
    url: str
    ids: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    config = load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=tmp_path_factory.mktemp("hl") / "data", web_port=0)
    web = start_web(config)
    try:
        svc = services_of(web.app)
        ids = load_samples(svc.store, config, names=("contract", "report", "hostile"))
        svc.users.add("archie", "archive-admin", PASSWORD)
        yield Server(web.url.removesuffix("/login"), ids)
    finally:
        web.stop()


@pytest.fixture
def page(server: Server, browser) -> Iterator:  # noqa: ANN001
    """A 1366x900 page signed in as the archive administrator."""
    page = new_page(browser)
    sign_in(page, server.url, "archie")
    yield page
    page.context.close()


def search(page, server: Server, keyword: str) -> None:  # noqa: ANN001
    page.goto(server.url + "/search?" + urlencode(RANGE))
    if not page.locator("#f-keyword").is_visible():  # criteria collapsed above the results of that range
        page.click("#criteria > summary")
    page.fill("#f-keyword", keyword)
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#result-total, .field-error")


def test_the_list_shows_why_each_result_matched_and_the_view_marks_it(page, server: Server) -> None:  # noqa: ANN001
    search(page, server, "合同 OR quarterly -价格")
    rows = page.locator(".results-table tbody tr")
    assert rows.count() == 2
    contract = rows.filter(has_text="季度合同审核")
    assert contract.locator("td.subject a mark").all_inner_texts() == ["合同"]
    assert contract.locator(".body-match").inner_text() == "请审核附件中的合同条款。"
    assert contract.locator(".body-match mark").all_inner_texts() == ["合同"]
    assert contract.locator(".attachment-match mark").all_inner_texts() == ["合同"]
    report = rows.filter(has_text="Quarterly report")
    assert report.locator("mark").all_inner_texts() == ["Quarterly", "quarterly"]  # subject, then the body fragment
    assert "价格" not in page.inner_text(".results-table")  # excluded: never shown as a match
    assert screenshot(page, "search-highlight-list-1366").stat().st_size > 10_000

    open_full_page(page, contract.locator("td.subject a.open"))
    page.wait_for_selector("#download-eml")
    assert page.locator("#message-text mark").all_inner_texts() == ["合同"]
    assert page.locator(".attachments mark").all_inner_texts() == ["合同"]
    assert page.locator(".headers mark").all_inner_texts() == ["合同"]  # subject searched too (default scope)
    screenshot(page, "search-highlight-message-1366")


def test_the_html_body_is_marked_inside_its_sandboxed_frame(page, server: Server) -> None:  # noqa: ANN001
    search(page, server, "newsletter")
    open_full_page(page, page.locator(".results-table tbody td.subject a.open").first)
    page.wait_for_selector("#message-body")
    assert page.locator(".headers mark").all_inner_texts() == ["Newsletter"]
    # the indexed text is the plain part; a word of the HTML part is marked there when the link carries it
    assert "keyword=newsletter" in page.url
    page.goto(page.url.replace("keyword=newsletter", "keyword=archive"))
    frame = page.wait_for_selector("#message-body").content_frame()
    frame.wait_for_load_state("load")
    assert [m.inner_text() for m in frame.query_selector_all("mark")] == ["archive"]
    assert "Hello from the archive" in frame.inner_text("body")
    screenshot(page, "search-highlight-html-message-1366")


def test_syntax_help_and_a_clear_error_next_to_the_field(page, server: Server) -> None:  # noqa: ANN001
    page.goto(server.url + "/search")
    assert not page.locator("#keyword-help table").is_visible()
    page.click("#keyword-help summary")
    assert page.locator("#keyword-help table").is_visible()
    assert "at least 3 letters or digits" in page.inner_text("#keyword-help")
    screenshot(page, "search-keyword-help-1366")
    search(page, server, "invoice OR")
    assert "'OR' needs a word, phrase or group on both sides" in page.inner_text("#keyword-error")
    assert page.get_attribute("#f-keyword", "aria-invalid") == "true"
    assert page.locator("#result-total").count() == 0
