"""A SQLite store whose every put stages its filter keys, as ``mailarchive import``'s puts do, and
never merges them on its own (only a purge does): the conformance suite run against it proves
that every read sees staged keys exactly as it sees ``message_keys`` (staged_keys.py)."""

from __future__ import annotations

from server.store.sqlite import SqliteStore
from server.store.sqlite.connection import _Group


class StagingSqliteStore(SqliteStore):
    def _staging(self) -> _Group | None:
        return _Group()  # a fresh count each batch: never reaches STAGE_ROWS, so nothing is merged
