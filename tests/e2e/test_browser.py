"""The console in a real browser: Debian's Chromium driven by Playwright against a real server.

The server is the web service as ``mailarchive serve`` runs it (waitress) on a free loopback port,
with a temporary data dir; mail reaches it through the real ingestion pipeline. ``make test`` installs
Chromium (``chromium`` Debian package); only its absence skips these tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.config import Config, load_config
from server.indexing.pipeline import Ingestor
from server.store import open_store
from server.web.context import services_of
from server.web.service import start as start_web
from tests.support.browser import browser_fixture, open_full_page, page_fixture, playwright_or_skip  # noqa: F401 - fixtures
from tests.support.browser import sign_in as browser_sign_in
from tests.support.webdata import PASSWORD, load_samples, sample_mail

pytestmark = pytest.mark.e2e
playwright_or_skip()


@dataclass
class Server:
    url: str
    config: Config
    ids: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The web service exactly as ``mailarchive serve`` starts it, on a free loopback port."""
    root = tmp_path_factory.mktemp("browser")
    config = load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=root / "data", web_port=0)
    web = start_web(config)
    try:
        svc = services_of(web.app)
        ids = load_samples(svc.store, config, names=("report", "hostile", "old"))  # "contract" comes by journal
        svc.users.add("archie", "archive-admin", PASSWORD)
        svc.users.set_password("postmaster", PASSWORD)  # created at first start
        yield Server(web.url.removesuffix("/login"), config, ids)
    finally:
        web.stop()


def sign_in(page, server: Server, username: str) -> None:  # noqa: ANN001
    browser_sign_in(page, server.url, username)


def journal(server: Server, name: str) -> str | None:
    """Deliver a sample as journal mail (obeys the archiving switch); returns the archived id."""
    store = open_store(server.config)
    try:
        outcome = Ingestor(store, server.config).ingest(sample_mail()[name], envelope_to=["li.na@corp.example"])
        return outcome.id if outcome.status == "archived" else None
    finally:
        store.close()


def test_archive_admin_enables_archiving_searches_chinese_and_downloads_eml(page, server: Server, tmp_path: Path) -> None:  # noqa: ANN001
    assert journal(server, "contract") is None  # a fresh install does not archive journal mail
    sign_in(page, server, "archie")
    page.click("nav.sidenav >> text=Archive Mail Management")
    page.click("text=Enable archiving")
    page.click("text=Yes, enable archiving")
    page.wait_for_selector(".status-enabled")
    contract_id = journal(server, "contract")
    assert contract_id

    page.click("nav.sidenav >> text=Query Archived Mail")
    page.fill("input[name=keyword]", "合同")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#result-total")
    assert "2 messages found" not in page.inner_text("#result-total")  # the 200-day-old one is out of range
    assert page.inner_text(".results-table tbody mark") == "合同"
    assert "keyword=%E5%90%88%E5%90%8C" in page.url  # the search is a shareable URL

    open_full_page(page, page.locator(".results-table tbody a.open").first)
    page.wait_for_selector("#download-eml")
    assert "季度合同审核 Q3" in page.inner_text("main")
    with page.expect_download() as download_info:
        page.click("#download-eml")
    saved = tmp_path / "download.eml"
    download_info.value.save_as(saved)
    assert saved.read_bytes() == sample_mail()["contract"]
    assert download_info.value.suggested_filename.endswith(".eml")


def test_postmaster_sees_no_archive_menu_and_gets_403(page, server: Server) -> None:  # noqa: ANN001
    sign_in(page, server, "postmaster")
    menu = page.inner_text("nav.sidenav")
    assert "Query Archived Mail" not in menu and "Archive Mail Management" not in menu
    for path in ("/search", f"/messages/{server.ids['report']}", f"/messages/{server.ids['report']}/raw"):
        response = page.goto(server.url + path)
        assert response.status == 403, path
        assert "Quarterly report" not in page.content()


def test_hostile_html_runs_no_script_and_loads_nothing_remote(page, server: Server) -> None:  # noqa: ANN001
    remote, dialogs = [], []
    page.on("request", lambda request: remote.append(request.url) if "tracker.invalid" in request.url else None)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, server, "archie")
    page.goto(f"{server.url}/messages/{server.ids['hostile']}")
    frame_element = page.wait_for_selector("#message-body")
    frame = frame_element.content_frame()
    frame.wait_for_load_state("load")
    assert "Hello from the archive" in frame.inner_text("body")
    assert "pwned" not in page.title() and "pwned" not in frame.title()
    assert frame.query_selector("script") is None and frame.query_selector("[onerror]") is None
    assert frame.eval_on_selector("img[alt=logo]", "img => img.complete && img.naturalWidth") == 1  # cid: image shown
    assert remote == [] and dialogs == []
    page.click("text=Show images")  # only on request: then the tracker is fetched (and fails: .invalid)
    page.wait_for_selector("#message-body")
    page.wait_for_timeout(300)
    assert any("tracker.invalid" in url for url in remote)
