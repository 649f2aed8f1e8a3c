"""XSS through every user-controlled field, in a real browser (Debian's Chromium via Playwright)
against the web service ``mailarchive serve`` runs: a message whose subject, sender name, recipient,
attachment names and body carry script; a legal hold named with script; a failed sign-in whose
user name is script (it reaches the archive log page). Every page that shows them is opened, the
message body frame included; the test fails on any dialog or any script that ran."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from server.config import Config, with_overrides
from server.indexing.pipeline import Ingestor
from server.services.actor import Actor
from server.web.context import services_of
from server.web.service import WebService
from tests.support.browser import browser_fixture, page_fixture, playwright_or_skip, sign_in  # noqa: F401 - fixtures
from tests.support.mail import make_mail
from tests.support.web import PASSWORD

pytestmark = pytest.mark.e2e
playwright_or_skip()

WHEN = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def payload(n: int) -> str:
    """Markup that runs ``alert(n)`` (and marks the page) wherever it is not escaped."""
    return (f"<img src=x onerror=\"alert({n});document.documentElement.dataset.pwned={n}\">"
            f"\"><script>alert({n})</script><svg onload=alert({n})>'")  # fmt: skip


@pytest.fixture
def service(config: Config) -> Iterator[WebService]:
    service = WebService(with_overrides(config, web_port=0)).start()
    svc = services_of(service.app)
    svc.users.add("alice", "archive-admin", PASSWORD)
    svc.users.add("emma", "email-admin", PASSWORD)
    raw = make_mail(subject=f"Invoice {payload(1)}", sender="mallory@evil.example", date=WHEN,
                    headers={"X-Mailer": payload(2)}, to=["bob@corp.example"],
                    body=f"text {payload(3)}", html=f"<p>html</p>{payload(4)}<a href=\"javascript:alert(44)\">x</a>",
                    attachments=[(f"{payload(5)}.pdf", b"%PDF-1.4\n", "application/pdf"),
                                 (f"{payload(6)}.txt", payload(7).encode(), "text/plain")])  # fmt: skip
    service.message_id = Ingestor(svc.store, svc.config).ingest(raw, source="import").id
    svc.store.refresh()
    svc.holds.place(Actor.cli(), f"Hold {payload(8)}", f"reason {payload(9)}", {"sender": "mallory@evil.example"})
    yield service
    service.stop()


def _visit(page, url: str, dialogs: list[str]) -> None:  # noqa: ANN001
    page.goto(url)
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.dataset.pwned") is None, url
    for frame in page.frames:
        assert frame.evaluate("document.documentElement.dataset.pwned") is None, f"{url} frame {frame.url}"
    assert dialogs == [], url


def test_no_field_runs_script_anywhere(page, service: WebService) -> None:  # noqa: ANN001
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.set_content(payload(0))  # the detector itself: unescaped, the payload is caught
    page.wait_for_timeout(200)
    assert dialogs and page.evaluate("document.documentElement.dataset.pwned") == "0"
    dialogs.clear()
    base = service.url.removesuffix("/login")
    page.goto(base + "/login")  # a failed sign-in whose name is script: it is shown on the log page later
    page.fill("#username", payload(10)[:200])
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    sign_in(page, service.url, "alice")
    day = f"from={(WHEN - timedelta(days=2)).date()}&to={(WHEN + timedelta(days=2)).date()}"
    mid = service.message_id
    urls = [f"/search?{day}", f"/search?{day}&keyword=invoice", f"/messages/{mid}", f"/messages/{mid}/body",
            f"/messages/{mid}/body?images=1", f"/messages/{mid}/attachments/1?inline=1", "/holds",
            f"/audit?{day}", "/tasks"]  # fmt: skip
    for url in urls:
        _visit(page, base + url, dialogs)
    page.goto(base + f"/messages/{mid}")
    assert "<script>alert(1)</script>" in page.inner_text("main")  # shown as text, not dropped
    page.context.clear_cookies()
    sign_in(page, service.url, "emma")
    for url in (f"/audit?{day}", "/admin/users"):
        _visit(page, base + url, dialogs)
