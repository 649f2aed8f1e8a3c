"""Tamper with a store's audit log behind the application's back, as an attacker with database access
would: raw SQL after dropping the append-only triggers, or the raw Elasticsearch client.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

from server.audit.chain import entry_hash
from server.store import Store
from server.store.protocol import AuditRecord


class Tamper:
    """Backend-neutral edits built on two raw primitives: overwrite the entry at a seq, remove one."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def entry(self, seq: int) -> AuditRecord:
        return next(r for r in self.store.audit_scan(from_seq=seq) if r.seq == seq)

    def edit_details(self, seq: int) -> None:
        record = self.entry(seq)
        self.put(record._replace(details={**record.details, "hits": 0}))

    def delete(self, *seqs: int) -> None:
        for seq in seqs:
            self.remove(seq)

    def swap(self, a: int, b: int) -> None:
        first, second = self.entry(a), self.entry(b)
        self.put(second._replace(seq=a))
        self.put(first._replace(seq=b))

    def rewrite_from(self, seq: int, **changes: Any) -> None:
        """Change entries from ``seq`` on and recompute every hash: a chain valid in itself."""
        prev = self.entry(seq - 1).hash if seq > 1 else None
        for record in list(self.store.audit_scan(from_seq=seq)):
            forged = record._replace(**changes, prev_hash=prev or record.prev_hash)
            forged.hash = entry_hash(forged)
            self.put(forged)
            prev = forged.hash

    def put(self, record: AuditRecord) -> None:
        raise NotImplementedError

    def remove(self, seq: int) -> None:
        raise NotImplementedError


class SqliteTamper(Tamper):
    def _run(self, *statements: tuple[str, tuple]) -> None:
        with closing(sqlite3.connect(self.store.path, isolation_level=None)) as conn:
            conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
            conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
            for sql, args in statements:
                conn.execute(sql, args)

    def put(self, record: AuditRecord) -> None:
        from server.store.sqlite.audit import COLUMNS, audit_row

        insert = f"INSERT INTO audit ({', '.join(COLUMNS)}, search_text) VALUES ({', '.join('?' * 12)})"
        self._run(("DELETE FROM audit WHERE seq = ?", (record.seq,)), (insert, audit_row(record)))

    def remove(self, seq: int) -> None:
        self._run(("DELETE FROM audit WHERE seq = ?", (seq,)))


def tamper_for(store: Store) -> Tamper:
    if any(t.__name__ == "SqliteStore" for t in type(store).__mro__):  # the staging variant too
        return SqliteTamper(store)
    from tests.support.es_audit_tamper import EsTamper

    return EsTamper(store)
