"""Hard mail shown honestly (issue 16 item 5) on a real app and store, with real-world mail from the
shared corpus: parse problems listed in words, the raw source view, the delivery-status summary of
bounces, flag labels in both languages, notices instead of empty bodies, labels for headerless
fragments; and one audit entry per message view (the body frame is covered by the page's entry).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.audit.operations import Op
from server.config import Config
from server.display.source import MAX_SOURCE_BYTES
from server.indexing.pipeline import Ingestor
from server.web.context import services_of
from tests.support.mail import make_mail
from tests.support.web import add_user, close_app, make_app
from tests.support.webdata import WHEN, audit_entries, signed_in

FRAGMENT = b"just some words of a body that lost its headers\nsecond line of it\n"
RANGE = {"from": "1990-01-01", "to": "2100-01-01"}


def corpus_files(corpus: Path, *tags: str) -> list[Path]:
    """Files of the shared corpus's manifest carrying any of ``tags`` (single messages only)."""
    found = []
    for line in (corpus / "manifest.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        path, kind, count, _, labels = (line.split("\t") + [""])[:5]
        if kind == "eml" and count == "1" and set(labels.split(",")) & set(tags):
            found.append(corpus / path)
    return found


class Archive:
    """Ingests through the real pipeline into the app's store."""

    def __init__(self, app: Flask, config: Config) -> None:
        self.app, self.ingestor = app, Ingestor(services_of(app).store, config)

    def add(self, raw: bytes) -> str:
        outcome = self.ingestor.ingest(raw, source="import")
        assert outcome.status in ("archived", "merged"), outcome
        services_of(self.app).store.refresh()
        return outcome.id


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    app = make_app(config)
    add_user(app, "archie", "archive-admin")
    add_user(app, "archie2", "archive-admin")
    yield app
    close_app(app)


@pytest.fixture
def archive(app: Flask, config: Config) -> Archive:
    return Archive(app, config)


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    return signed_in(app, "archie")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _row(listing: str, mid: str) -> str:
    return listing.split(f'<a class="open" href="/messages/{mid}?', 1)[1].split("</tr>", 1)[0]  # from the subject link


def test_a_bounce_shows_its_delivery_status_summary(archive: Archive, admin: FlaskClient, corpus_dir: Path) -> None:
    mid = archive.add((corpus_dir / "flanker/bounce/mailbox-full.eml").read_bytes())
    html = admin.get(f"/messages/{mid}").get_data(as_text=True)
    summary = _text(html.split('id="dsn-summary"', 1)[1].split("</section>", 1)[0])
    assert "user@aol.com" in summary and "Failed" in summary and "5.2.2" in summary
    assert "Permanent failure: Mailbox full" in summary and "552 5.2.2 E4.12 user MAILBOX FULL" in summary
    assert "Original subject Incoming delivery request status report" in summary  # from the returned headers
    assert 'data-flag="bounce"' in html and 'data-flag="system"' not in html  # a bounce implies the notice


def test_a_delayed_report_and_the_returned_recipient(archive: Archive, admin: FlaskClient, corpus_dir: Path) -> None:
    mid = archive.add((corpus_dir / "flanker/bounce/no-mx.eml").read_bytes())
    summary = _text(admin.get(f"/messages/{mid}").get_data(as_text=True).split('id="dsn-summary"', 1)[1])
    assert "Delayed (still being retried)" in summary and "4.4.4" in summary and "Unable to route" in summary
    assert "Original recipient &lt;user@example.com&gt;" in summary and "Original subject Notification" in summary


def test_every_corpus_bounce_with_a_report_names_its_recipients(archive: Archive, admin: FlaskClient,
                                                                corpus_dir: Path) -> None:  # fmt: skip
    reports = 0
    for path in corpus_files(corpus_dir, "dsn"):
        raw = path.read_bytes()
        html = admin.get(f"/messages/{archive.add(raw)}").get_data(as_text=True)
        if 'id="dsn-summary"' in html:
            reports += 1
            assert "dsn-recipients" in html or "The report lists no recipients." in html, path
    assert reports >= 25  # the corpus has 42 bounces, most with a machine-readable report


def test_parse_problems_are_listed_in_words_and_badged_in_the_list(archive: Archive, admin: FlaskClient,
                                                                   corpus_dir: Path) -> None:  # fmt: skip
    mid = archive.add((corpus_dir / "enmime/mail/multipart-wo-boundary.eml").read_bytes())
    html = admin.get(f"/messages/{mid}").get_data(as_text=True)
    panel = _text(html.split('id="parse-problems"', 1)[1].split("</section>", 1)[0])
    assert "The message claims to be multipart but has no parts." in panel and "MultipartInvariantViolationDefect" in panel
    row = _row(admin.get("/search", query_string={**RANGE, "keyword": "boundary"}).get_data(as_text=True), mid)
    assert 'data-flag="parse-problems"' in row and "1 parse problem" in row and 'data-flag="bounce"' in row


def test_every_hard_corpus_message_opens_with_its_source(archive: Archive, admin: FlaskClient, corpus_dir: Path) -> None:
    files = corpus_files(corpus_dir, "malformed", "tnef", "smime", "dsn")
    assert len(files) > 200
    for path in files:
        mid = archive.add(path.read_bytes())
        page = admin.get(f"/messages/{mid}")
        assert page.status_code == 200, path
        html = page.get_data(as_text=True)
        assert 'id="message-text"' in html or 'id="message-body"' in html or 'id="empty-body"' in html, path
        assert admin.get(f"/messages/{mid}/source").status_code == 200, path


def test_an_outlook_msg_saved_as_eml_gets_a_notice_not_an_empty_body(archive: Archive, admin: FlaskClient,
                                                                      corpus_dir: Path) -> None:  # fmt: skip
    mid = archive.add((corpus_dir / "spamscope-mail-parser/mail_outlook_1.eml").read_bytes())
    html = admin.get(f"/messages/{mid}").get_data(as_text=True)
    assert 'data-reason="outlook_msg"' in html and "Outlook item (.msg file)" in html
    assert "(Outlook .msg item, not Internet mail)" in html  # the page title, not binary junk
    assert "ÐÏ" not in html.split('<main class="content"', 1)[1].split('id="parse-problems"', 1)[0]


def test_a_body_that_decodes_to_nothing_gets_a_notice(archive: Archive, admin: FlaskClient) -> None:
    mid = archive.add(make_mail(subject="Empty", sender="a@corp.example", to=["b@corp.example"], body="\n", date=WHEN))
    html = admin.get(f"/messages/{mid}").get_data(as_text=True)
    assert 'data-reason="nothing"' in html and "empty or decodes to nothing" in html


def test_a_headerless_fragment_is_labelled_by_its_first_words(archive: Archive, admin: FlaskClient) -> None:
    mid = archive.add(FRAGMENT)
    listing = admin.get("/search", query_string={**RANGE, "keyword": "lost headers"}).get_data(as_text=True)
    row = _text(_row(listing, mid).split("</td>", 1)[0])
    assert "(no headers) just some words of a body that lost its headers second line of it" in row
    html = admin.get(f"/messages/{mid}").get_data(as_text=True)
    assert 'id="no-headers"' in html and "<title>(no headers) just some words" in html


def test_flags_are_translated_labels_in_chinese(archive: Archive, admin: FlaskClient, corpus_dir: Path) -> None:
    mid = archive.add((corpus_dir / "flanker/bounce/mailbox-full.eml").read_bytes())
    admin.set_cookie("lang", "zh-CN")
    html = admin.get(f"/messages/{mid}").get_data(as_text=True)
    assert "退信" in html and "投递状态报告" in html and "永久失败: 邮箱已满" in html and "失败" in html
    row = _row(admin.get("/search", query_string={**RANGE, "keyword": "delivery"}).get_data(as_text=True), mid)
    assert 'data-flag="bounce"' in row and "退信" in row


def test_source_view_is_escaped_text_under_the_mail_csp(archive: Archive, admin: FlaskClient, app: Flask) -> None:
    raw = make_mail(subject="Tricky <b>source</b>", sender="a@corp.example", to=["b@corp.example"], date=WHEN,
                    body="see <script>alert(1)</script> & more\n", html="<p onclick=x()>hi<script>bad()</script></p>")
    mid = archive.add(raw)
    response = admin.get(f"/messages/{mid}/source")
    body = response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none';")
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert "<script" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "Subject: Tricky &lt;b&gt;source&lt;/b&gt;" in body and 'id="source-truncated"' not in body
    assert f'href="/messages/{mid}/raw"' in body
    [entry] = audit_entries(app, Op.MESSAGE_VIEW)
    assert entry.target == mid and entry.details["part"] == "source"


def test_a_large_message_source_is_cut_with_a_notice_and_the_download_link(archive: Archive, admin: FlaskClient) -> None:
    raw = make_mail(subject="Big", sender="a@corp.example", to=["b@corp.example"], date=WHEN,
                    body="合同条款 line of text\n" * 80_000)  # ~2.3 MB in UTF-8 (quoted or base64 on the wire)
    assert len(raw) > MAX_SOURCE_BYTES
    body = admin.get(f"/messages/{archive.add(raw)}/source").get_data(as_text=True)
    notice = _text(body.split('id="source-truncated"', 1)[1].split("</p>", 1)[0])
    assert re.search(r"This message is 2\.\d MB; only the first (1\.0 MB|10\d\d\.\d KB) are shown", notice), notice
    assert "Download the .eml" in notice
    shown = body.split('<pre id="source-text">', 1)[1].split("</pre>", 1)[0]
    assert len(shown.encode()) <= MAX_SOURCE_BYTES * 1.1 and "\ufffd" not in shown  # not cut inside a character


def test_one_audit_entry_per_message_view_the_frame_is_covered(archive: Archive, admin: FlaskClient, app: Flask) -> None:
    mid = archive.add(make_mail(subject="Frame", sender="a@corp.example", to=["b@corp.example"], date=WHEN,
                                body="text\n", html="<p>hello frame</p>"))  # fmt: skip
    html = admin.get(f"/messages/{mid}").get_data(as_text=True)
    frame = re.search(r'<iframe id="message-body" src="([^"]+)"', html)[1].replace("&amp;", "&")
    assert "hello frame" in admin.get(frame).get_data(as_text=True)
    [entry] = audit_entries(app, Op.MESSAGE_VIEW)
    assert frame.endswith(f"view={entry.seq}") and entry.target == mid
    # a bookmarked frame URL without the page, or naming someone else's entry, is a view of its own
    assert admin.get(f"/messages/{mid}/body").status_code == 200
    other = signed_in(app, "archie2")
    assert "hello frame" in other.get(frame).get_data(as_text=True)
    entries = audit_entries(app, Op.MESSAGE_VIEW)
    assert [(e.actor, e.details.get("part")) for e in reversed(entries)] == [
        ("archie", None), ("archie", "html"), ("archie2", "html")]  # fmt: skip
    # nor does an entry of another message cover this one
    second = archive.add(make_mail(subject="Other", sender="a@corp.example", to=["b@corp.example"], date=WHEN,
                                   body="x\n", html="<p>other</p>"))  # fmt: skip
    admin.get(f"/messages/{second}/body?view={entry.seq}")
    assert len(audit_entries(app, Op.MESSAGE_VIEW)) == 4
