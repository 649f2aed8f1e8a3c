"""Arrival order, retention and legal holds on Elasticsearch (numbers and watermark: sequence.py).

Purge: ``delete_messages`` deletes the documents, then each raw blob no message refers to any more
(a terms aggregation over the deleted ones' SHA-256 after the deletions are visible). A writer
that archives a new message with the very bytes of a blob being purged in that instant could
find the blob present, and lose it to the purge a moment later; the purge only ever touches mail
whose retention ended years after its bytes first arrived, and ``mailarchive verify`` reports any
message whose blob is missing.

Whole months: ``expired_partitions`` names the monthly indices every message of which has expired,
carries no hold and is at or below the purge's watermark; ``drop_partition`` blocks writes to such
an index, checks again (a copy merged or a hold placed meanwhile keeps it), hands the ids to the
purge's ledger, deletes the index in one request and then the blobs nothing refers to any more.
A write refused by the block is reported "failed" to its writer, which retries it (the SMTP spool,
the importer's failure count): it lands in a fresh index of that month after the drop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from server.model import ArrivalHead, Message, format_time
from server.store.common.documents import set_holds
from server.store.elasticsearch.bulk import Action, bulk
from server.store.elasticsearch.connection import ERRORS
from server.store.elasticsearch.documents import SOURCE_EXCLUDES, from_document
from server.store.elasticsearch.layout import Indices
from server.store.elasticsearch.messages import MAX_CONFLICT_RETRIES
from server.store.elasticsearch.sequence import ArchiveSequence
from server.store.protocol import PartitionMember, StoreError

BY_SEQ = [{"archive_seq": {"order": "asc"}}]
SEQ_PAGE = 1000
MESSAGE_SOURCE = {"excludes": SOURCE_EXCLUDES}  # what building a Message reads
HEAD_SOURCE = {"includes": list(ArrivalHead._fields)}  # an arrival head's four fields, nothing else


class ArchiveMixin:
    """Uses ``_search_hits``/``_lookup`` of MessagesMixin (messages.py) and ``_search`` of SearchMixin."""

    es: Elasticsearch
    names: Indices
    sequence: ArchiveSequence

    def max_archive_seq(self) -> int:
        return self.sequence.watermark()

    def scan_archived(self, after_seq: int, limit: int) -> list[Message]:
        return [from_document(s) for s in self._archived(after_seq, limit, MESSAGE_SOURCE)]

    def scan_archived_heads(self, after_seq: int, limit: int) -> list[ArrivalHead]:
        """Only the four fields leave the cluster: a window's pages are a fraction of the size."""
        return [ArrivalHead(s["archive_seq"], s["id"], s["sha256"], s["size"]) for s in self._archived(after_seq, limit, HEAD_SOURCE)]

    def _archived(self, after_seq: int, limit: int, source: dict[str, Any]) -> list[dict[str, Any]]:
        """Read the watermark first, then search below it: whatever the search sees above it is
        left for the next call (it may be part of a block whose lower numbers are still in flight)."""
        top = self.sequence.watermark()
        return self._by_seq([{"range": {"archive_seq": {"lte": top}}}], [], after_seq, limit, source) if top > after_seq else []

    def scan_expired(self, now: datetime, limit: int, after_seq: int = 0) -> list[Message]:
        expired = [{"range": {"retention_until": {"lt": format_time(now)}}}]
        must_not = [{"exists": {"field": "legal_holds"}}]
        return [from_document(s) for s in self._by_seq(expired, must_not, after_seq, limit, MESSAGE_SOURCE)]

    def _by_seq(self, filters: list[dict[str, Any]], must_not: list[dict[str, Any]], after_seq: int, limit: int,
                source: dict[str, Any]) -> list[dict[str, Any]]:  # fmt: skip
        """The ``source`` of the matches above ``after_seq`` in ascending seq, ``limit`` at most, in
        pages (the numbers are unique, so each page starts above the last one; any ``limit`` stays
        under the result window)."""
        out: list[dict[str, Any]] = []
        while len(out) < limit:
            size = min(SEQ_PAGE, limit - len(out))
            query = {"bool": {"filter": [*filters, {"range": {"archive_seq": {"gt": after_seq}}}], "must_not": must_not}}
            hits = self._search_hits(query=query, sort=BY_SEQ, size=size, _source=source)
            out += [h["_source"] for h in hits]
            if len(hits) < size:
                break
            after_seq = out[-1]["archive_seq"]
        return out

    def delete_messages(self, ids: Sequence[str]) -> int:
        """Delete the documents (refresh=wait_for, so the reference check below sees it), then the
        blobs that no message refers to any more, found with one terms aggregation."""
        stored = self._lookup(list(dict.fromkeys(ids)))
        if not stored:
            return 0
        actions = [Action("delete", {"_index": s.index, "_id": i}) for i, s in stored.items()]
        outcomes = bulk(self.es, actions, refresh="wait_for")
        deleted = [i for i, o in zip(stored, outcomes, strict=True) if o.get("status") in (200, 404)]
        failures = [o["error"] for o in outcomes if "error" in o and o.get("status") != 404]
        failures += self._delete_orphan_blobs({stored[i].source["sha256"] for i in deleted})
        if failures:
            raise StoreError(f"purge: {len(failures)} deletions failed ({len(deleted)} messages deleted): {failures[0]}")
        return len(deleted)

    def _delete_orphan_blobs(self, shas: set[str]) -> list[Any]:
        """Delete the raw blobs of ``shas`` that no message refers to any more; the failures."""
        failures: list[Any] = []
        ordered = sorted(shas)
        for start in range(0, len(ordered), SEQ_PAGE):
            chunk = ordered[start : start + SEQ_PAGE]
            still = self._search(query={"terms": {"sha256": chunk}}, size=0,
                                 aggs={"shas": {"terms": {"field": "sha256", "size": len(chunk)}}})  # fmt: skip
            referenced = {b["key"] for b in still.get("aggregations", {}).get("shas", {}).get("buckets", [])}
            orphans = [Action("delete", {"_index": self.names.versioned("raw"), "_id": sha}) for sha in chunk if sha not in referenced]
            failures += [o["error"] for o in bulk(self.es, orphans, refresh="wait_for") if "error" in o and o.get("status") != 404]
        return failures

    # --- whole monthly indices ----------------------------------------------------------------
    def expired_partitions(self, now: datetime, max_seq: int) -> list[str]:
        return [index for index in self._months() if self._all_droppable(index, now, max_seq)]

    def drop_partition(self, name: str, now: datetime, max_seq: int,
                       before_drop: Callable[[list[PartitionMember]], None]) -> int:  # fmt: skip
        if name not in self._months():
            raise StoreError(f"{name} is not a monthly message index of this archive")
        self._write_block(name, True)
        try:
            if not self._all_droppable(name, now, max_seq):
                self._write_block(name, False)
                return 0
            members = self._members(name)
            before_drop(members)
            self.es.indices.delete(index=name)
        except BaseException:
            with suppress(*ERRORS):
                self._write_block(name, False)
            raise
        self.es.indices.refresh(index=self.names.messages, ignore_unavailable=True)
        failures = self._delete_orphan_blobs({m.sha256 for m in members})
        if failures:
            raise StoreError(f"dropped {name}, but {len(failures)} of its blobs could not be deleted: {failures[0]}")
        return len(members)

    def _months(self) -> list[str]:
        try:
            holders = self.es.indices.get_alias(name=self.names.messages, ignore_unavailable=True)
        except ERRORS as exc:
            if getattr(getattr(exc, "meta", None), "status", None) == 404:
                return []
            raise StoreError(f"listing the monthly indices failed: {exc}") from exc
        return sorted(i for i in holders if self.names.parse_month(i) is not None)

    def _all_droppable(self, index: str, now: datetime, max_seq: int) -> bool:
        """Not empty, and every document expired before ``now``, unheld and at or below ``max_seq``."""
        droppable = {"bool": {"filter": [{"range": {"retention_until": {"lt": format_time(now)}}},
                                         {"range": {"archive_seq": {"lte": max_seq}}}],
                              "must_not": [{"exists": {"field": "legal_holds"}}]}}  # fmt: skip
        try:
            self.es.indices.refresh(index=index)
            total = self.es.count(index=index)["count"]
            return total > 0 and self.es.count(index=index, query=droppable)["count"] == total
        except ERRORS as exc:
            raise StoreError(f"counting {index} failed: {exc}") from exc

    def _members(self, index: str) -> list[PartitionMember]:
        out: list[PartitionMember] = []
        after = 0
        while True:
            page = self.es.search(index=index, query={"range": {"archive_seq": {"gt": after}}}, sort=BY_SEQ,
                                  size=SEQ_PAGE, _source=["id", "archive_seq", "sha256"])["hits"]["hits"]  # fmt: skip
            out += [PartitionMember(h["_source"]["id"], h["_source"]["archive_seq"], h["_source"]["sha256"]) for h in page]
            if len(page) < SEQ_PAGE:
                return out
            after = out[-1].archive_seq

    def _write_block(self, index: str, on: bool) -> None:
        self.es.indices.put_settings(index=index, settings={"index.blocks.write": on})

    def set_legal_hold(self, ids: Sequence[str], hold_id: str, on: bool) -> int:
        if not hold_id:
            raise StoreError("a legal hold needs an id")
        return self._rewrite(ids, lambda doc: set_holds(doc, hold_id, on), "legal hold")

    def set_retention(self, updates: Mapping[str, datetime]) -> int:
        def change(doc: dict[str, Any]) -> bool:
            doc["retention_until"] = format_time(updates[doc["id"]])
            return True

        return self._rewrite(list(updates), change, "retention")

    def _rewrite(self, ids: Sequence[str], change: Callable[[dict[str, Any]], bool], what: str) -> int:
        """Apply ``change`` to each stored document and write the changed ones back on the condition
        that nobody wrote them meanwhile (``if_seq_no``); a conflict reads again and re-applies."""
        stored = self._lookup(list(dict.fromkeys(ids)))
        changed = 0
        for _ in range(MAX_CONFLICT_RETRIES + 1):
            writes = [(i, s) for i, s in stored.items() if change(s.source)]
            outcomes = bulk(self.es, [_conditional(i, s) for i, s in writes], refresh="wait_for")
            conflicts = {}
            for (message_id, old), outcome in zip(writes, outcomes, strict=True):
                if outcome.get("status") == 409:  # read it again in real time (search may lag behind)
                    if (again := self._get_stored(old.index, message_id)) is not None:
                        conflicts[message_id] = again
                elif "error" in outcome:
                    raise StoreError(f"{what} update of {message_id} failed: {outcome['error']}")
                else:
                    changed += 1
            if not conflicts:
                return changed
            stored = conflicts
        raise StoreError(f"{what} update: other writers kept changing {len(stored)} messages")


def _conditional(message_id: str, stored: Any) -> Action:
    meta = {"_index": stored.index, "_id": message_id, "if_seq_no": stored.seq_no, "if_primary_term": stored.primary_term}
    return Action("index", meta, stored.source)
