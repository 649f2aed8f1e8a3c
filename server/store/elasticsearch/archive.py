"""Arrival order, retention and legal holds on Elasticsearch (numbers and watermark: sequence.py)."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from server.model import Message
from server.store.elasticsearch.connection import Indices
from server.store.elasticsearch.documents import TOKEN_FIELDS, from_document
from server.store.elasticsearch.sequence import ArchiveSequence

_SOURCE_EXCLUDES = list(TOKEN_FIELDS.values())
BY_SEQ = [{"archive_seq": {"order": "asc"}}]


class ArchiveMixin:
    """Uses ``self._search_hits`` and the lookups of MessagesMixin (messages.py)."""

    es: Elasticsearch
    names: Indices
    sequence: ArchiveSequence

    def max_archive_seq(self) -> int:
        return self.sequence.watermark()

    def scan_archived(self, after_seq: int, limit: int) -> list[Message]:
        """Read the watermark first, then search below it: whatever the search sees above it is
        left for the next call (it may be part of a block whose lower numbers are still in flight)."""
        top = self.sequence.watermark()
        if top <= after_seq or limit <= 0:
            return []
        query = {"range": {"archive_seq": {"gt": after_seq, "lte": top}}}
        hits = self._search_hits(query=query, sort=BY_SEQ, size=limit, _source={"excludes": _SOURCE_EXCLUDES})
        return [from_document(h["_source"]) for h in hits]
