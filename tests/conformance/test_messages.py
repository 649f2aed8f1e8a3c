"""Storing messages: idempotent puts, merging copies, the strict schema, raw bytes kept exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from server.model import Message
from server.store import Store
from tests.conformance.factory import ALICE, BOB, CAROL, crit, day, make, put, search_ids


def test_put_then_get_returns_the_same_message(store: Store) -> None:
    message, raw = make(subject="Hello", body="World", sender=ALICE, to=[BOB], mailboxes=[ALICE, BOB],
                        departments=["/Sales/East"], attachments=["a.pdf"], flags=["spam"], parse_errors=["bad date"],
                        received_at=day(1), legal_holds=["hold-1"])  # fmt: skip
    assert put(store, [(message, raw)]) == ["created"]
    stored = store.get_message(message.id)
    assert stored.archive_seq >= 1 and stored.legal_hold
    assert stored.to_dict() == {**message.to_dict(), "archive_seq": stored.archive_seq}
    assert store.get_message("no-such-id") is None


def test_get_messages_keeps_the_given_order_and_skips_unknown(store: Store) -> None:
    items = [make(f"order-{n}", date=day(n)) for n in range(1, 5)]
    put(store, items)
    wanted = ["order-3", "missing", "order-1", "order-4"]
    assert [m.id for m in store.get_messages(wanted)] == ["order-3", "order-1", "order-4"]
    assert store.get_messages([]) == []


def test_put_is_idempotent(store: Store) -> None:
    items = [make(subject="same", mailboxes=[ALICE]), make(subject="other", mailboxes=[ALICE])]
    assert put(store, items) == ["created", "created"]
    assert put(store, items) == ["unchanged", "unchanged"]
    assert store.count() == 2
    assert search_ids(store, mailbox=ALICE) == sorted((m.id for m, _ in items), reverse=True)


def test_a_copy_merges_mailboxes_recipients_and_departments(store: Store) -> None:
    first = make("copy", subject="Original", sender=ALICE, to=[BOB], mailboxes=[ALICE, BOB], departments=["/Sales/East"])
    second = make("copy", subject="Changed later", sender=ALICE, to=[BOB], bcc=[CAROL], mailboxes=[CAROL],
                  departments=["/Engineering/Ops"], raw=b"Subject: a different journal copy\r\n\r\nx\r\n")  # fmt: skip
    assert put(store, [first]) == ["created"]
    assert put(store, [second]) == ["merged"]
    stored = store.get_message("copy")
    assert stored.mailboxes == [ALICE, BOB, CAROL]
    assert stored.recipients == [BOB, CAROL] and stored.bcc == [CAROL]
    assert stored.departments == ["/Sales/East", "/Engineering/Ops"]
    assert set(stored.department_paths) == {"/Sales", "/Sales/East", "/Engineering", "/Engineering/Ops"}
    assert (stored.subject, stored.sha256) == ("Original", first[0].sha256)  # first copy wins otherwise
    assert store.get_raw(first[0].sha256) == first[1]
    assert search_ids(store, mailbox=CAROL) == ["copy"]
    assert search_ids(store, recipient=CAROL) == ["copy"]
    assert search_ids(store, department="/Engineering", include_subdepartments="true") == ["copy"]
    assert search_ids(store, department="/Engineering/Ops") == ["copy"]
    assert put(store, [second]) == ["unchanged"]


def test_flags_of_copies_are_merged_as_a_union(store: Store) -> None:
    """Verdicts are per copy (issue #19): the order copies arrive in must not decide the flags."""
    clean = make("verdict", mailboxes=[ALICE])
    spam = make("verdict", mailboxes=[ALICE], flags=["spam"], raw=b"X-Spam-Flag: YES\r\n\r\nx\r\n")
    assert put(store, [clean]) == ["created"]
    assert put(store, [spam]) == ["merged"]
    assert store.get_message("verdict").flags == ["spam"]
    original = make("redirected", mailboxes=[ALICE], flags=["auto_reply"])
    redirect = make("redirected", mailboxes=[ALICE], flags=["auto_forward", "auto_reply"])
    assert put(store, [original, redirect]) == ["created", "merged"]
    assert sorted(store.get_message("redirected").flags) == ["auto_forward", "auto_reply"]
    assert put(store, [redirect]) == ["unchanged"]


def test_copies_within_one_batch(store: Store) -> None:
    a = make("twin", mailboxes=[ALICE])
    b = make("twin", mailboxes=[BOB])
    assert put(store, [a, b, a]) == ["created", "merged", "unchanged"]
    assert store.get_message("twin").mailboxes == [ALICE, BOB]
    assert store.count() == 1


class _FutureMessage(Message):
    def __init__(self, importance: str = "high", **fields: Any) -> None:
        super().__init__(**fields)
        self.importance = importance  # a field the archive schema does not know


def test_strict_schema_rejects_an_unknown_field(store: Store) -> None:
    good = make(subject="fine")
    bad_message, bad_raw = make(subject="too new")
    bad = _FutureMessage(**vars(bad_message))
    results = store.put_messages([good, (bad, bad_raw)])
    store.refresh()
    assert [r.status for r in results] == ["created", "failed"]
    assert "importance" in results[1].error
    assert store.get_message(bad.id) is None
    assert store.count() == 1


def test_a_mistyped_field_fails_only_that_message(store: Store) -> None:
    bad_message, bad_raw = make("mistyped")
    bad_message.size = "big"  # type: ignore[assignment]
    results = store.put_messages([(bad_message, bad_raw), make("fine")])
    store.refresh()
    assert [r.status for r in results] == ["failed", "created"]
    assert results[0].error
    assert store.get_message("mistyped") is None and store.get_message("fine") is not None


RAWS = {
    "crlf": b"Subject: crlf\r\n\r\nline one\r\nline two\r\n",
    "bare-lf": b"Subject: lf\n\nline one\nline two\n",
    "mixed-endings-no-final-newline": b"Subject: mixed\r\n\nbody\rold mac\r\nend",
    "latin1": "Subject: caf\xe9\r\n\r\nna\xefve fa\xe7ade\r\n".encode("latin-1"),
    "gb2312": "Subject: 合同\r\n\r\n请审批\r\n".encode("gb2312"),
    "invalid-utf8-and-nul": b"Subject: x\r\n\r\n\xff\xfe\x00\x80\xc3(\x00\r\n",
    "trailing-whitespace": b"Subject: ws \t\r\n\r\nbody   \r\n\r\n\r\n",
    "large-binary": random.Random(7).randbytes(3_000_000),
}


@pytest.mark.parametrize("name", list(RAWS))
def test_raw_round_trip_byte_for_byte(store: Store, name: str) -> None:
    message, raw = make(raw=RAWS[name])
    put(store, [(message, raw)])
    assert store.get_raw(message.sha256) == raw
    assert store.get_raw("0" * 64) is None


def test_raw_is_single_instance(store: Store) -> None:
    """Two archived messages with identical bytes (say, re-sent) share one stored raw."""
    shared = b"Subject: shared\r\n\r\nsame bytes\r\n"
    a, b = make("one", raw=shared), make("two", raw=shared)
    assert put(store, [a, b]) == ["created", "created"]
    assert a[0].sha256 == b[0].sha256
    assert store.get_raw(a[0].sha256) == shared
    assert {m.sha256 for m in store.get_messages(["one", "two"])} == {a[0].sha256}


def test_messages_outside_the_time_range_are_kept_and_findable(store: Store) -> None:
    """Old and far-future dates (malformed mail) are archived and searchable like any other."""
    old = make("old", date=datetime(1985, 6, 1, tzinfo=UTC), subject="ancient")
    future = make("future", date=datetime(2999, 1, 1, tzinfo=UTC), subject="ancient")
    put(store, [old, future])
    assert search_ids(store, keyword="ancient", from_="1900-01-01", to="2999-12-31") == ["future", "old"]
    assert search_ids(store, **{"from": "1985-06-01", "to": "1985-06-01"}) == ["old"]


def test_count_of_everything(store: Store) -> None:
    assert store.count() == 0
    put(store, [make(date=day(1)), make(date=day(2)), make(date=day(40))])
    assert store.count() == 3
    assert store.count(crit()) == 2


def test_get_raws_reads_many_blobs_at_once_and_skips_unknown(store: Store) -> None:
    items = [make(raw=RAWS[name]) for name in ("crlf", "bare-lf", "large-binary")]
    shared = make("shared-copy", raw=RAWS["crlf"])  # a second message with the same bytes
    put(store, [*items, shared])
    keys = [m.sha256 for m, _ in items]
    found = store.get_raws([*keys, "0" * 64, keys[0], shared[0].sha256])
    assert found == {m.sha256: raw for m, raw in items}
    assert store.get_raws([]) == {}


def test_total_size_sums_the_sizes_of_the_matches(store: Store) -> None:
    assert store.total_size() == 0 and store.total_size(crit()) == 0
    inside = [make(date=day(1), subject="budget", body="x" * 500), make(date=day(2), subject="other", body="y" * 70)]
    shared = make(date=day(3), subject="budget again", raw=inside[0][1])  # same bytes: counted per message
    outside = make(date=day(40), subject="budget", body="z" * 1000)
    put(store, [*inside, shared, outside])
    sizes = [len(raw) for _, raw in inside]
    assert store.total_size(crit()) == sum(sizes) + sizes[0]
    assert store.total_size(crit(keyword="other")) == sizes[1]
    assert store.total_size() == sum(sizes) + sizes[0] + len(outside[1])
    assert store.total_size(crit(keyword="nothing-matches-this")) == 0


def test_a_scan_inside_streaming_reads_returns_the_same(store: Store) -> None:
    put(store, [make(date=day(n), subject=f"s{n}") for n in range(1, 6)])
    before = [m.id for m in store.scan(crit(), batch_size=2)]
    with store.streaming_reads():
        inside = [m.id for m in store.scan(crit(), batch_size=2)]
        raws = store.get_raws([m.sha256 for m in store.scan(crit())])
    assert inside == before and len(before) == 5 and len(raws) == 5
    assert [m.id for m in store.scan(crit())] == before
