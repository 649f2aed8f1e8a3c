"""Journal mail end to end: smtplib → receiver → spool → pipeline → the real SQLite store.

The archiving rules as they apply to journaling: envelope recipients (Bcc) become searchable,
journal addresses are not mailboxes, copies in separate transactions are one message, monitoring
copies are skipped, and with archiving disabled mail is acknowledged and counted but not stored.
"""

from __future__ import annotations

import shutil
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from server.archiving import SKIPPED_DISABLED, set_enabled
from server.config import Config, SmtpConfig, with_overrides
from server.indexing.smtp import JournalService
from server.model import Message, now_utc
from server.query.criteria import parse_criteria
from server.store.sqlite import SqliteStore
from tests.support.mail import make_mail
from tests.support.smtp import receiver_settings, running_service, spool_receiver, wait_for

pytestmark = pytest.mark.e2e

JOURNAL = "archive@journal.corp.example"
MONITOR_SECRET = "k7-journal-monitor"


@pytest.fixture
def archive_config(config: Config) -> Config:
    return with_overrides(config, internal_domains="corp.example", monitoring_addresses="monitor@corp.example",
                          monitoring_header="X-Journal-Monitor", monitoring_secret=MONITOR_SECRET)


@pytest.fixture
def store(archive_config: Config) -> Iterator[SqliteStore]:
    store = SqliteStore.from_config(archive_config)
    set_enabled(store, True, "test")
    yield store
    store.close()


@pytest.fixture
def settings(archive_config: Config) -> SmtpConfig:
    return receiver_settings(archive_config, journal_addresses=(JOURNAL,), max_recipients=3)


@pytest.fixture
def service(archive_config: Config, settings: SmtpConfig, store: SqliteStore) -> Iterator[JournalService]:
    with running_service(archive_config, settings) as service:
        yield service


def deliver(settings: SmtpConfig, sender: str, recipients: list[str], raw: bytes) -> dict:
    with smtplib.SMTP("127.0.0.1", settings.port, timeout=10) as smtp:
        return smtp.sendmail(sender, recipients, raw)


def drained(service: JournalService) -> None:
    wait_for(lambda: not service.spool.pending(), what="the spool to drain")


def archived(store: SqliteStore, **criteria: str) -> list[Message]:
    store.refresh()
    page = store.search(parse_criteria({"from": "2000-01-01", "to": "2099-12-31", **criteria}), limit=100)
    assert page.total == len(page.results)
    return page.results


def test_bcc_recipient_from_the_envelope_is_searchable(service: JournalService, store: SqliteStore) -> None:
    raw = make_mail(sender="alice@corp.example", to=["bob@corp.example"], subject="budget")
    assert deliver(service.settings, "alice@corp.example", ["bob@corp.example", "carol@corp.example"], raw) == {}
    drained(service)
    [message] = archived(store, recipient="carol@corp.example")
    assert message.subject == "budget"
    assert {"alice@corp.example", "bob@corp.example", "carol@corp.example"} <= set(message.mailboxes)
    assert archived(store, mailbox="carol@corp.example") == [message]
    assert store.get_raw(message.sha256) == raw


def test_journal_address_is_not_a_mailbox_and_tagged_form_names_the_recipient(
    service: JournalService, store: SqliteStore
) -> None:
    """What Postfix's recipient_bcc_maps snippet in docs/journaling.md sends."""
    raw = make_mail(sender="ext@partner.example", to=["bob@corp.example"], subject="tagged")
    tagged = "archive+dave=corp.example@journal.corp.example"
    assert deliver(service.settings, "ext@partner.example", [JOURNAL, tagged], raw) == {}
    drained(service)
    [message] = archived(store, keyword="tagged")
    assert "dave@corp.example" in message.mailboxes
    assert not any("journal" in m for m in [*message.mailboxes, *message.recipients])


def test_copies_in_separate_transactions_are_one_message(service: JournalService, store: SqliteStore) -> None:
    body = make_mail(sender="alice@corp.example", to=["bob@corp.example", "carol@corp.example"],
                     bcc=[], subject="one message, three copies")
    for hop, rcpt in enumerate(["bob@corp.example", "carol@corp.example", "dave@corp.example"]):
        copy = f"Received: from mx{hop}.corp.example by journal; Thu, 14 Mar 2024 09:27:0{hop} +0000\r\n".encode()
        assert deliver(service.settings, "alice@corp.example", [rcpt], copy + body) == {}
    drained(service)
    [message] = archived(store, keyword="copies")
    assert {"bob@corp.example", "carol@corp.example", "dave@corp.example"} <= set(message.mailboxes)
    assert store.count() == 1


def test_recipients_over_the_limit_come_in_a_second_transaction(service: JournalService, store: SqliteStore) -> None:
    """452 4.5.3 makes an MTA send the rest again (RFC 5321 §4.5.3.1.10); the archive still holds one message."""
    raw = make_mail(sender="alice@corp.example", to=["team@corp.example"], subject="many recipients")
    recipients = [f"user{i}@corp.example" for i in range(5)]
    refused = deliver(service.settings, "alice@corp.example", recipients, raw)
    assert sorted(refused) == recipients[3:] and {code for code, _ in refused.values()} == {452}
    assert deliver(service.settings, "alice@corp.example", sorted(refused), raw) == {}
    drained(service)
    [message] = archived(store, keyword="recipients")
    assert set(recipients) <= set(message.mailboxes)


def test_monitoring_copy_is_acknowledged_but_not_archived(service: JournalService, store: SqliteStore) -> None:
    raw = make_mail(sender="alice@corp.example", to=["bob@corp.example"], subject="watched")
    assert deliver(service.settings, "alice@corp.example", ["monitor@corp.example"], raw) == {}
    drained(service)
    assert archived(store) == []  # drained: the pipeline has seen it and skipped it
    assert deliver(service.settings, "alice@corp.example", ["monitor@corp.example", "bob@corp.example"], raw) == {}
    drained(service)
    assert len(archived(store)) == 1  # also sent to a real mailbox: that copy is archived


def test_monitoring_marker_counts_only_with_the_configured_secret(service: JournalService, store: SqliteStore) -> None:
    for value in (MONITOR_SECRET, "guessed", ""):
        raw = make_mail(subject=f"marker {value or 'empty'}", headers={"X-Journal-Monitor": value})
        assert deliver(service.settings, "alice@corp.example", ["bob@corp.example"], raw) == {}
    drained(service)
    assert sorted(m.subject for m in archived(store)) == ["marker empty", "marker guessed"]


def test_journaled_mail_is_dated_by_its_smtp_arrival(service: JournalService, store: SqliteStore) -> None:
    """The spool records the arrival when it answers 250; the drainer passes it on as received_at."""
    raw = (b"Received: from mx.corp.example by relay; Mon, 30 Jun 2008 02:34:00 -0700\r\n"
           + make_mail(subject="far future", date=datetime(3609, 6, 30, 9, 33, tzinfo=UTC)))
    before = now_utc()
    assert deliver(service.settings, "alice@corp.example", ["bob@corp.example"], raw) == {}
    after = now_utc()
    drained(service)
    [message] = archived(store)
    assert before <= message.received_at <= after <= message.archived_at
    assert message.date == message.received_at  # neither the Date header nor the Received field decides
    assert any("3609-06-30T09:33Z is more than a day after" in e for e in message.parse_errors)


def test_raw_utf8_attachment_name_over_smtputf8_keeps_its_name(service: JournalService, store: SqliteStore) -> None:
    """What Postfix relays from ``swaks --attach-name 合同草案.pdf``: the name as raw UTF-8 (RFC 6532),
    sent with SMTPUTF8 and BODY=8BITMIME."""
    raw = ("From: 李伟 <li.wei@corp.example>\r\nTo: bob@corp.example\r\nSubject: 合同草案\r\n"
           "Date: Thu, 14 Mar 2024 09:26:53 +0000\r\nMessage-ID: <utf8-attach@corp.example>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
           "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n请审阅附件。\r\n"
           '--b1\r\nContent-Type: application/pdf; name="合同草案.pdf"\r\n'
           'Content-Disposition: attachment; filename="合同草案.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
           "JVBERi0xLjQKJSVFT0YK\r\n--b1--\r\n").encode()
    with smtplib.SMTP("127.0.0.1", service.settings.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("smtputf8") and smtp.has_extn("8bitmime")
        assert smtp.sendmail("li.wei@corp.example", ["bob@corp.example"], raw,
                             mail_options=["SMTPUTF8", "BODY=8BITMIME"]) == {}
    drained(service)
    [message] = archived(store, keyword="合同草案")
    assert message.attachment_names == ["合同草案.pdf"] and message.sender_name == "李伟"
    assert message.parse_errors == []
    assert archived(store, keyword="合同草案", scope="attachment") == [message]
    assert store.get_raw(message.sha256) == raw


def test_archiving_disabled_acknowledges_and_counts_without_storing(
    service: JournalService, store: SqliteStore
) -> None:
    set_enabled(store, False, "test")
    for n in range(3):
        assert deliver(service.settings, "alice@corp.example", ["bob@corp.example"], make_mail(subject=f"off {n}")) == {}
    drained(service)
    assert archived(store) == []
    assert store.get_counter(SKIPPED_DISABLED) == 3


def test_spool_left_by_a_stopped_receiver_is_stored_on_start(
    archive_config: Config, settings: SmtpConfig, store: SqliteStore
) -> None:
    """Acknowledged but not yet stored when the receiver stopped: the next start stores it, once."""
    with spool_receiver(archive_config, settings) as spool:
        for n in range(5):
            deliver(settings, "alice@corp.example", ["bob@corp.example"], make_mail(subject=f"replay {n}"))
        first = spool.pending()[0]
        shutil.copy(spool.new / first, spool.new / ("0" + first))  # as if a removal was lost in a crash
    assert archived(store) == []
    with running_service(archive_config, settings) as service:
        drained(service)
    assert len(archived(store, keyword="replay")) == 5
    assert store.count() == 5


def test_every_spooled_message_is_stored_with_its_exact_bytes(
    service: JournalService, store: SqliteStore, corpus_dir
) -> None:
    """A slice of real-world mail (odd charsets, broken MIME) through SMTP: raw bytes are kept exactly."""
    files = sorted(corpus_dir.rglob("*.eml"))[:40]
    if not files:
        pytest.skip("no .eml files in the corpus")
    raws = [f.read_bytes() for f in files]
    with smtplib.SMTP("127.0.0.1", service.settings.port, timeout=30) as smtp:
        for raw in raws:
            smtp.sendmail("journal@corp.example", ["bob@corp.example"], raw)
    drained(service)
    stored = {store.get_raw(m.sha256) for m in store.scan(parse_criteria({"from": "1970-01-01", "to": "2099-12-31"}))}
    expected = {raw if raw.endswith(b"\r\n") else raw + b"\r\n" for raw in raws}  # smtplib ends DATA with CRLF
    assert expected <= stored


def test_a_drainer_that_died_is_started_again(service: JournalService, store: SqliteStore) -> None:
    service.drainer.RESTART_AFTER = 0.0
    dead = service.drainer.process
    dead.kill()
    dead.wait(10)
    assert deliver(service.settings, "alice@corp.example", ["bob@corp.example"], make_mail(subject="after")) == {}
    drained(service)
    assert service.drainer.process is not dead
    assert len(archived(store, keyword="after")) == 1
