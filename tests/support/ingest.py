"""Helpers for tests that archive through the real pipeline into a real SqliteStore and search afterwards.

In a test module: ``store = pytest.fixture(sqlite_store)`` then ``find(store, keyword="...")``.
"""

from __future__ import annotations

from collections.abc import Iterator

from server.config import Config
from server.model import Message
from server.query.criteria import parse_criteria
from server.store.protocol import Store
from server.store.sqlite import SqliteStore

WIDE = {"from": "1900-01-01", "to": "2999-12-31"}


def sqlite_store(config: Config) -> Iterator[Store]:
    store = SqliteStore.from_config(config)
    try:
        yield store
    finally:
        store.close()


def find(store: Store, **criteria: str) -> list[Message]:
    """Every archived message matching ``criteria`` (search parameter names), any date."""
    store.refresh()
    params = {**WIDE, **criteria}
    return store.search(parse_criteria(params), limit=1000).results
