"""The versioned index layout behind aliases, and migrating an archive of the first layout."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import BadRequestError

from server.model import Account, format_time
from server.store import StoreError
from server.store.elasticsearch import ElasticsearchStore
from server.store.elasticsearch.audit import audit_doc
from server.store.protocol import AuditQuery, AuditRecord
from tests.conformance.factory import ALICE, BOB, crit, make, search_ids
from tests.support.es import es_store
from tests.support.legacy_archive import elasticsearch_v1, elasticsearch_v2

MAY, JUNE = datetime(2024, 5, 20, 9, tzinfo=UTC), datetime(2024, 6, 2, 9, tzinfo=UTC)
KINDS = ("raw", "directory", "docs", "audit")


@pytest.fixture
def base(request: pytest.FixtureRequest) -> ElasticsearchStore:
    """A store whose prefix owns the test's indices; legacy archives go under ``<prefix>-old``
    (so the cleanup of the prefix removes them too)."""
    store = es_store(request)
    request.addfinalizer(store.close)
    return store


def legacy(base: ElasticsearchStore) -> tuple[str, list]:
    june, raw_june = make("june-first", date=JUNE, subject="quarterly budget", mailboxes=[ALICE])
    may, raw_may = make("may-second", date=MAY, subject="numbers", mailboxes=[BOB])
    june.archived_at, may.archived_at = JUNE, JUNE + timedelta(hours=1)  # archived in this order
    may.retention_until = MAY + timedelta(days=10)
    prefix = f"{base.names.prefix}-old"
    elasticsearch_v1(base.es, prefix, [(may, raw_may), (june, raw_june)], docs=[("task", "t1", {"state": "done"})])
    base.es.index(index=f"{prefix}-directory", id=ALICE, document={"address": ALICE, "name": "Alice",
                  "department": "/Sales", "status": "active"}, refresh=True)  # fmt: skip
    record = AuditRecord(1, MAY, "cli", "system", "", "archiving", "on", {"subject": "Quarterly 合同"}, "success",
                         "0" * 64, "h1")  # fmt: skip
    v1_doc = {k: v for k, v in audit_doc(record).items() if k != "value_text"}  # audit-v1 had no value_text
    base.es.index(index=f"{prefix}-audit", id="1", document=v1_doc, refresh=True)
    return prefix, [(june, raw_june), (may, raw_may)]


def aliases(store: ElasticsearchStore) -> dict[str, list[str]]:
    out = {}
    for name in (store.names.messages, *(store.names.alias(k) for k in KINDS)):
        out[name] = sorted(store.es.indices.get_alias(name=name))
    return out


def test_a_new_archive_reaches_every_index_through_an_alias(base: ElasticsearchStore) -> None:
    base.put_messages([make("m", date=MAY)])
    p = base.names.prefix
    assert aliases(base) == {
        f"{p}-messages": [f"{p}-messages-v3-2024.05"], f"{p}-raw": [f"{p}-raw-v1"],
        f"{p}-directory": [f"{p}-directory-v1"], f"{p}-docs": [f"{p}-docs-v2"], f"{p}-audit": [f"{p}-audit-v2"],
    }  # fmt: skip


def test_an_archive_of_the_first_layout_is_migrated(base: ElasticsearchStore) -> None:
    prefix, items = legacy(base)
    store = ElasticsearchStore(base.es, prefix)  # shares base's client: closed by base's finalizer
    assert aliases(store) == {
        f"{prefix}-messages": [f"{prefix}-messages-v3-2024.05", f"{prefix}-messages-v3-2024.06"],
        **{f"{prefix}-{k}": [store.names.versioned(k)] for k in KINDS},
    }  # the concrete indices of the first layout are gone: their names are aliases now
    assert not base.es.indices.exists(index=f"{prefix}-messages-2024.05")
    assert not base.es.indices.exists(index=f"{prefix}-migration")  # the lock is gone
    # numbered in archiving order, not by date
    assert [(m.id, m.archive_seq) for m in store.scan_archived(0, 10)] == [("june-first", 1), ("may-second", 2)]
    assert store.max_archive_seq() == 2
    stamps = {h["_id"]: h["_source"]["@timestamp"] for h in base.es.search(index=f"{prefix}-messages")["hits"]["hits"]}
    assert stamps == {m.id: format_time(m.archived_at) for m, _ in items}  # no received_at in the first layout
    for message, raw in items:
        assert store.get_raw(message.sha256) == raw
    assert search_ids(store, keyword="budget", **{"from": "2024-05-01", "to": "2024-06-30"}) == ["june-first"]
    assert store.count(crit(**{"from": "2024-05-01", "to": "2024-06-30"})) == 2
    assert [m.id for m in store.scan_expired(MAY + timedelta(days=11), 10)] == ["may-second"]
    assert store.get_doc_versioned("task", "t1") == ({"state": "done"}, 1)
    # audit-v1 -> v2: the copy computed the values-only keyword text, so key names do not match
    wide = AuditQuery(start=MAY - timedelta(days=1), end=MAY + timedelta(days=1), keyword="合同")
    assert [r.seq for r in store.audit_query(wide)[1]] == [1]
    assert store.audit_query(wide._replace(keyword="subject"))[0] == 0
    assert store.get_accounts([ALICE]) == {ALICE: Account(ALICE, "Alice", "/Sales", "active")}
    assert store.audit_last().hash == "h1"
    # and it goes on: merges keep their number, new mail is numbered after the old
    assert store.put_messages([make("may-second", date=MAY, mailboxes=[ALICE])])[0].status == "merged"
    assert store.put_messages([make("new", date=MAY)])[0].status == "created"
    assert [m.archive_seq for m in store.get_messages(["may-second", "new"])] == [2, 3]
    with pytest.raises(BadRequestError, match="strict_dynamic_mapping"):  # still strict after the copy
        store.es.index(index=store.names.raw, id="intruder", document={"colour": "red"})
    again = ElasticsearchStore(base.es, prefix)  # opening a migrated archive changes nothing
    assert again.max_archive_seq() == 3 and again.count() == 3


def test_an_archive_of_the_previous_layout_gets_timestamp(base: ElasticsearchStore) -> None:
    """messages-v2 (the release before ``@timestamp``) to v3: every message copied with
    ``@timestamp`` = its arrival time (``archived_at`` when it has none), numbers, bytes, holds and
    search as before; new mail gets ``@timestamp`` on write, merges keep the first copy's."""
    arrived = JUNE + timedelta(days=3)
    june, raw_june = make("june", date=JUNE, subject="quarterly budget", mailboxes=[ALICE], received_at=arrived)
    may, raw_may = make("may", date=MAY, subject="numbers", mailboxes=[BOB], legal_holds=["hold-1"])
    prefix = f"{base.names.prefix}-v2"
    elasticsearch_v2(base.es, prefix, [(june, raw_june), (may, raw_may)])
    assert sorted(base.es.indices.get_alias(name=f"{prefix}-messages")) == [f"{prefix}-messages-v2-2024.05",
                                                                            f"{prefix}-messages-v2-2024.06"]  # fmt: skip
    store = ElasticsearchStore(base.es, prefix)
    assert aliases(store) == {
        f"{prefix}-messages": [f"{prefix}-messages-v3-2024.05", f"{prefix}-messages-v3-2024.06"],
        **{f"{prefix}-{k}": [store.names.versioned(k)] for k in KINDS},
    }
    assert not base.es.indices.exists(index=f"{prefix}-messages-v2-2024.05")
    stamps = {h["_id"]: h["_source"]["@timestamp"] for h in base.es.search(index=f"{prefix}-messages")["hits"]["hits"]}
    assert stamps == {"june": format_time(arrived), "may": format_time(may.archived_at)}
    assert [(m.id, m.archive_seq, m.legal_holds) for m in store.scan_archived(0, 10)] == [("june", 1, []), ("may", 2, ["hold-1"])]
    assert store.get_message("june").received_at == arrived  # @timestamp never reaches a Message
    assert store.get_raw(may.sha256) == raw_may
    assert search_ids(store, keyword="budget", **{"from": "2024-05-01", "to": "2024-06-30"}) == ["june"]
    later = JUNE + timedelta(days=9)
    assert store.put_messages([make("june", date=JUNE, mailboxes=[BOB], received_at=later)])[0].status == "merged"
    fresh, raw_fresh = make("fresh", date=JUNE, received_at=later)
    assert store.put_messages([(fresh, raw_fresh)])[0].archive_seq == 3
    got = {i: base.es.get(index=f"{prefix}-messages-v3-2024.06", id=i)["_source"]["@timestamp"] for i in ("june", "fresh")}
    assert got == {"june": format_time(arrived), "fresh": format_time(later)}
    # the Kibana time field is a date in the new indices: a date histogram over it works
    days = base.es.search(index=f"{prefix}-messages", size=0,
                          aggs={"d": {"date_histogram": {"field": "@timestamp", "calendar_interval": "day"}}})  # fmt: skip
    assert sum(b["doc_count"] for b in days["aggregations"]["d"]["buckets"]) == 3


def test_processes_starting_together_migrate_once(base: ElasticsearchStore) -> None:
    prefix, _ = legacy(base)
    opened: list[ElasticsearchStore] = []
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            opened.append(ElasticsearchStore(base.es, prefix))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(m.archive_seq for m in opened[0].scan_archived(0, 10)) == [1, 2]
    assert opened[0].count() == 2


def test_a_failed_copy_switches_nothing_and_leaves_the_old_archive_writable(base: ElasticsearchStore) -> None:
    prefix, items = legacy(base)
    # a stale target from some earlier attempt whose mapping cannot take the raw documents
    base.es.indices.create(index=f"{prefix}-raw-v1", mappings={"dynamic": "strict", "properties": {"size": {"type": "long"}}})
    with pytest.raises(StoreError, match=f"{prefix}-"):
        ElasticsearchStore(base.es, prefix)
    assert base.es.indices.exists_alias(name=f"{prefix}-raw").body is False  # still the old concrete index
    assert base.es.count(index=f"{prefix}-messages")["count"] == 2
    base.es.index(index=f"{prefix}-raw", id="writable", document={"size": 1, "compression": "zstd", "data": ""})
    assert not base.es.indices.exists(index=f"{prefix}-migration")  # the lock is released
