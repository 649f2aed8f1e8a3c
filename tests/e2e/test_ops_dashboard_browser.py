"""The ops dashboard in a real browser (Debian's Chromium via Playwright) against the web service:
Chart.js served by the app itself draws every chart from real ingested mail; a screenshot is kept
in test-artifacts/screenshots/ops-dashboard.png for a person to look at."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from server.config import Config, with_overrides
from server.indexing.pipeline import Ingestor, RawItem
from server.model import Account, now_utc
from server.ops.sessions import session_key
from server.web.context import services_of
from server.web.service import WebService
from tests.support.browser import browser_fixture, new_page, playwright_or_skip, screenshot, sign_in  # noqa: F401 - fixtures
from tests.support.mail import make_mail
from tests.support.web import PASSWORD

pytestmark = pytest.mark.e2e
playwright_or_skip()
PACKAGE = Path(__file__).resolve().parents[2] / "package.json"  # the pinned version the vendored file must be


@pytest.fixture
def service(config: Config) -> Iterator[WebService]:
    service = WebService(with_overrides(config, web_port=0, internal_domains="corp.example")).start()
    svc = services_of(service.app)
    svc.users.add("emma", "email-admin", PASSWORD)
    svc.store.upsert_accounts([Account("ann@corp.example", department="/Sales"), Account("ben@corp.example", department="/Legal")])
    ingestor = Ingestor(svc.store, svc.config)
    mails = [make_mail(subject=f"m{n}", sender="ann@corp.example", to=["ben@corp.example"], body="x" * (n * 400),
                       date=now_utc() - timedelta(hours=n)) for n in range(12)]  # fmt: skip
    outcomes = list(ingestor.ingest_many([RawItem(m) for m in mails] + [RawItem(mails[0])]))
    assert [o.status for o in outcomes].count("archived") == 12
    svc.store.incr_counters({session_key("smtp", "opened"): 1234, session_key("pop3", "logged_in"): 7,
                             session_key("pop3", "login_failed"): 2})  # fmt: skip
    svc.store.refresh()
    yield service
    service.stop()


def test_dashboard_draws_every_chart_with_the_served_library(service: WebService, browser) -> None:  # noqa: ANN001
    page = new_page(browser, viewport={"width": 1400, "height": 1800})
    try:
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        sign_in(page, service.url, "emma")
        page.click("text=Ops dashboard")
        page.wait_for_selector("body[data-charts-ready]")
        assert page.get_attribute("body", "data-charts-ready") == "7"
        assert page.evaluate("Chart.version") == json.loads(PACKAGE.read_text())["devDependencies"]["chart.js"]
        drawn = page.evaluate("""() => [...document.querySelectorAll('canvas')].map(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let ink = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) ink++; return ink; })""")
        assert len(drawn) == 7 and all(ink > 500 for ink in drawn), drawn
        assert "ann@corp.example" in page.inner_text("#ops-data")  # top mailboxes of the last 30 days
        assert " ".join(page.inner_text("#ops-sessions").split()) == "1,234 / 7 · 2 failed POP3 sign-ins"
        origin = service.url.removesuffix("/login")
        assert all(url.startswith(origin) for url in requests), [u for u in requests if not u.startswith(origin)]
        screenshot(page, "ops-dashboard")
    finally:
        page.context.close()
