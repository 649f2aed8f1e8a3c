"""The archiving rules of DESIGN.md §4, one test each, through the real Ingestor and SqliteStore."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from server.archiving import SKIPPED_DISABLED, set_enabled
from server.config import with_overrides
from server.indexing.pipeline import Ingestor
from server.model import Account, AccountStatus
from tests.support.ingest import find, sqlite_store
from tests.support.mail import make_mail, with_trace

store = pytest.fixture(sqlite_store)
CORP = {"internal_domains": "corp.example"}


@pytest.fixture
def ingestor(store, config):
    set_enabled(store, True, actor="test")
    return Ingestor(store, with_overrides(config, **CORP))


def test_rule1_one_recipient_one_archived_message(store, ingestor):
    raw = make_mail(subject="Lunch plans", to=["bob@corp.example"])
    outcome = ingestor.ingest(raw, envelope_to=["bob@corp.example"])
    assert outcome.status == "archived"
    [found] = find(store, keyword="lunch")
    assert found.id == outcome.id
    assert store.get_raw(found.sha256) == raw
    assert found.mailboxes == ["alice@corp.example", "bob@corp.example"]


def test_rule2_one_message_to_many_is_stored_once_with_mailboxes_merged(store, ingestor):
    raw = make_mail(subject="All hands", sender="ceo@corp.example", to=["team@corp.example"])
    copies = [with_trace(raw, rcpt=r) for r in ("ann@corp.example", "ben@corp.example", "cid@corp.example")]
    outcomes = [ingestor.ingest(c, envelope_to=[r]) for c, r in zip(copies, ("ann@corp.example", "ben@corp.example",
                                                                              "cid@corp.example"), strict=True)]
    assert [o.status for o in outcomes] == ["archived", "merged", "merged"]
    assert len({o.id for o in outcomes}) == 1
    [found] = find(store, keyword="all hands")
    assert set(found.mailboxes) == {"ceo@corp.example", "team@corp.example", "ann@corp.example", "ben@corp.example",
                                    "cid@corp.example"}
    assert set(found.bcc) == {"ann@corp.example", "ben@corp.example", "cid@corp.example"}  # envelope-only: BCC
    assert store.get_raw(found.sha256) == copies[0]  # the first copy's bytes, unchanged
    assert ingestor.ingest(copies[1], envelope_to=["ben@corp.example"]).status == "duplicate"


def test_rule3_separate_messages_stay_separate_even_with_equal_subjects(store, ingestor):
    first = make_mail(subject="Status update", to=["ann@corp.example"], body="Ann, here is yours.")
    second = make_mail(subject="Status update", to=["ben@corp.example"], body="Ben, here is yours.")
    same_id = make_mail(subject="Status update", to=["ben@corp.example"], body="Edited and resent.", message_id="<r@x>")
    resent = make_mail(subject="Status update", to=["ben@corp.example"], body="Resent once more.", message_id="<r@x>")
    ids = {ingestor.ingest(raw).id for raw in (first, second, same_id, resent)}
    assert len(ids) == 4
    assert len(find(store, keyword="status update")) == 4


def test_rule4_monitoring_copies_are_not_archived(store, config):
    set_enabled(store, True, actor="test")
    ingestor = Ingestor(store, with_overrides(config, monitoring_addresses="watch@corp.example", **CORP))
    raw = make_mail(subject="Watched mail")
    assert ingestor.ingest(raw, envelope_to=["watch@corp.example"]).status == "skipped_monitoring"
    assert find(store, keyword="watched") == []
    # the same message to its real recipient is archived, without the monitoring mailbox
    outcome = ingestor.ingest(raw, envelope_to=["bob@corp.example", "watch@corp.example"])
    assert outcome.status == "archived"
    assert "watch@corp.example" not in find(store, keyword="watched")[0].mailboxes


def test_rule4_a_marker_header_written_by_anyone_does_not_stop_archiving(store, config):
    """Off by default: the header the old default named (X-Archive-Monitoring) is just a header."""
    set_enabled(store, True, actor="test")
    ingestor = Ingestor(store, with_overrides(config, **CORP))
    marked = make_mail(subject="Marked by the sender", headers={"X-Archive-Monitoring": "copy"})
    assert ingestor.ingest(marked, envelope_to=["bob@corp.example"]).status == "archived"
    assert len(find(store, keyword="marked")) == 1


def test_rule4_the_marker_counts_only_with_its_secret_and_only_on_journaled_mail(store, config):
    set_enabled(store, True, actor="test")
    marker = {"monitoring_header": "X-Journal-Monitor", "monitoring_secret": "s3cret-Value"}
    ingestor = Ingestor(store, with_overrides(config, **marker, **CORP))

    def outcome(value: str, source: str = "smtp") -> str:
        raw = make_mail(subject=f"marker {value} {source}", headers={"X-Journal-Monitor": value})
        return ingestor.ingest(raw, envelope_to=["bob@corp.example"], source=source).status

    assert outcome("s3cret-Value") == "skipped_monitoring"
    assert outcome("  s3cret-Value  ") == "skipped_monitoring"  # folding whitespace is not part of the value
    assert outcome("s3cret-value") == "archived"  # any other value: a sender guessing
    assert outcome("") == "archived"
    assert outcome("s3cret-Value", source="import") == "archived"  # not from the journaling source
    header_only = Ingestor(store, with_overrides(config, monitoring_header="X-Journal-Monitor", **CORP))
    assert header_only.ingest(make_mail(subject="no secret set", headers={"X-Journal-Monitor": ""}),
                              envelope_to=["bob@corp.example"]).status == "archived"


def test_rule4_monitoring_copies_without_envelope_are_recognised_by_delivery_fields(store, config):
    ingestor = Ingestor(store, with_overrides(config, monitoring_addresses="watch@corp.example", **CORP))
    raw = make_mail(subject="Imported copy", to=["bob@corp.example"])
    assert ingestor.ingest(with_trace(raw, rcpt="watch@corp.example"), source="import").status == "skipped_monitoring"
    assert ingestor.ingest(make_mail(to=["watch@corp.example"]), source="import").status == "skipped_monitoring"
    assert ingestor.ingest(with_trace(raw, rcpt="bob@corp.example"), source="import").status == "archived"


def test_rule4_monitoring_addresses_from_settings_and_environment(store, config):
    from server.config import load_config

    env = {"MAILARCHIVE_MONITORING_ADDRESSES": "Audit@Corp.example, spy@corp.example",
           "MAILARCHIVE_CONFIG": "none"}
    ingestor = Ingestor(store, load_config(env, data_dir=config.data_dir))
    assert ingestor.ingest(make_mail(), envelope_to=["audit@corp.example"], source="import").status == "skipped_monitoring"
    store.set_setting("monitoring_addresses", ["other@corp.example"])  # the console's setting wins
    assert ingestor.ingest(make_mail(), envelope_to=["audit@corp.example"], source="import").status == "archived"
    assert ingestor.ingest(make_mail(), envelope_to=["other@corp.example"], source="import").status == "skipped_monitoring"


@pytest.mark.parametrize(
    ("headers", "subject", "flag"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Re: plans", "auto_reply"),
        ({"X-Autoreply": "yes"}, "Re: plans", "auto_reply"),
        ({"Precedence": "auto_reply"}, "Re: plans", "auto_reply"),
        ({}, "Automatic reply: plans", "auto_reply"),
        ({"Auto-Submitted": "auto-forwarded"}, "plans", "auto_forward"),
        ({"X-MS-Exchange-Inbox-Rules-Loop": "bob@corp.example"}, "plans", "auto_forward"),
        ({"X-Spam-Flag": "YES"}, "plans", "spam"),
        ({"X-Spam-Status": "Yes, score=9.1"}, "plans", "spam"),
        ({}, "[SPAM] plans", "spam"),
        ({"Auto-Submitted": "auto-generated"}, "Quota warning", "system"),
    ],
)
def test_rule5_auto_replies_forwards_and_spam_are_archived_and_flagged(store, ingestor, headers, subject, flag):
    outcome = ingestor.ingest(make_mail(subject=subject + " zebra", headers=headers))
    assert outcome.status == "archived"
    [found] = find(store, keyword="zebra")
    assert flag in found.flags


def test_rule5_ordinary_mail_has_no_flags(store, ingestor):
    ingestor.ingest(make_mail(subject="Ordinary zebra"))
    assert find(store, keyword="zebra")[0].flags == []


def test_rule7_bounces_and_notifications_are_archived_and_flagged(store, ingestor):
    dsn = (
        b"From: MAILER-DAEMON@corp.example\r\nTo: alice@corp.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Date: Thu, 14 Mar 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n"
        b"--R\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Undeliverable.\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; gone@partner.example\r\nAction: failed\r\nStatus: 5.1.1\r\n--R--\r\n"
    )
    mdn = dsn.replace(b"delivery-status", b"disposition-notification").replace(b"MAILER-DAEMON", b"bob").replace(
        b"Undelivered Mail Returned to Sender", b"Read receipt: plans").replace(b"Undeliverable", b"Displayed")
    assert ingestor.ingest(dsn).status == "archived"
    [bounce] = find(store, keyword="undeliverable")
    assert {"bounce", "system"} <= set(bounce.flags)
    notice = make_mail(subject="Your mailbox is almost full", sender="postmaster@corp.example")
    assert ingestor.ingest(notice).status == "archived"
    assert "system" in find(store, keyword="almost full")[0].flags
    assert ingestor.ingest(mdn).status == "archived"
    [receipt] = find(store, keyword="displayed")
    assert receipt.flags == ["system"]


def test_rule12_disabled_archiving_stores_no_journal_mail_but_counts_it(store, config):
    ingestor = Ingestor(store, config)  # fresh install: archiving disabled
    outcome = ingestor.ingest(make_mail(subject="While disabled"))
    assert outcome.status == "skipped_disabled"
    assert store.get_counter(SKIPPED_DISABLED) == 1
    assert find(store, keyword="disabled") == []
    assert ingestor.ingest(make_mail(subject="Backfill while disabled"), source="import").status == "archived"
    set_enabled(store, True, actor="test")
    assert ingestor.ingest(make_mail(subject="After enabling")).status == "archived"
    set_enabled(store, False, actor="test")
    assert len(find(store, keyword="enabling")) == 1  # existing mail stays


def test_rule10_disabled_or_deleted_accounts_keep_their_mail(store, ingestor):
    store.upsert_accounts([Account("ann@corp.example", "Ann", "/Sales/East", AccountStatus.ACTIVE)])
    ingestor.ingest(make_mail(subject="Before leaving", to=["ann@corp.example"]))
    store.upsert_accounts([Account("ann@corp.example", "Ann", "/Sales/East", AccountStatus.DELETED)])
    [found] = find(store, mailbox="ann@corp.example")
    assert found.departments == ["/Sales/East"]
    ingestor.ingest(make_mail(subject="After leaving", to=["ann@corp.example"]))
    assert len(find(store, mailbox="ann@corp.example")) == 2  # still her mailbox, still archived


def test_mailboxes_and_departments_are_stamped_at_archive_time(store, ingestor):
    store.upsert_accounts([
        Account("ann@corp.example", "Ann", "/Sales/East/Shanghai"),
        Account("ext@partner.example", "Known partner", "/Partners"),
    ])
    raw = make_mail(sender="ann@corp.example", to=["ext@partner.example", "stranger@other.example"], cc=["bob@corp.example"])
    ingestor.ingest(raw)
    [found] = find(store, department="/Sales", include_subdepartments="true")
    assert found.mailboxes == ["ann@corp.example", "ext@partner.example", "bob@corp.example"]
    assert found.departments == ["/Partners", "/Sales/East/Shanghai"]
    assert found.department_paths == ["/Partners", "/Sales", "/Sales/East", "/Sales/East/Shanghai"]
    store.upsert_accounts([Account("ann@corp.example", "Ann", "/Marketing")])
    assert find(store, department="/Sales/East/Shanghai")[0].id == found.id  # stamped, not looked up later


def received_on(raw: bytes, when: datetime) -> bytes:
    """``raw`` as the last server delivered it on ``when`` (a topmost Received field)."""
    return f"Received: from mx1.corp.example by store.corp.example; {format_datetime(when)}\r\n".encode() + raw


def test_retention_counts_from_received_at_with_the_configured_years(store, ingestor):
    leap = datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    ingestor.ingest(received_on(make_mail(subject="Leap day", date=leap), leap), source="import")
    [found] = find(store, keyword="leap")
    assert (found.received_at, found.retention_until) == (leap, datetime(2030, 3, 1, 12, 0, tzinfo=UTC))
    store.set_setting("retention_years", 10)
    may = datetime(2024, 5, 1, tzinfo=UTC)
    ingestor.ingest(received_on(make_mail(subject="Ten years", date=may), may), source="import")
    assert find(store, keyword="ten years")[0].retention_until == datetime(2034, 5, 1, tzinfo=UTC)


def test_missing_date_uses_arrival_time(store, ingestor):
    before = datetime.now(UTC).replace(microsecond=0)
    ingestor.ingest(make_mail(subject="Undated", date=None))
    [found] = find(store, keyword="undated")
    assert found.date >= before and found.date == found.archived_at
    assert found.parse_errors == []
