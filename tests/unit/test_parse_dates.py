"""Dates the sender cannot control (issue #19 item 1): ``received_at`` from the archive's side, the Date
header used for searching only when plausible, any year stored and searched, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.archiving import set_enabled
from server.config import Config
from server.indexing import dates
from server.indexing.importer import run_import
from server.indexing.pipeline import Ingestor, RawItem
from server.model import now_utc
from server.query.criteria import parse_criteria
from server.store import Store
from tests.conformance import conftest as conformance
from tests.conformance.factory import make, put
from tests.support.mail import mbox_of

store = conformance.store  # the fixture of the conformance suite: every test here runs on both backends

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SPOOLED = datetime(2025, 11, 3, 8, 15, 30, tzinfo=UTC)


def search(store: Store, start: str, end: str, **criteria: str) -> list[str]:
    store.refresh()
    return [m.subject for m in store.search(parse_criteria({"from": start, "to": end, **criteria}), limit=100).results]


def raw_mail(date_header: str | None, *, subject: str, received: str | None = None) -> bytes:
    lines = [f"Received: from mx.corp.example by store.corp.example; {received}"] if received else []
    lines += ["From: alice@corp.example", "To: bob@corp.example", f"Subject: {subject}"]
    lines += [f"Date: {date_header}"] if date_header else []
    return ("\r\n".join(lines) + "\r\n\r\nbody\r\n").encode()


# --- the rules as plain functions ------------------------------------------------------------------

def test_received_header_time_stamp_is_read_after_the_last_semicolon() -> None:
    assert dates.received_header_date("from a (b; c) by d; Mon, 30 Jun 2008 02:34:00 -0700") == datetime(
        2008, 6, 30, 9, 34, tzinfo=UTC)
    assert dates.received_header_date("from a by b; Mon, 30 Jun 2008 02:34:00 -0000").tzinfo == UTC
    assert dates.received_header_date("from a by b with SMTP") is None
    assert dates.received_header_date("from a; not a date") is None


@pytest.mark.parametrize(
    ("received", "delivered", "expected"),
    [
        (datetime(2012, 3, 5, tzinfo=UTC), datetime(2013, 1, 1, tzinfo=UTC), datetime(2012, 3, 5, tzinfo=UTC)),
        (datetime(2999, 1, 1, tzinfo=UTC), datetime(2013, 1, 1, tzinfo=UTC), datetime(2013, 1, 1, tzinfo=UTC)),  # future
        (datetime(1969, 12, 31, tzinfo=UTC), None, NOW),  # before 1970, nothing else known: the import time
        (None, datetime(2099, 1, 1, tzinfo=UTC), NOW),  # From_ line after the import
        (None, None, NOW),
    ],
)
def test_imported_received_at_order(received, delivered, expected) -> None:  # noqa: ANN001
    assert dates.imported_received_at(received, delivered, NOW) == expected


@pytest.mark.parametrize(
    ("header", "used", "note"),
    [
        (datetime(2026, 5, 31, tzinfo=UTC), datetime(2026, 5, 31, tzinfo=UTC), None),
        (NOW + timedelta(hours=23), NOW + timedelta(hours=23), None),  # a sender's clock hours ahead
        (NOW + timedelta(days=2), NOW, "more than a day after the received time 2026-06-01T12:00Z"),
        (datetime(1981, 4, 1, tzinfo=UTC), datetime(1981, 4, 1, tzinfo=UTC), None),
        (datetime(800, 4, 1, tzinfo=UTC), NOW, "header 0800-04-01T00:00Z is before 1970"),
        (None, NOW, None),
    ],
)
def test_search_date_is_the_header_only_when_plausible(header, used, note) -> None:  # noqa: ANN001
    errors: list[str] = []
    assert dates.search_date(header, NOW, errors) == used
    assert (note in errors[0]) if note else errors == []


# --- through the pipeline into both stores ---------------------------------------------------------

def test_year_3609_from_the_corpus_is_found_at_its_received_time(store: Store, config: Config, corpus_dir: Path) -> None:
    """The real message dated ``Mon, 30 Jun 3609``: its newest Received says 30 Jun 2008 02:34 -0700."""
    raw = (corpus_dir / "mikel-mail" / "plain_emails" / "raw_email_bad_time.eml").read_bytes()
    [outcome] = Ingestor(store, config).ingest_many([RawItem(raw, source="import")])
    assert outcome.status == "archived"
    found = store.get_message(outcome.id)
    assert found.received_at == found.date == datetime(2008, 6, 30, 9, 34, tzinfo=UTC)
    assert any("3609-06-30T09:33Z is more than a day after the received time" in e for e in found.parse_errors)
    assert search(store, "2008-06-30", "2008-06-30") == [found.subject]
    assert search(store, "3609-06-01", "3609-07-31") == []
    assert store.get_raw(found.sha256) == raw  # the header is kept as sent


def test_journaled_mail_is_dated_by_its_smtp_arrival_whatever_its_headers_say(store: Store, config: Config) -> None:
    set_enabled(store, True, actor="test")
    ingestor = Ingestor(store, config)
    items = [
        RawItem(raw_mail("Thu, 01 Apr 0800 10:00:00 +0000", subject="year 800", received="Mon, 1 Jan 2001 00:00:00 +0000"),
                source="smtp", received_at=SPOOLED),
        RawItem(raw_mail("Mon, 30 Jun 3609 15:33:50 +0600", subject="year 3609"), source="smtp", received_at=SPOOLED),
        RawItem(raw_mail("Mon, 03 Nov 2025 08:10:00 +0000", subject="plausible"), source="smtp", received_at=SPOOLED),
    ]
    outcomes = list(ingestor.ingest_many(items))
    found = {m.subject: m for m in store.get_messages([o.id for o in outcomes])}
    assert {s: m.received_at for s, m in found.items()} == dict.fromkeys(found, SPOOLED)
    assert found["year 800"].date == found["year 3609"].date == SPOOLED
    assert found["plausible"].date == datetime(2025, 11, 3, 8, 10, tzinfo=UTC) and found["plausible"].parse_errors == []
    assert set(search(store, "2025-11-03", "2025-11-03")) == set(found)
    assert set(search(store, "0001-01-01", "9999-12-31")) == set(found)
    assert search(store, "0700-01-01", "0900-12-31") == []


def test_a_stored_year_800_date_formats_parses_and_searches(store: Store) -> None:
    """Archives written before this change may hold such dates: every search over them must work."""
    old = datetime(800, 4, 1, 10, 0, tzinfo=UTC)
    put(store, [make("ancient", date=old, subject="ancient"), make("recent", subject="recent")])
    assert store.get_message("ancient").date == old
    assert search(store, "0700-01-01", "0900-12-31") == ["ancient"]
    assert search(store, "0001-01-01", "9999-12-31") == ["recent", "ancient"]
    page = store.search(parse_criteria({"from": "0001-01-01", "to": "9999-12-31"}), limit=1)
    rest = store.search(parse_criteria({"from": "0001-01-01", "to": "9999-12-31"}), limit=1, cursor=page.next_cursor)
    assert [m.id for m in rest.results] == ["ancient"]
    assert store.get_message("ancient").to_dict()["date"] == "0800-04-01T10:00:00.000Z"


def test_imports_take_the_newest_received_then_the_from_line_then_the_import_time(
    store: Store, config: Config, tmp_path: Path
) -> None:
    with_received = raw_mail("Mon, 5 Mar 2012 09:30:00 +0000", subject="received 2012",
                             received="Mon, 5 Mar 2012 09:32:00 +0000")
    future_received = raw_mail("Sat, 10 Mar 2012 09:30:00 +0000", subject="received in 2999",
                               received="Tue, 1 Jan 2999 00:00:00 +0000")
    nothing = raw_mail(None, subject="no dates at all")
    (tmp_path / "box.mbox").write_bytes(mbox_of([with_received, future_received]))  # From_ line: 14 Mar 2024
    (tmp_path / "loose.eml").write_bytes(nothing)
    before = now_utc()
    summary = run_import([str(tmp_path)], store, config)
    assert summary.archived == 3
    store.refresh()
    found = {m.subject: m for m in store.scan(parse_criteria({"from": "0001-01-01", "to": "9999-12-31"}))}
    assert found["received 2012"].received_at == datetime(2012, 3, 5, 9, 32, tzinfo=UTC)
    assert found["received 2012"].date == datetime(2012, 3, 5, 9, 30, tzinfo=UTC)
    assert found["received in 2999"].received_at == datetime(2024, 3, 14, 9, 26, 53, tzinfo=UTC)  # the From_ line
    undated = found["no dates at all"]
    assert before <= undated.received_at == undated.date <= undated.archived_at
    assert all(m.archived_at >= before for m in found.values())
