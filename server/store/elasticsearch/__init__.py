"""The Elasticsearch backend (production store); see docs/elasticsearch.md."""

from server.store.elasticsearch.store import ElasticsearchStore

__all__ = ["ElasticsearchStore"]
