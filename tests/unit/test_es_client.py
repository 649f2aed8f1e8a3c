"""How ``ElasticsearchStore.from_config`` builds the client from the configuration."""

from __future__ import annotations

import certifi
from elasticsearch import Elasticsearch

from server.config import Config, with_overrides
from server.store.elasticsearch.connection import client_options
from server.store.elasticsearch.layout import Indices


def _client(config: Config, **es: str | None) -> Elasticsearch:
    return Elasticsearch(**client_options(with_overrides(config, **es)))


def test_api_key(config: Config) -> None:
    client = _client(
        config, store="https://es.example:9200", es_api_key="a2V5OnNlY3JldA==", es_ca_certs=certifi.where()
    )
    assert client._headers["authorization"] == "ApiKey a2V5OnNlY3JldA=="
    node = client.transport.node_pool.all()[0]
    assert (node.config.host, node.config.port, node.config.scheme) == ("es.example", 9200, "https")
    assert node.config.ca_certs == certifi.where()


def test_basic_auth(config: Config) -> None:
    client = _client(config, store="http://es.example:9200", es_username="archive", es_password="s3cret")
    assert client._headers["authorization"] == "Basic YXJjaGl2ZTpzM2NyZXQ="


def test_no_credentials_no_header(config: Config) -> None:
    client = _client(config, store="http://localhost:9200")
    assert "authorization" not in client._headers


def test_every_index_carries_the_prefix() -> None:
    names = Indices("acme")
    assert (names.messages, names.raw, names.docs, names.directory, names.audit) == (
        "acme-messages", "acme-raw", "acme-docs", "acme-directory", "acme-audit",
    )  # fmt: skip
    assert names.month(2024, 5) == "acme-messages-v3-2024.05" and names.pattern == "acme-messages-v3-*"
    assert [names.versioned(k) for k in ("raw", "docs", "directory", "audit")] == [
        "acme-raw-v1", "acme-docs-v2", "acme-directory-v1", "acme-audit-v2",
    ]  # fmt: skip
    assert names.parse_month("acme-messages-2024.05") == (1, 2024, 5)  # the first, unversioned layout
    assert names.parse_month("acme-messages-v3-2024.05") == (3, 2024, 5)
    assert names.parse_month("acme-messages-v3-x") is None
