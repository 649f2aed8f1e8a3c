"""The Elasticsearch arrival sequence: leased blocks and the stable watermark (sequence.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.store.elasticsearch import ElasticsearchStore, sequence
from tests.conformance.factory import make, put
from tests.support.es import es_store


@pytest.fixture
def store(request: pytest.FixtureRequest) -> Iterator[ElasticsearchStore]:
    backend = es_store(request)
    yield backend
    backend.close()


def walk(store: ElasticsearchStore) -> list[str]:
    return [m.id for m in store.scan_archived(0, 100)]


def test_the_watermark_stays_below_a_block_still_being_written(store: ElasticsearchStore) -> None:
    """Another writer holds numbers 2-6 while it writes; a later batch (7) is committed first. A
    reader must not pass 1 until the block is done, or it would skip those messages for ever."""
    put(store, [make("first")])
    in_flight = store.sequence.allocate(5)
    put(store, [make("later")])
    assert (in_flight.lo, in_flight.hi) == (2, 6)
    assert store.get_message("later").archive_seq == 7
    assert store.max_archive_seq() == 1
    assert walk(store) == ["first"]
    store.sequence.release(in_flight)  # its messages written (or abandoned: gaps)
    assert store.max_archive_seq() == 7
    assert walk(store) == ["first", "later"]


def test_a_crashed_writer_holds_the_watermark_only_until_its_lease_expires(
    store: ElasticsearchStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(store, [make("first")])
    monkeypatch.setattr(sequence, "LEASE_SECONDS", -1)  # a lease that has already run out
    store.sequence.allocate(3)  # ... and its writer never comes back
    monkeypatch.undo()
    put(store, [make("later")])
    assert store.max_archive_seq() == 5
    assert walk(store) == ["first", "later"]


def test_a_failed_batch_releases_its_lease(store: ElasticsearchStore) -> None:
    """A bulk that fails for the whole request (here: a document the mapping refuses fails alone,
    the others land) leaves no lease behind, so the watermark moves on."""
    bad, raw = make("bad")
    bad.size = "huge"  # type: ignore[assignment]
    results = store.put_messages([(bad, raw), make("good")])
    assert [r.status for r in results] == ["failed", "created"]
    found = store.es.get(index=store.names.docs, id=sequence.DOC_ID)["_source"]
    assert found["body"]["leases"] == []
    assert store.max_archive_seq() == found["value"] >= store.get_message("good").archive_seq
