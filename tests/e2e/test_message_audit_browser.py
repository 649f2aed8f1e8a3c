"""Hard mail and the Archive Log Query page in a real browser (Debian's Chromium via Playwright)
against the web service as ``mailarchive serve`` runs it (issue 16 items 5, 6 and 8).

Real-world mail from the shared corpus (a bounce with its delivery report, an Outlook .msg saved as
.eml, a message with a broken MIME structure) plus a headerless fragment and Chinese mail; every
page is checked for horizontal overflow at 1366x900 and 390x844 and screenshotted for a person
to look at (``test-artifacts/screenshots/message-*.png``, ``audit-*.png``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from server.audit.operations import Op
from server.config import load_config
from server.indexing.pipeline import Ingestor
from server.store.protocol import AuditQuery
from server.web.context import services_of
from server.web.service import start as start_web
from tests.support.browser import (
    SIZES,
    browser_fixture,  # noqa: F401 - fixture
    horizontal_overflow,
    new_page,
    page_fixture,  # noqa: F401 - fixture
    playwright_or_skip,
    screenshot,
    sign_in,
)
from tests.support.web import PASSWORD
from tests.support.webdata import WHEN, load_samples

pytestmark = pytest.mark.e2e
sync_api = playwright_or_skip()
CORPUS_MAIL = {
    "bounce": "flanker/bounce/mailbox-full.eml",
    "outlook": "spamscope-mail-parser/mail_outlook_1.eml",
    "broken": "enmime/mail/multipart-wo-boundary.eml",
}
FRAGMENT = b"Minutes of the pricing call, forwarded without headers.\nAction items follow.\n"


@dataclass
class Server:
    url: str
    ids: dict[str, str]
    app: Any


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Iterator[Server]:
    config = load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=tmp_path_factory.mktemp("mv") / "data", web_port=0)
    web = start_web(config)
    try:
        svc = services_of(web.app)
        ids = load_samples(svc.store, config, names=("contract", "hostile"))
        ingestor = Ingestor(svc.store, config)
        for name, path in CORPUS_MAIL.items():
            ids[name] = ingestor.ingest((corpus_dir / path).read_bytes(), source="import").id
        ids["fragment"] = ingestor.ingest(FRAGMENT, source="import").id
        svc.store.refresh()
        svc.users.add("archie", "archive-admin", PASSWORD)
        yield Server(web.url.removesuffix("/login"), ids, web.app)
    finally:
        web.stop()


@contextmanager
def signed_in_page(browser: Any, server: Server, size: str, locale: str = "en-US") -> Iterator[Any]:
    """A page of its own context at one of ``SIZES``, signed in as the archive administrator."""
    page = new_page(browser, SIZES[size], locale=locale)
    try:
        sign_in(page, server.url, "archie")
        yield page
    finally:
        page.context.close()


def _fits(page: Any, name: str) -> None:
    """No horizontal overflow; a full-page screenshot, and the first screen as a person sees it."""
    screenshot(page, f"{name}-screen", full_page=False)
    shot = screenshot(page, name)
    assert horizontal_overflow(page) is None, (name, horizontal_overflow(page), shot)


@pytest.mark.parametrize("size", SIZES)
def test_a_bounce_shows_its_delivery_report_and_flags(browser: Any, server: Server, size: str) -> None:
    with signed_in_page(browser, server, size) as page:
        page.goto(f"{server.url}/messages/{server.ids['bounce']}")
        summary = page.locator("#dsn-summary")
        assert summary.is_visible()
        text = summary.inner_text()
        assert "user@aol.com" in text and "Failed" in text and "5.2.2" in text and "Mailbox full" in text
        assert page.locator("#message-badges [data-flag=bounce]").inner_text().strip().endswith("Bounce")
        _fits(page, f"message-bounce-{size}")


@pytest.mark.parametrize("size", SIZES)
def test_hard_mail_gets_notices_and_problems_in_words(browser: Any, server: Server, size: str) -> None:
    with signed_in_page(browser, server, size) as page:
        page.goto(f"{server.url}/messages/{server.ids['outlook']}")
        assert "Outlook item (.msg file)" in page.inner_text("#empty-body")
        assert "Outlook .msg item" in page.inner_text("h1")
        _fits(page, f"message-outlook-msg-{size}")
        page.goto(f"{server.url}/messages/{server.ids['broken']}")
        assert "claims to be multipart but has no parts" in page.inner_text("#parse-problems")
        _fits(page, f"message-parse-problems-{size}")
        page.goto(f"{server.url}/messages/{server.ids['fragment']}")
        assert page.inner_text("h1").startswith("(no headers) Minutes of the pricing call")
        _fits(page, f"message-fragment-{size}")


@pytest.mark.parametrize("size", SIZES)
def test_source_view_is_text_with_a_way_back(browser: Any, server: Server, size: str) -> None:
    with signed_in_page(browser, server, size) as page:
        page.goto(f"{server.url}/messages/{server.ids['hostile']}")
        page.click("#view-source")
        page.wait_for_selector("#source-text")
        source = page.inner_text("#source-text")
        assert "Subject: Newsletter with tricks" in source and "<script" in source  # shown, as text
        assert page.evaluate("() => document.querySelectorAll('script, iframe, img').length") == 0
        _fits(page, f"message-source-{size}")
        page.click("#back-to-message")
        page.wait_for_selector("#download-eml")


def test_result_rows_carry_badges_and_fragment_labels(page: Any, server: Server) -> None:
    sign_in(page, server.url, "archie")
    page.goto(f"{server.url}/search?from=1990-01-01&to={(WHEN + timedelta(days=3)).date().isoformat()}")
    rows = page.locator(".results-table tbody tr")
    texts = rows.all_inner_texts()
    assert any("(no headers) Minutes of the pricing call" in t for t in texts)
    assert any("Bounce" in t for t in texts) and any("parse problem" in t for t in texts)
    _fits(page, "message-result-badges-1366")


@pytest.mark.parametrize("size", SIZES)
def test_archive_log_page_one_view_entry_readable_details(browser: Any, server: Server, size: str) -> None:
    with signed_in_page(browser, server, size, locale="zh-CN") as page:  # the browser asks for Chinese
        for name in ("hostile", "contract"):
            before = _views(server, server.ids[name])
            page.goto(f"{server.url}/messages/{server.ids[name]}")
            if name == "hostile":
                page.wait_for_selector("#message-body").content_frame().wait_for_load_state("load")
            assert _views(server, server.ids[name]) == before + 1  # the page and its body frame: one entry
        page.goto(f"{server.url}/audit")
        assert page.locator("#audit-quick-picks a").count() == 3
        page.fill("input[name=from]", "1990-01-01")
        page.select_option("#audit-operation", Op.MESSAGE_VIEW.value)
        page.click("#audit-form button[type=submit]")
        page.wait_for_selector("#audit-table")
        assert "第 1 页，共 1 页" in page.inner_text("#page-of") and "查看邮件" in page.inner_text("#audit-table")
        subject = page.locator("#audit-table dd", has_text="季度合同审核").first
        box = subject.bounding_box()
        assert box and box["height"] < 3 * 22, box  # Chinese wraps as words do, never one character a line
        assert "{" not in page.inner_text("#audit-table")
        _fits(page, f"audit-log-zh-{size}")


def test_archive_log_page_in_english_at_desktop_width(page: Any, server: Server) -> None:
    sign_in(page, server.url, "archie")
    page.goto(f"{server.url}/messages/{server.ids['contract']}")
    page.goto(f"{server.url}/audit?from=1990-01-01&to=2100-01-01&limit=3")
    assert "Page 1 of" in page.inner_text("#page-of")
    page.click("#next-page")
    assert page.inner_text("#page-of").startswith("Page 2 of")
    page.click("#prev-page")
    assert page.inner_text("#page-of").startswith("Page 1 of")
    box = page.locator("#audit-table th").last.bounding_box()
    assert box and box["x"] + box["width"] <= 1366, box  # the Result column is on screen
    _fits(page, "audit-log-en-1366")


def _views(server: Server, message_id: str) -> int:
    store = services_of(server.app).store
    query = AuditQuery(start=WHEN - timedelta(days=400), end=WHEN + timedelta(days=400), operation=Op.MESSAGE_VIEW,
                       keyword=message_id)  # fmt: skip
    return store.audit_query(query)[0]
