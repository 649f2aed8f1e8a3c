"""The embedded SQLite/FTS5 store backend (see store.py, schema.py and keys.py for the design)."""

from server.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
