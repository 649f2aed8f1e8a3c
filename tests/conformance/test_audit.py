"""The audit log on both backends: append-only storage, filters and paging, the writer's seq races,
and tamper evidence — entries edited, deleted, reordered or cut off directly in the backend (raw
SQL after dropping the triggers / the raw Elasticsearch client) must make ``verify`` fail naming the
first bad entry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.audit.chain import GENESIS, entry_hash
from server.audit.log import AuditLog, AuditUnavailable
from server.audit.operations import Op
from server.audit.query import iter_matches, query_page
from server.audit.verify import verify
from server.store import Store, StoreError
from server.store.protocol import AuditQuery, AuditRecord
from tests.support.audit_tamper import tamper_for

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
WIDE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _chain(count: int, start: datetime = T0) -> list[AuditRecord]:
    """``count`` valid, chained records an hour apart (written straight through the store API)."""
    records, prev = [], GENESIS
    for seq in range(1, count + 1):
        record = AuditRecord(
            seq=seq, time=start + timedelta(hours=seq - 1), actor=("alice", "bob")[seq % 2],
            role="archive-admin", source_ip=f"10.0.0.{seq}", operation=(Op.SEARCH, Op.MESSAGE_VIEW, Op.LOGIN)[seq % 3],
            target=f"msg-{seq}", details={"keyword": "合同" if seq == 4 else "Budget", "hits": seq, "nested": {"a": [1, 2.5]}},
            result="success", prev_hash=prev, hash="",
        )  # fmt: skip
        record.hash = entry_hash(record)
        records.append(record)
        prev = record.hash
    return records


def _fill(store: Store, count: int) -> list[AuditRecord]:
    records = _chain(count)
    for record in records:
        store.audit_append(record)
    return records


def _query(**kw: object) -> AuditQuery:
    return AuditQuery(start=kw.pop("start", WIDE[0]), end=kw.pop("end", WIDE[1]), **kw)  # type: ignore[arg-type]


def test_append_last_and_scan_round_trip(store: Store) -> None:
    assert store.audit_last() is None and list(store.audit_scan()) == []
    records = _fill(store, 5)
    assert store.audit_last() == records[-1]
    assert list(store.audit_scan()) == records
    assert list(store.audit_scan(from_seq=4)) == records[3:]


def test_append_refuses_a_seq_that_is_not_last_plus_one(store: Store) -> None:
    records = _fill(store, 3)
    with pytest.raises(StoreError):
        store.audit_append(records[2]._replace(actor="mallory"))  # seq 3 again
    with pytest.raises(StoreError):
        store.audit_append(records[2]._replace(seq=5))  # a gap
    assert [r.actor for r in store.audit_scan()] == [r.actor for r in records]


def test_query_filters_and_exact_total(store: Store) -> None:
    _fill(store, 9)
    total, page = store.audit_query(_query(actor="alice"))
    assert total == 4 and [r.seq for r in page] == [8, 6, 4, 2]
    total, page = store.audit_query(_query(operation=Op.LOGIN.value))
    assert [r.seq for r in page] == [8, 5, 2] and total == 3
    assert [r.seq for r in store.audit_query(_query(start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=4)))[1]] == [5, 4, 3]
    assert store.audit_query(_query(actor="alice", operation=Op.LOGIN.value))[0] == 2


def test_keyword_matches_target_or_detail_values_case_insensitively(store: Store) -> None:
    _fill(store, 9)
    assert [r.seq for r in store.audit_query(_query(keyword="合同"))[1]] == [4]
    assert store.audit_query(_query(keyword="BUDGET"))[0] == 8
    assert [r.seq for r in store.audit_query(_query(keyword="MSG-7"))[1]] == [7]
    assert store.audit_query(_query(keyword="2.5"))[0] == 9  # a number inside a nested list is a value
    assert store.audit_query(_query(keyword="*"))[0] == 0 and store.audit_query(_query(keyword="%"))[0] == 0


def test_keyword_never_matches_detail_key_names_or_json_syntax(store: Store, tmp_path: Path) -> None:
    _fill(store, 9)
    for text in ("keyword", "hits", "nested", '"a"', "2.5]", '{"', "get\",\""):
        assert store.audit_query(_query(keyword=text))[0] == 0, text
    log = AuditLog(store, tmp_path)
    log.record(actor="alice", role="archive-admin", operation=Op.SEARCH, target="",
               details={"subject": 'say "hi" \\ there', "flag": True, "none": None})  # fmt: skip
    assert store.audit_query(_query(keyword='"hi" \\'))[0] == 1  # quotes and backslashes, JSON-escaped in storage
    assert store.audit_query(_query(keyword="subject"))[0] == 0
    assert store.audit_query(_query(keyword="true"))[0] == 1 and store.audit_query(_query(keyword="null"))[0] == 0


def test_paging_newest_first_with_total_of_all_pages(store: Store) -> None:
    _fill(store, 7)
    total, page = store.audit_query(_query(limit=3))
    assert total == 7 and [r.seq for r in page] == [7, 6, 5]
    total, page = store.audit_query(_query(limit=3, after_seq=5))
    assert total == 7 and [r.seq for r in page] == [4, 3, 2]
    api = query_page(store, _query(limit=3, after_seq=2))
    assert [r["seq"] for r in api["results"]] == [1] and api["next_cursor"] is None
    assert query_page(store, _query(limit=3))["next_cursor"] == "5"
    assert [r.seq for r in iter_matches(store, _query(limit=2, operation=Op.SEARCH.value))] == [6, 3]


def test_writer_chains_entries_and_verify_passes(store: Store, tmp_path: Path) -> None:
    log = AuditLog(store, tmp_path / "anchors")
    first = log.record(actor="alice", role="archive-admin", operation=Op.LOGIN, source_ip="10.1.1.1")
    second = log.record(actor="alice", role="archive-admin", operation=Op.SEARCH, details={"criteria": {"from": "2024-01-01"}, "hits": 12})
    assert (first.seq, first.prev_hash, second.seq, second.prev_hash) == (1, GENESIS, 2, first.hash)
    assert list(store.audit_scan()) == [first, second]
    verdict = verify(store, log.anchors)
    assert verdict.ok and verdict.entries == 2


def test_writers_that_race_for_a_seq_retry_and_never_fork(store: Store, tmp_path: Path) -> None:
    """Two writers with their own idea of the head, as two processes have: the loser re-reads it."""
    one, two = AuditLog(store, tmp_path), AuditLog(store, tmp_path)
    for n in range(4):
        (one if n % 2 else two).record(actor=f"user{n}", role="email-admin", operation=Op.MESSAGE_VIEW)
        (two if n % 2 else one).record(actor=f"user{n}", role="email-admin", operation=Op.SEARCH)
    assert [r.seq for r in store.audit_scan()] == list(range(1, 9))
    assert verify(store, one.anchors).ok


class _ReplyLost:
    """The real store, except that its first ``lose`` appends commit and then raise, as a store does
    whose connection drops (or whose request times out) after the entry reached the disk."""

    def __init__(self, store: Store, lose: int) -> None:
        self._store, self.lose = store, lose

    def audit_append(self, record: AuditRecord) -> None:
        self._store.audit_append(record)
        if self.lose:
            self.lose -= 1
            raise StoreError(f"audit entry {record.seq}: connection lost before the reply")

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_an_append_interrupted_after_its_write_landed_is_not_written_twice(store: Store, tmp_path: Path) -> None:
    flaky = _ReplyLost(store, lose=0)
    log = AuditLog(flaky, tmp_path)  # type: ignore[arg-type]
    log.record(actor="alice", role="archive-admin", operation=Op.LOGIN)
    flaky.lose = 1
    second = log.record(actor="alice", role="archive-admin", operation=Op.SEARCH, details={"hits": 3})
    third = log.record(actor="bob", role="archive-admin", operation=Op.MESSAGE_VIEW, target="m-1")
    entries = list(store.audit_scan())
    assert [(e.seq, e.operation) for e in entries] == [(1, Op.LOGIN), (2, Op.SEARCH), (3, Op.MESSAGE_VIEW)]
    assert (second.seq, third.seq, third.prev_hash) == (2, 3, second.hash)
    assert verify(store, log.anchors).ok


def test_record_fails_closed_when_the_store_is_gone(store: Store, tmp_path: Path) -> None:
    log = AuditLog(store, tmp_path)
    log.record(actor="alice", role="archive-admin", operation=Op.LOGIN)
    store.close()
    with pytest.raises(AuditUnavailable):
        log.record(actor="alice", role="archive-admin", operation=Op.ARCHIVING_ENABLE)


def _verify_after(store: Store, tmp_path: Path, action: str, seqs: tuple[int, ...]) -> tuple[int | None, str]:
    log = AuditLog(store, tmp_path)
    for n in range(6):
        log.record(actor="alice", role="archive-admin", operation=Op.SEARCH, details={"n": n, "hits": n * 10})
    assert verify(store, log.anchors).ok
    getattr(tamper_for(store), action)(*seqs)
    verdict = verify(store, log.anchors)
    assert not verdict.ok
    return verdict.first_bad, verdict.reason


def test_verify_names_an_edited_entry(store: Store, tmp_path: Path) -> None:
    first_bad, reason = _verify_after(store, tmp_path, "edit_details", (3,))
    assert first_bad == 3 and "altered" in reason


def test_verify_names_a_deleted_entry(store: Store, tmp_path: Path) -> None:
    first_bad, reason = _verify_after(store, tmp_path, "delete", (4,))
    assert first_bad == 4 and "missing" in reason


def test_verify_names_reordered_entries(store: Store, tmp_path: Path) -> None:
    first_bad, _ = _verify_after(store, tmp_path, "swap", (2, 5))
    assert first_bad == 2


def test_verify_detects_a_cut_off_tail_through_the_anchors(store: Store, tmp_path: Path) -> None:
    first_bad, reason = _verify_after(store, tmp_path, "delete", (5, 6))
    assert first_bad == 5 and "newest entries were deleted" in reason


def test_verify_detects_a_rewritten_chain_through_the_anchors(store: Store, tmp_path: Path) -> None:
    """A forger who recomputes every hash after an edit still disagrees with the anchors."""
    log = AuditLog(store, tmp_path)
    for n in range(4):
        log.record(actor="alice", role="archive-admin", operation=Op.EML_EXPORT, target=f"m{n}")
    tamper_for(store).rewrite_from(3, actor="nobody")
    verdict = verify(store, log.anchors)
    assert verdict.first_bad == 3 and "anchor" in verdict.reason


def test_long_targets_and_large_details_are_stored_and_searchable(store: Store, tmp_path: Path) -> None:
    """An import of thousands of files names them all; the entry must not be refused for its size."""
    target = " ".join(f"/imports/box{n}/{'邮件' * 20}.mbox" for n in range(2000))
    details = {"files": [f"f{n}.eml" for n in range(5000)]}
    written = AuditLog(store, tmp_path).record(actor="cli", role="operator", operation=Op.IMPORT, target=target, details=details)
    assert store.audit_last() == written
    assert store.audit_query(_query(keyword="box1999"))[0] == 0  # beyond the searched prefix: documented
    assert store.audit_query(_query(keyword="/imports/box0/"))[0] == 1
