"""What the retention service builds on: expiry scan, legal holds, re-stamping, the purge itself."""

from __future__ import annotations

from datetime import timedelta

from server.store import Store
from tests.conformance.factory import ALICE, BOB, T0, crit, day, make, put, search_ids

UNTIL = T0 + timedelta(days=365)


def expiring(id: str, until=UNTIL, **fields) -> tuple:  # noqa: ANN001, ANN003 - test data
    return make(id, retention_until=until, **fields)


def ids(messages: list) -> list[str]:
    return [m.id for m in messages]


def test_scan_expired_boundary_is_strictly_before_now(store: Store) -> None:
    put(store, [expiring("at", UNTIL), expiring("before", UNTIL - timedelta(milliseconds=1)),
                expiring("later", UNTIL + timedelta(days=1)), make("forever")])  # fmt: skip
    assert ids(store.scan_expired(UNTIL, 10)) == ["before"]
    assert ids(store.scan_expired(UNTIL + timedelta(milliseconds=1), 10)) == ["at", "before"]
    assert ids(store.scan_expired(UNTIL + timedelta(days=3650), 10)) == ["at", "before", "later"]


def test_scan_expired_pages_in_arrival_order(store: Store) -> None:
    for n in range(5):
        put(store, [expiring(f"e{n}", date=day(5 - n))])  # arrival order is not date order
    first = store.scan_expired(UNTIL + timedelta(days=1), 2)
    assert ids(first) == ["e0", "e1"]
    rest = store.scan_expired(UNTIL + timedelta(days=1), 10, after_seq=first[-1].archive_seq)
    assert ids(rest) == ["e2", "e3", "e4"]


def test_a_hold_keeps_mail_out_of_the_expiry_scan_until_released(store: Store) -> None:
    put(store, [expiring("held"), expiring("free")])
    later = UNTIL + timedelta(days=1)
    assert store.set_legal_hold(["held", "unknown"], "case-7", True) == 1
    assert store.set_legal_hold(["held"], "case-7", True) == 0  # already held by that hold
    assert store.set_legal_hold(["held"], "case-9", True) == 1
    message = store.get_message("held")
    assert message.legal_holds == ["case-7", "case-9"] and message.legal_hold
    assert ids(store.scan_expired(later, 10)) == ["free"]
    assert store.set_legal_hold(["held"], "case-7", False) == 1
    assert ids(store.scan_expired(later, 10)) == ["free"]  # case-9 still holds it
    assert store.set_legal_hold(["held"], "case-9", False) == 1
    assert store.get_message("held").legal_hold is False
    assert ids(store.scan_expired(later, 10)) == ["held", "free"]


def test_a_merged_copy_keeps_the_holds_and_retention(store: Store) -> None:
    put(store, [expiring("m", mailboxes=[ALICE])])
    store.set_legal_hold(["m"], "case-1", True)
    assert put(store, [make("m", mailboxes=[BOB], retention_until=UNTIL + timedelta(days=99))]) == ["merged"]
    merged = store.get_message("m")
    assert merged.legal_holds == ["case-1"] and merged.retention_until == UNTIL
    assert merged.mailboxes == [ALICE, BOB]


def test_set_retention_restamps_by_id(store: Store) -> None:
    put(store, [expiring("a"), expiring("b"), make("c")])
    longer = UNTIL + timedelta(days=730)
    assert store.set_retention({"a": longer, "c": UNTIL, "missing": UNTIL}) == 2
    assert [m.retention_until for m in store.get_messages(["a", "b", "c"])] == [longer, UNTIL, UNTIL]
    assert ids(store.scan_expired(UNTIL + timedelta(days=1), 10)) == ["b", "c"]
    assert store.get_message("a").archive_seq < store.get_message("c").archive_seq  # numbers unchanged


def test_delete_removes_the_message_from_every_read_path(store: Store) -> None:
    put(store, [make("gone", subject="quarterly budget", mailboxes=[ALICE], date=day(3)),
                make("kept", subject="quarterly budget", mailboxes=[BOB], date=day(4))])  # fmt: skip
    gone = store.get_message("gone")
    assert store.delete_messages(["gone", "never-there"]) == 1
    store.refresh()
    assert store.get_message("gone") is None and store.get_raw(gone.sha256) is None
    assert search_ids(store, keyword="budget") == ["kept"]
    assert store.count(crit(keyword="quarterly budget")) == 1
    assert search_ids(store, mailbox=ALICE) == []
    assert store.count() == store.count(crit()) == 1
    assert store.distinct_mailboxes() == 1
    assert dict(store.aggregate(crit(), "mailbox").buckets) == {BOB: 1}
    assert ids(store.scan_archived(0, 10)) == ["kept"]
    assert store.delete_messages(["gone"]) == 0


def test_a_shared_blob_goes_with_the_last_message_that_uses_it(store: Store) -> None:
    raw = b"Subject: same bytes\r\n\r\nkept by two archive entries\r\n"
    put(store, [make("first", raw=raw), make("second", raw=raw)])
    sha = store.get_message("first").sha256
    assert store.delete_messages(["first"]) == 1
    assert store.get_raw(sha) == raw
    assert store.delete_messages(["second"]) == 1
    assert store.get_raw(sha) is None


def test_numbers_are_never_reused_after_the_newest_message_is_purged(store: Store) -> None:
    put(store, [make("a")])
    put(store, [make("b")])
    top = store.get_message("b").archive_seq
    store.delete_messages(["b"])
    assert store.max_archive_seq() >= top
    put(store, [make("c")])
    assert store.get_message("c").archive_seq > top
    put(store, [make("b")])  # the same message archived again is a new arrival
    assert store.get_message("b").archive_seq > store.get_message("c").archive_seq
