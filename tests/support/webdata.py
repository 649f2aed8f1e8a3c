"""Sample archive content for the web tests (unit and browser): a few messages ingested through
the real pipeline, and console users of each role."""

from __future__ import annotations

import email
import email.policy
import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.config import Config
from server.indexing.pipeline import Ingestor
from server.model import Account
from server.store.protocol import AuditQuery, AuditRecord, Store
from server.web.context import services_of
from tests.support.mail import make_mail
from tests.support.web import PASSWORD, add_user, close_app, login, make_app

WHEN = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
HOSTILE_HTML = (
    '<p id="greeting">Hello from the archive</p>'
    "<script>document.title='pwned-script';parent.document.title='pwned-parent'</script>"
    "<img src=x onerror=\"document.title='pwned-onerror';parent.document.title='pwned-parent'\">"
    '<img id="tracker" src="https://tracker.invalid/pixel.gif">'
    '<img id="logo" src="cid:logo@corp.example" alt="logo">'
)
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@functools.cache
def sample_mail() -> dict[str, bytes]:
    """Named raw messages (made once per process, so tests compare against the very bytes ingested);
    dates two days ago so the default "last 30 days" range finds them."""
    return {
        "contract": make_mail(
            subject="季度合同审核 Q3", sender="zhang.wei@corp.example", to=["li.na@corp.example"],
            body="请审核附件中的合同条款。\n", date=WHEN,
            attachments=[("合同草案.pdf", PDF, "application/pdf"), ("notes.txt", "备注：价格".encode("gbk"), "text/plain")],
        ),
        "report": make_mail(
            subject="Quarterly report", sender="alice@corp.example", to=["bob@corp.example", "carol@corp.example"],
            body="The quarterly report is ready.\n", date=WHEN - timedelta(hours=1),
        ),
        "hostile": _with_inline_image(make_mail(
            subject="Newsletter with tricks", sender="news@outside.example", to=["bob@corp.example"],
            body="plain alternative of the newsletter\n", html=HOSTILE_HTML, date=WHEN - timedelta(hours=2),
        )),
        "old": make_mail(
            subject="Old contract 合同", sender="alice@corp.example", to=["li.na@corp.example"],
            date=WHEN - timedelta(days=200),
        ),
    }


def _with_inline_image(raw: bytes) -> bytes:
    """The HTML part becomes multipart/related with the GIF its ``cid:logo@corp.example`` refers to."""
    msg = email.message_from_bytes(raw, policy=email.policy.SMTP)
    msg.get_payload()[1].add_related(GIF, maintype="image", subtype="gif", cid="<logo@corp.example>")
    return msg.as_bytes()


def load_samples(store: Store, config: Config, names: tuple[str, ...] | None = None) -> dict[str, str]:
    """Import the directory and the sample mail (``names``: only those); returns name -> archived id."""
    store.upsert_accounts([
        Account("zhang.wei@corp.example", "张伟", "/销售部/华东"), Account("li.na@corp.example", "李娜", "/销售部"),
        Account("alice@corp.example", "Alice", "/Engineering"), Account("bob@corp.example", "Bob", "/Engineering/QA"),
    ])
    ingestor = Ingestor(store, config)
    ids = {}
    for name, raw in sample_mail().items():
        if names is not None and name not in names:
            continue
        outcome = ingestor.ingest(raw, source="import")
        assert outcome.status == "archived", outcome
        ids[name] = outcome.id
    store.refresh()
    return ids


def sample_app(config: Config) -> Flask:
    """The real console app on a fresh data dir, holding the sample mail (ids in ``app.sample_ids``)
    and one user per role (archie: archive admin, emma: email admin, postmaster)."""
    app = make_app(config)
    svc = services_of(app)
    app.sample_ids = load_samples(svc.store, config)
    for name, role in (("archie", "archive-admin"), ("postmaster", "postmaster"), ("emma", "email-admin")):
        if svc.users.get(name) is None:
            add_user(app, name, role)
        else:
            svc.users.set_password(name, PASSWORD)
    return app


def signed_in(app: Flask, username: str) -> FlaskClient:
    """A test client signed in through the real login form."""
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


@pytest.fixture(name="app")
def sample_app_fixture(config: Config) -> Iterator[Flask]:
    """``app`` fixture of the web test modules: ``from tests.support.webdata import sample_app_fixture``."""
    app = sample_app(config)
    yield app
    close_app(app)


@pytest.fixture(name="admin")
def admin_fixture(app: Flask) -> FlaskClient:
    """A client signed in as the archive administrator ``archie``."""
    return signed_in(app, "archie")


def audit_entries(app: Flask, operation: str) -> list[AuditRecord]:
    store = services_of(app).store
    _, records = store.audit_query(AuditQuery(start=WHEN - timedelta(days=400), end=WHEN + timedelta(days=400),
                                              operation=operation))
    return records
