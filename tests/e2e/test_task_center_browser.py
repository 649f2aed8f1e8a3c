"""Export All and the Task Center in a real browser (Debian's Chromium via Playwright) against the
console as ``serve`` runs it, with a real ``mailarchive worker`` on the embedded Redis: the
selection kept across pages, Export All with its count, live progress to "finished", the status
filter and the download of the finished zip."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest

from server.config import Config
from server.export.taskcenter import TaskDocs
from server.jobs.broker import close_all
from server.web.context import services_of
from server.web.service import WebService
from tests.support.browser import browser_fixture, page_fixture, playwright_or_skip, screenshot, sign_in  # noqa: F401 - fixtures
from tests.support.exports import running_worker
from tests.support.web import PASSWORD
from tests.support.webdata import WHEN, load_samples

pytestmark = pytest.mark.e2e
sync_api = playwright_or_skip()
RECENT = {"from": (WHEN - timedelta(days=3)).date().isoformat(), "to": (WHEN + timedelta(days=1)).date().isoformat()}


@pytest.fixture
def service(config: Config) -> Iterator[WebService]:
    service = WebService(config.replace(web=config.web.replace(port=0))).start()
    svc = services_of(service.app)
    svc.users.add("alice", "archive-admin", PASSWORD)
    load_samples(svc.store, config)
    yield service
    service.stop()
    close_all()


def _sign_in(page, service: WebService) -> str:  # noqa: ANN001
    sign_in(page, service.url, "alice")
    return service.url.removesuffix("/login")


def test_selection_is_kept_across_pages_and_counted(page, service: WebService, tmp_path: Path) -> None:  # noqa: ANN001
    base = _sign_in(page, service)
    page.goto(f"{base}/search?" + urlencode({**RECENT, "limit": 2}))
    count, button = page.locator("#selection-count"), page.locator("#export-selected")
    # selection.js fills the count after the page loads: assertions that wait, not one read
    expect = sync_api.expect
    expect(count).to_have_text("0 selected")
    expect(button).to_be_disabled()
    page.locator("#bulk-form input[name=id]").first.check()
    expect(count).to_have_text("1 selected")
    expect(button).to_be_enabled()
    page.click("#next-page")
    expect(count).to_have_text("1 selected")  # kept from page 1
    page.locator("#bulk-form input[name=id]").first.check()
    expect(count).to_have_text("2 selected")
    screenshot(page, "task-center-selection")
    with page.expect_download() as download:
        button.click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert len([n for n in archive.namelist() if n.endswith(".eml")]) == 2  # one from each page
    page.goto(f"{base}/search?" + urlencode({**RECENT, "limit": 2}))
    expect(page.locator("#bulk-form input[name=id]").first).to_be_checked()
    page.click("#selection-clear")
    expect(count).to_have_text("0 selected")
    expect(button).to_be_disabled()


def test_export_all_runs_shows_progress_and_downloads(page, service: WebService, config: Config,  # noqa: ANN001
                                                      tmp_path: Path) -> None:  # fmt: skip
    base = _sign_in(page, service)
    page.goto(f"{base}/search?" + urlencode(RECENT))
    assert page.inner_text("#export-all-submit").strip() == "Export All (3)"
    assert "as a zip of .eml files" in page.inner_text("#export-all-size")
    with running_worker(config, tmp_path / "worker.log") as worker:
        page.click("#export-all-submit")
        assert "Export All started: 3 messages" in page.inner_text(".flash")
        screenshot(page, "task-center-submitted")
        row = page.locator("#task-center tbody tr").first
        try:  # tasks.js refreshes the panel while a task is active
            page.wait_for_selector("#task-center tr[data-status=finished]", timeout=90_000)
        except sync_api.TimeoutError:
            raise AssertionError(worker.output()[-2000:]) from None
    assert "3 / 3 (100 %)" in row.inner_text() and "Finished" in row.inner_text()
    screenshot(page, "task-center-finished")
    [task] = list(TaskDocs(services_of(service.app).store).since(WHEN - timedelta(days=30)))
    with page.expect_download() as download:
        row.locator("text=Download").click()
    data = Path(download.value.path()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == task.sha256 and download.value.suggested_filename.endswith(".zip")
    assert len(zipfile.ZipFile(io.BytesIO(data)).namelist()) == 4
    page.click("#task-center .task-filter >> text=Cancelled")
    page.wait_for_selector("#task-center >> text=No cancelled export tasks in the last 30 days.")
    page.click("#task-center .task-filter >> text=Finished")
    page.wait_for_selector("#task-center tr[data-status=finished]")
    page.goto(f"{base}/tasks")
    assert page.inner_text("h1") == "Task Center" and page.locator("#task-center tbody tr").count() == 1
    screenshot(page, "task-center-page")
