"""The Elasticsearch store for tests: osmem-server (one per session, a clone per test) or, when
``MAILARCHIVE_TEST_ES_URL`` is set, that real cluster with a unique index prefix per test."""

from __future__ import annotations

import atexit
import os
import uuid

import pytest
from elasticsearch import Elasticsearch

from server.config import Config, with_overrides
from server.store.elasticsearch import ElasticsearchStore
from tests.support.es_node import OsmemNode

_server = None


def osmem_server():  # noqa: ANN201 - osmem_server.OsmemServer, imported lazily
    """The session's osmem-server, started on first use (it also exits with this process)."""
    global _server
    if _server is None:
        from osmem_server import OsmemServer

        _server = OsmemServer.start()
        atexit.register(_server.close)
    return _server


def es_store(request: pytest.FixtureRequest) -> ElasticsearchStore:
    config: Config = request.getfixturevalue("config")
    url = os.environ.get("MAILARCHIVE_TEST_ES_URL")
    if url:
        prefix = f"mailarchive-test-{uuid.uuid4().hex[:12]}"
        store = ElasticsearchStore.from_config(with_overrides(config, store=url, es_index_prefix=prefix))
        request.addfinalizer(lambda: _delete_indices(url, prefix))
        return store
    clone = osmem_server().clone()
    request.addfinalizer(clone.close)
    test_config = with_overrides(config, store=clone.url)
    return ElasticsearchStore.from_config(test_config, node_class=OsmemNode)


def _delete_indices(url: str, prefix: str) -> None:
    with Elasticsearch(url) as es:
        quiet = es.options(ignore_status=404)
        quiet.indices.delete_index_template(name=f"{prefix}-messages")
        quiet.indices.delete(index=f"{prefix}-*")
