"""``SqliteStore``: the embedded store, one SQLite file under the data directory.

Composed of one mixin per concern; each uses ``self._conn()`` / ``self._write()`` from
ConnectionBase. The audit log's mixin (audit.py) joins the bases like the others.
"""

from __future__ import annotations

from server.config import Config
from server.store.sqlite.archive import ArchiveMixin
from server.store.sqlite.audit import AuditMixin
from server.store.sqlite.connection import ConnectionBase
from server.store.sqlite.directory import DirectoryMixin
from server.store.sqlite.documents import DocumentsMixin
from server.store.sqlite.messages import MessagesMixin
from server.store.sqlite.search import SearchMixin


class SqliteStore(MessagesMixin, SearchMixin, ArchiveMixin, DirectoryMixin, DocumentsMixin, AuditMixin, ConnectionBase):
    @classmethod
    def from_config(cls, config: Config) -> SqliteStore:
        return cls(config.sqlite_path)

    def reopen(self) -> SqliteStore:
        return type(self)(self.path)

    def storage_bytes(self) -> int | None:
        files = (self.path, self.path.with_name(self.path.name + "-wal"))
        return sum(f.stat().st_size for f in files if f.exists())

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"
