"""``ElasticsearchStore``: the production store, composed of one mixin per concern.

Each mixin uses ``self.es`` (the client) and ``self.names`` (index names, connection.py). The
audit log's mixin (audit.py) joins the bases like the others.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Any

from elasticsearch import Elasticsearch

from server.config import Config
from server.store.elasticsearch.archive import ArchiveMixin
from server.store.elasticsearch.audit import AuditMixin
from server.store.elasticsearch.connection import ERRORS, client_options
from server.store.elasticsearch.directory import DirectoryMixin
from server.store.elasticsearch.layout import Indices, ensure_layout
from server.store.elasticsearch.messages import MessagesMixin
from server.store.elasticsearch.search import SearchMixin
from server.store.elasticsearch.sequence import ArchiveSequence
from server.store.elasticsearch.settings import SettingsMixin
from server.store.protocol import StoreError


class ElasticsearchStore(MessagesMixin, SearchMixin, ArchiveMixin, DirectoryMixin, SettingsMixin, AuditMixin):
    def __init__(self, es: Elasticsearch, prefix: str, *, options: dict[str, Any] | None = None) -> None:
        """``options``: what ``es`` was made with, for ``reopen``."""
        self.es = es
        self._options = options
        self.names = Indices(prefix)
        self.audit_index = self.names.audit
        self.sequence = ArchiveSequence(es, self.names.docs)
        ensure_layout(es, self.names)

    @classmethod
    def from_config(cls, config: Config, *, client: Elasticsearch | None = None) -> ElasticsearchStore:
        """``client``: an already configured client (tests put a proxy in front of the cluster)."""
        if client is not None:
            return cls(client, config.store.index_prefix)
        options = client_options(config)
        return cls(Elasticsearch(**options), config.store.index_prefix, options=options)

    def reopen(self) -> ElasticsearchStore:
        """A new client: its pooled sockets are this process's own. A store made around a given
        client (a test's proxy) reopens on that client's nodes."""
        options = self._options or {"hosts": [node.config for node in self.es.transport.node_pool.all()]}
        return type(self)(Elasticsearch(**options), self.names.prefix, options=options)

    def streaming_reads(self) -> AbstractContextManager[None]:
        """Nothing to do: the client keeps no cache of what it read."""
        return contextlib.nullcontext()

    def refresh(self) -> None:
        indices = [
            self.names.messages,
            self.names.raw,
            self.names.directory,
            self.names.docs,
            self.audit_index,
        ]
        try:
            self.es.indices.refresh(index=",".join(indices), ignore_unavailable=True)
        except ERRORS as exc:
            raise StoreError(f"refresh of {self.names.prefix}-* failed: {exc}") from exc

    def storage_bytes(self) -> int | None:
        try:
            stats = self.es.indices.stats(index=f"{self.names.prefix}-*", metric="store")
        except ERRORS as exc:
            raise StoreError(f"index statistics of {self.names.prefix}-* failed: {exc}") from exc
        size = stats.get("_all", {}).get("primaries", {}).get("store", {}).get("size_in_bytes")
        return int(size) if size is not None else None

    def close(self) -> None:
        self.es.close()

    def __repr__(self) -> str:
        return f"ElasticsearchStore(prefix={self.names.prefix!r})"
