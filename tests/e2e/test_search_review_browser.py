"""Reviewing search results at speed, in a real browser (Debian's Chromium via Playwright) against
the web service as ``mailarchive serve`` runs it, on 64 messages ingested through the real
pipeline, in the archive time zone Asia/Shanghai: the compact list (12+ rows on 1366x900, criteria
collapsed to one line), sorting, page x of y with previous / next and the page size, keyboard
review with the preview pane, time presets bounded by the archive, every form error at once in
both languages, and the small-screen frame (menu button, cards, skip link, labels, favicon,
plurals). Screenshots at 1366x900 and 390x844 go to test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from server.config import load_config
from server.indexing.pipeline import Ingestor, RawItem
from server.web.context import services_of
from server.web.service import start as start_web
from tests.support.browser import (  # noqa: F401 - fixtures
    DESKTOP,
    PHONE,
    browser_fixture,
    horizontal_overflow,
    playwright_or_skip,
    screenshot,
    signed_in_page,
)
from tests.support.mail import make_mail
from tests.support.web import PASSWORD

pytestmark = pytest.mark.e2e
sync_api = playwright_or_skip()
NOW = datetime.now(UTC).replace(microsecond=0)
OLDEST = NOW - timedelta(days=400)
LONG_SUBJECT = "Quarterly reconciliation of the intercompany settlement accounts " * 4
COUNT = 64


@dataclass
class Server:
    url: str
    ids: dict[str, str]


def _mails() -> list[bytes]:
    names = ["王芳", "Alice Wong", "Bob Martin", ""]
    out = []
    for n in range(COUNT - 2):
        name = names[n % 4]
        address = f"user{n % 7}@corp.example"
        sender = f"{name} <{address}>" if name else address
        out.append(make_mail(subject=f"Budget review {n:02d}", sender=sender, to=[f"team{n % 5}@corp.example"],
                             body="budget line\n" + "padding " * (n * 37), date=NOW - timedelta(hours=3 * n + 1)))  # fmt: skip
    out.append(make_mail(subject=LONG_SUBJECT, sender="Very Long Display Name Of A Sender <a.very.long.address.of.somebody@subsidiary.corp.example>",
                         to=["x@corp.example"], date=NOW - timedelta(minutes=30)))  # fmt: skip
    out.append(make_mail(subject="The oldest one", sender="old@corp.example", date=OLDEST))
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("review")
    config = load_config(env={"MAILARCHIVE_CONFIG": "none", "MAILARCHIVE_TIMEZONE": "Asia/Shanghai"},
                         data_dir=root / "data", web_port=0)  # fmt: skip
    web = start_web(config)
    try:
        svc = services_of(web.app)
        outcomes = list(Ingestor(svc.store, config).ingest_many([RawItem(m) for m in _mails()]))
        assert [o.status for o in outcomes].count("archived") == COUNT
        svc.store.refresh()
        svc.users.add("archie", "archive-admin", PASSWORD)
        yield Server(web.url.removesuffix("/login"), {})
    finally:
        web.stop()


@pytest.fixture
def desk(browser, server: Server) -> Iterator:  # noqa: ANN001
    with signed_in_page(browser, server.url, "archie", DESKTOP) as page:
        yield page


@pytest.fixture
def phone(browser, server: Server) -> Iterator:  # noqa: ANN001
    with signed_in_page(browser, server.url, "archie", PHONE) as page:
        yield page


def week(server: Server, **more: str) -> str:
    today = NOW.date()
    return server.url + "/search?" + urlencode({"from": (today - timedelta(days=30)).isoformat(),
                                                "to": (today + timedelta(days=1)).isoformat(), **more})  # fmt: skip


def ids_on_page(page) -> list[str]:  # noqa: ANN001
    return page.eval_on_selector_all("#results tbody tr", "rows => rows.map(r => r.dataset.id)")


def test_the_list_fits_twelve_rows_with_criteria_collapsed_to_one_line(desk, phone, server: Server) -> None:  # noqa: ANN001
    desk.goto(server.url + "/search")
    assert desk.locator("#criteria").get_attribute("open") is not None  # a fresh page: the form is open
    desk.fill("#f-keyword", "budget")
    desk.click("#search-form button[type=submit]")
    desk.wait_for_selector("#result-total")
    assert desk.locator("#criteria").get_attribute("open") is None  # collapsed after a search
    summary = desk.inner_text("#criteria-summary")
    assert "Keyword: budget" in summary and "Time range:" in summary
    visible = desk.evaluate("""() => [...document.querySelectorAll('#results tbody tr')]
        .filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length""")
    assert visible >= 12, visible
    assert horizontal_overflow(desk) is None
    row = desk.locator("#results tbody tr").filter(has_text="Alice Wong").first
    assert row.locator(".party .name").inner_text() == "Alice Wong"
    assert row.locator(".party .addr").inner_text().endswith("@corp.example")
    screenshot(desk, "search-review-list-1366", full_page=False)
    desk.click("#criteria > summary")
    assert desk.locator("#search-form").is_visible()

    desk.goto(week(server))
    long_cell = desk.locator("#results tbody tr").filter(has_text="intercompany").locator("td.subject")
    assert long_cell.evaluate("td => td.querySelector('.subject-line').scrollWidth > td.clientWidth")  # ellipsis, no wrap
    heights = desk.eval_on_selector_all("#results tbody tr", "rows => rows.map(r => r.getBoundingClientRect().height)")
    assert max(heights) < 40, max(heights)  # one line each: no mid-word wraps anywhere
    assert horizontal_overflow(desk) is None

    phone.goto(week(server, keyword="budget"))
    assert horizontal_overflow(phone) is None
    first = phone.locator("#results tbody tr").first.bounding_box()
    assert first["width"] <= PHONE["width"]
    screenshot(phone, "search-review-list-390", full_page=False)


def test_sorting_page_x_of_y_previous_next_and_page_size(desk, server: Server) -> None:  # noqa: ANN001
    desk.goto(week(server, keyword="budget"))
    assert "62 messages found" in desk.inner_text("#result-total")
    desk.select_option("#f-limit", "25")
    desk.wait_for_url("**limit=25**")
    assert desk.inner_text("#page-position") == "Page 1 of 3"
    first_page = ids_on_page(desk)
    assert len(first_page) == 25
    desk.click("#next-page")
    assert desk.inner_text("#page-position") == "Page 2 of 3"
    second_page = ids_on_page(desk)
    desk.click("#next-page")
    assert desk.inner_text("#page-position") == "Page 3 of 3" and len(ids_on_page(desk)) == 12
    assert desk.locator("#next-page").count() == 0
    desk.click("#previous-page")
    assert desk.inner_text("#page-position") == "Page 2 of 3" and ids_on_page(desk) == second_page
    desk.click("#previous-page")
    assert desk.inner_text("#page-position") == "Page 1 of 3" and ids_on_page(desk) == first_page

    desk.click("#results th.num .sort-link")  # Size: largest first
    assert desk.get_attribute("#results th.num", "aria-sort") == "descending"
    sizes = desk.eval_on_selector_all("#results tbody td.size", "cells => cells.map(c => c.textContent.trim())")
    assert "Budget review 61" in desk.locator("#results tbody tr").first.inner_text()
    desk.click("#results th.num .sort-link")
    assert desk.get_attribute("#results th.num", "aria-sort") == "ascending"
    assert "Budget review 00" in desk.locator("#results tbody tr").first.inner_text()
    desk.click("#next-page")
    assert desk.inner_text("#page-position") == "Page 2 of 3"
    assert desk.locator("#results tbody tr").first.inner_text().count("Budget review 25") == 1
    desk.select_option("#f-sort", "date")  # oldest first
    desk.wait_for_url("**sort=date**")
    assert "Budget review 61" in desk.locator("#results tbody tr").first.inner_text()
    assert sizes  # the size column was read
    screenshot(desk, "search-review-sorted-1366", full_page=False)


def test_keyboard_review_with_the_preview_pane(desk, server: Server) -> None:  # noqa: ANN001
    desk.goto(week(server, keyword="budget", limit="50"))
    rows = desk.locator("#results tbody tr")
    desk.keyboard.press("j")
    desk.keyboard.press("j")
    desk.keyboard.press("ArrowDown")
    desk.keyboard.press("k")
    assert rows.nth(1).get_attribute("class") == "focused"
    desk.keyboard.press("x")
    assert rows.nth(1).locator("input[type=checkbox]").is_checked()
    sync_api.expect(desk.locator("#selection-count")).to_have_text("1 selected")  # filled by selection.js
    assert rows.nth(1).locator("input[type=checkbox]").get_attribute("aria-label") == "Select: Budget review 01"
    desk.keyboard.press("Enter")
    pane = desk.locator("#preview-pane")
    assert pane.is_visible()
    frame = desk.frame_locator("#preview-frame")
    assert frame.locator("h1, .headers").first.inner_text()  # the message page, without the console's frame
    frame.locator("text=Budget review 01").first.wait_for()
    assert frame.locator("nav.sidenav").count() == 0
    assert desk.locator("#results").is_visible()  # the list stays beside it
    cut = desk.eval_on_selector_all("#results td.date", "cells => cells.filter(c => c.scrollWidth > c.clientWidth).length")
    assert cut == 0, desk.eval_on_selector("#results td.date", "c => [c.scrollWidth, c.clientWidth]")  # every time shown whole
    screenshot(desk, "search-review-pane-1366", full_page=False)
    desk.keyboard.press("j")  # the pane follows the focus row
    frame.locator("text=Budget review 02").first.wait_for()
    assert rows.nth(1).locator("input[type=checkbox]").is_checked()  # the selection is kept
    rows.nth(5).locator("td.subject a").click()  # a click opens in the pane too, no navigation
    frame.locator("text=Budget review 05").first.wait_for()
    assert "/search" in desk.url
    desk.keyboard.press("Escape")
    assert not pane.is_visible()


def test_a_narrow_window_opens_the_message_as_a_page(browser, server: Server) -> None:  # noqa: ANN001
    with signed_in_page(browser, server.url, "archie", {"width": 1000, "height": 800}) as page:
        page.goto(week(server, keyword="budget"))
        page.keyboard.press("j")
        page.keyboard.press("Enter")
        page.wait_for_url("**/messages/**")
        assert "Budget review 00" in page.inner_text("main")


def test_time_presets_are_bounded_by_the_archive_and_dates_carry_the_zone(desk, server: Server) -> None:  # noqa: ANN001
    desk.goto(server.url + "/search")
    labels = [t.strip() for t in desk.locator(".quick-pick").all_inner_texts()]
    assert labels == ["Today", "Last 7 days", "Last 30 days", "Last 365 days", "All time"]
    zone_today = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).date()
    oldest = OLDEST.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).date().isoformat()
    assert f"mail dated {oldest} to" in desk.inner_text("#archive-span")
    assert "Asia/Shanghai" in desk.inner_text("#time-hint")
    last_365 = desk.locator(".quick-pick[data-days='365']")
    assert last_365.get_attribute("data-from") == (zone_today - timedelta(days=364)).isoformat()
    desk.click(".quick-pick[data-days='0']")  # all time
    desk.wait_for_selector("#result-total")
    assert f"{COUNT} messages found" in desk.inner_text("#result-total")
    assert "from=" + oldest in desk.url
    assert "(Asia/Shanghai)" in desk.inner_text("#results thead")
    screenshot(desk, "search-all-time-1366", full_page=False)


@pytest.mark.parametrize("lang", ["en-US", "zh-CN"])
def test_every_error_of_one_submit_is_shown_beside_its_field(browser, server: Server, lang: str) -> None:  # noqa: ANN001
    with signed_in_page(browser, server.url, "archie", DESKTOP, lang) as page:
        page.goto(server.url + "/search")
        page.fill("#f-from", "2026-13-45")
        page.fill("#f-to", "yesterday")
        page.fill("#f-sender", "not an address")
        page.fill("#f-keyword", "invoice OR")
        page.click("#search-form button[type=submit]")
        page.wait_for_selector(".field-error")
        errors = {e.get_attribute("id"): e.inner_text() for e in page.locator(".field-error").all()}
        assert set(errors) == {"from-error", "to-error", "sender-error", "keyword-error"}, errors
        for name in ("from", "to", "sender", "keyword"):
            assert page.get_attribute(f"#f-{name}", "aria-invalid") == "true"
        if lang == "en-US":
            assert "Enter the date as YYYY-MM-DD" in errors["from-error"]
            assert "4 fields need attention" in page.inner_text("#form-errors")
        else:
            assert "请按 YYYY-MM-DD 格式填写日期" in errors["from-error"]
            assert "发件人" in page.inner_text("label[for=f-sender]") and "完整的邮件地址" in errors["sender-error"]
            assert "4 个字段需要修改" in page.inner_text("#form-errors")
        screenshot(page, f"search-errors-{lang}-1366")
        page.fill("#f-from", "2026-02-01")
        page.fill("#f-to", "2026-01-01")
        page.fill("#f-sender", "")
        page.fill("#f-keyword", "")
        page.click("#search-form button[type=submit]")
        page.wait_for_selector("#from-error")
        assert "2026-02-01" in page.inner_text("#from-error") and "2026-01-01" in page.inner_text("#from-error")


def test_small_screens_menu_button_cards_skip_link_favicon_and_plurals(phone, server: Server) -> None:  # noqa: ANN001
    phone.goto(week(server, keyword='"The oldest one" OR intercompany'))
    assert not phone.locator("nav.sidenav").is_visible()
    phone.click("#menu-button")
    assert phone.locator("nav.sidenav").is_visible() and phone.get_attribute("#menu-button", "aria-expanded") == "true"
    screenshot(phone, "search-menu-open-390", full_page=False)
    phone.keyboard.press("Escape")
    assert not phone.locator("nav.sidenav").is_visible()
    assert "1 message found" in phone.inner_text("#result-total")  # the oldest is outside this range
    phone.reload()
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.className") == "skip-link"
    assert phone.locator(".skip-link").is_visible()
    phone.keyboard.press("Enter")
    assert phone.evaluate("document.activeElement.id") == "main"
    response = phone.request.get(server.url + "/favicon.ico")
    assert response.status == 200 and response.headers["content-type"].startswith("image/")
    assert horizontal_overflow(phone) is None
