"""Documents: versions and compare-and-set (Task Center status, cancel), paged listing."""

from __future__ import annotations

import threading

import pytest

from server.store import Store, StoreError, VersionConflict


def test_versions_count_the_writes(store: Store) -> None:
    assert store.get_doc_versioned("task", "t1") is None
    assert store.put_doc("task", "t1", {"state": "queued"}) == 1
    assert store.put_doc("task", "t1", {"state": "running"}) == 2
    assert store.get_doc_versioned("task", "t1") == ({"state": "running"}, 2)
    assert store.get_doc("task", "t1") == {"state": "running"}


def test_if_version_writes_only_over_the_version_read(store: Store) -> None:
    store.put_doc("task", "t1", {"state": "queued"})
    doc, version = store.get_doc_versioned("task", "t1")
    assert store.put_doc("task", "t1", {"state": "running"}, if_version=version) == version + 1
    with pytest.raises(VersionConflict) as refused:  # a stale reader (the cancel raced the worker)
        store.put_doc("task", "t1", {"state": "cancelled"}, if_version=version)
    assert isinstance(refused.value, StoreError)
    assert "expected version 1, found version 2" in str(refused.value)
    assert store.get_doc_versioned("task", "t1") == ({"state": "running"}, 2)


def test_if_version_zero_means_must_not_exist(store: Store) -> None:
    assert store.put_doc("lock", "export", {"owner": "a"}, if_version=0) == 1
    with pytest.raises(VersionConflict, match="expected no document, found version 1"):
        store.put_doc("lock", "export", {"owner": "b"}, if_version=0)
    with pytest.raises(VersionConflict, match="found no document"):
        store.put_doc("lock", "other", {"owner": "b"}, if_version=3)
    assert store.get_doc("lock", "other") is None
    assert store.get_doc("lock", "export") == {"owner": "a"}


def test_a_deleted_document_starts_again_at_version_one(store: Store) -> None:
    store.put_doc("task", "t1", {"n": 1})
    store.put_doc("task", "t1", {"n": 2})
    assert store.delete_doc("task", "t1")
    assert store.put_doc("task", "t1", {"n": 3}, if_version=0) == 1


def test_compare_and_set_from_threads_loses_no_update(store: Store) -> None:
    """Four threads each add 10 to a shared document by read / compare-and-set / retry."""
    store.put_doc("stats", "total", {"n": 0})

    def add() -> None:
        for _ in range(10):
            while True:
                doc, version = store.get_doc_versioned("stats", "total")
                try:
                    store.put_doc("stats", "total", {"n": doc["n"] + 1}, if_version=version)
                    break
                except VersionConflict:
                    continue

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get_doc_versioned("stats", "total") == ({"n": 40}, 41)


def test_list_docs_pages_by_key(store: Store) -> None:
    keys = [f"k{n:03d}" for n in range(25)]
    for key in reversed(keys):
        store.put_doc("task", key, {"key": key})
    store.put_doc("user", "k000", {"other": "kind"})
    assert [k for k, _ in store.list_docs("task")] == keys
    first = store.list_docs("task", limit=10)
    assert [k for k, _ in first] == keys[:10] and first[0][1] == {"key": "k000"}
    assert [k for k, _ in store.list_docs("task", after=first[-1][0], limit=10)] == keys[10:20]
    assert [k for k, _ in store.list_docs("task", after="k019")] == keys[20:]
    assert store.list_docs("task", after="k024") == []
    assert store.list_docs("task", limit=0) == []
