"""What reconcile and the summary build on: ``raw_keys`` (every blob once, across batches) and ``storage_bytes``."""

from __future__ import annotations

from server.store import Store
from tests.conformance.factory import make, put


def test_raw_keys_lists_each_blob_once_across_batches(store: Store) -> None:
    items = [make(f"m{n}") for n in range(7)]
    put(store, items)
    put(store, [make("m0")])  # the same message again: no second blob
    expected = {message.sha256 for message, _raw in items}
    keys = list(store.raw_keys(batch_size=3))
    assert len(keys) == len(expected) and set(keys) == expected


def test_raw_keys_of_an_empty_archive(store: Store) -> None:
    assert list(store.raw_keys()) == []


def test_storage_size_grows_with_the_archive(store: Store) -> None:
    before = store.storage_bytes()
    put(store, [make(f"s{n}", body="x" * 20_000) for n in range(20)])
    after = store.storage_bytes()
    assert after is not None and after > (before or 0)
