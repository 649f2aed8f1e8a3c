"""Tamper with the Elasticsearch audit index through the raw client (see audit_tamper.py)."""

from __future__ import annotations

from server.store.elasticsearch.audit import audit_doc
from server.store.protocol import AuditRecord
from tests.support.audit_tamper import Tamper


class EsTamper(Tamper):
    def put(self, record: AuditRecord) -> None:
        self.store.es.index(index=self.store.audit_index, id=str(record.seq), document=audit_doc(record), refresh=True)

    def remove(self, seq: int) -> None:
        self.store.es.delete(index=self.store.audit_index, id=str(seq), refresh=True)
