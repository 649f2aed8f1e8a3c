"""Copies of one message through the real pipeline into both stores (issue #19 items 2 and 4): per-copy
fields do not split a message, verdicts of any copy flag it, and retention never comes from the Date header."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.archiving import set_enabled
from server.config import Config, with_overrides
from server.indexing.enrich import add_years
from server.indexing.pipeline import Ingestor, RawItem
from server.model import now_utc
from server.store import Store
from tests.conformance import conftest as conformance
from tests.support.mail import make_mail

store = conformance.store  # the fixture of the conformance suite: every test here runs on both backends


def ingestor(store: Store, config: Config) -> Ingestor:
    set_enabled(store, True, actor="test")
    return Ingestor(store, with_overrides(config, internal_domains="corp.example"))


def archive(ingest: Ingestor, *raws: bytes, source: str = "smtp") -> list[str]:
    return [o.status for o in ingest.ingest_many([RawItem(raw, source=source) for raw in raws], batch_size=1)]


def fields(*lines: str) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode()


def test_a_clean_copy_then_the_spam_flagged_copy_is_flagged(store: Store, config: Config) -> None:
    raw = make_mail(subject="Cheap watches", to=["ann@corp.example", "ben@corp.example"])
    clean = fields("Delivered-To: ann@corp.example", "X-Spam-Status: No, score=1.2") + raw
    flagged = fields("Delivered-To: ben@corp.example", "X-Spam-Flag: YES", "X-Spam-Status: Yes, score=9.1") + raw
    assert archive(ingestor(store, config), clean, flagged) == ["archived", "merged"]
    assert store.get_message(_only_id(store)).flags == ["spam"]


def test_an_exchange_redirect_merged_into_the_original_keeps_auto_forward(store: Store, config: Config) -> None:
    raw = make_mail(subject="Quarterly numbers", to=["ann@corp.example"])
    redirect = fields("X-MS-Exchange-Inbox-Rules-Loop: ann@corp.example",
                      "X-MS-Exchange-Organization-AutoForwarded: true") + raw
    assert archive(ingestor(store, config), raw, redirect) == ["archived", "merged"]
    assert store.get_message(_only_id(store)).flags == ["auto_forward"]


def test_two_users_google_takeout_copies_are_one_message(store: Store, config: Config) -> None:
    raw = make_mail(subject="Offsite agenda", sender="carol@corp.example", to=["ann@corp.example", "ben@corp.example"])
    ann = fields("X-GM-THRID: 1790000000000000001", "X-Gmail-Labels: Inbox,Important") + raw
    ben = fields("X-GM-THRID: 1790000000000000999", "X-Gmail-Labels: Archived,Opened") + raw
    assert archive(ingestor(store, config), ann, ben, source="import") == ["archived", "duplicate"]
    assert store.count() == 1


def test_retention_never_comes_from_the_date_header(store: Store, config: Config) -> None:
    """A 2012 backfill whose Received fields say 2012 expires in 2018; a Date of 1981 (and no other date)
    keeps the mail for the full period from its import; a Date of 9999 does not keep it forever."""
    backfill = fields("Received: from mx by store; Mon, 5 Mar 2012 09:32:00 +0000") + make_mail(
        subject="Backfill 2012", date=datetime(2012, 3, 5, 9, 30, tzinfo=UTC))
    old = make_mail(subject="Dated 1981", date=datetime(1981, 4, 1, tzinfo=UTC))
    far = fields("Received: from mx by store; Mon, 1 Jun 2020 00:00:00 +0000") + make_mail(
        subject="Dated 9999", date=datetime(9999, 1, 1, tzinfo=UTC))
    before = now_utc()
    ingest = ingestor(store, config)
    ids = [o.id for o in ingest.ingest_many([RawItem(r, source="import") for r in (backfill, old, far)])]
    found = {m.subject: m for m in store.get_messages(ids)}
    assert found["Backfill 2012"].retention_until == datetime(2018, 3, 5, 9, 32, tzinfo=UTC)
    dated_1981 = found["Dated 1981"]
    assert dated_1981.date == datetime(1981, 4, 1, tzinfo=UTC)
    assert before <= dated_1981.received_at <= now_utc()
    assert dated_1981.retention_until == add_years(dated_1981.received_at, 6) > now_utc() + timedelta(days=5 * 365)
    assert found["Dated 9999"].retention_until == datetime(2026, 6, 1, tzinfo=UTC)


def _only_id(store: Store) -> str:
    store.refresh()
    [message] = store.scan_archived(0, 10)
    return message.id
