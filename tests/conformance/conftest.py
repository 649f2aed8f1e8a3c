"""Every test here runs unchanged against both backends (``store`` is parametrized), SQLite
twice: as journal mail writes it, and with every filter key staged as an import writes it.

The Elasticsearch run uses the session's real node (tests/support/es_node.py), or the cluster
at ``MAILARCHIVE_TEST_ES_URL`` when that is set (see tests/support/es.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.config import Config
from server.store import Store


@pytest.fixture(params=["sqlite", "sqlite-staged", "elasticsearch"])
def store(request: pytest.FixtureRequest, config: Config) -> Iterator[Store]:
    if request.param == "sqlite":
        from server.store.sqlite import SqliteStore

        backend: Store = SqliteStore.from_config(config)
    elif request.param == "sqlite-staged":  # every put stages its filter keys, as an import's do
        from tests.support.staging import StagingSqliteStore

        backend = StagingSqliteStore.from_config(config)
    else:
        from tests.support.es import es_store

        backend = es_store(request)
    try:
        yield backend
    finally:
        backend.close()
