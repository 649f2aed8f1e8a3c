"""The Elasticsearch store for tests: the session's real node (tests/support/es_node.py) or, when
``MAILARCHIVE_TEST_ES_URL`` is set, that cluster; every test gets its own index prefix, whose
indices and template are deleted afterwards."""

from __future__ import annotations

import uuid

import pytest
from elasticsearch import Elasticsearch

from server.config import Config, with_overrides
from server.store.elasticsearch import ElasticsearchStore


def unique_prefix() -> str:
    return f"mailarchive-test-{uuid.uuid4().hex[:12]}"


def es_config(request: pytest.FixtureRequest, prefix: str | None = None) -> Config:
    """The test's config pointed at the session's engine, with a fresh index prefix (cleaned up)."""
    config: Config = request.getfixturevalue("config")
    url: str = request.getfixturevalue("es_url")
    prefix = prefix or unique_prefix()
    request.addfinalizer(lambda: delete_prefix(url, prefix))
    return with_overrides(config, store=url, es_index_prefix=prefix)


def es_store(request: pytest.FixtureRequest) -> ElasticsearchStore:
    return ElasticsearchStore.from_config(es_config(request))


def delete_prefix(url: str, prefix: str) -> None:
    """Delete the prefix's indices by name (clusters refuse wildcard deletes by default) and template."""
    with Elasticsearch(url) as es:
        quiet = es.options(ignore_status=404)
        quiet.indices.delete_index_template(name=f"{prefix}-*")
        names = sorted(quiet.indices.get(index=f"{prefix}-*", expand_wildcards="all").body)
        for start in range(0, len(names), 50):
            quiet.indices.delete(index=",".join(names[start : start + 50]))
