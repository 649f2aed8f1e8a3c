"""Open the configured store backend (``MAILARCHIVE_STORE``: ``sqlite`` or an Elasticsearch URL)."""

from __future__ import annotations

from server.config import Config
from server.store.protocol import StoreError, VersionConflict

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from server.store.interface import Store

__all__ = ["Store", "StoreError", "VersionConflict", "open_store"]


def open_store(config: Config) -> Store:
    if config.store.uses_elasticsearch:
        from server.store.elasticsearch import ElasticsearchStore

        return ElasticsearchStore.from_config(config)
    if config.store.url != "sqlite":
        raise StoreError(f"MAILARCHIVE_STORE must be 'sqlite' or an Elasticsearch URL (http://host:9200), got {config.store.url!r}")
    from server.store.sqlite import SqliteStore

    return SqliteStore.from_config(config)


def __getattr__(name: str) -> object:
    """``Store``, the protocol, imported on first use (``server.store.protocol``'s ``__getattr__`` says why)."""
    if name == "Store":
        from server.store.interface import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
