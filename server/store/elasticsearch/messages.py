"""Writing and reading archived messages in Elasticsearch.

A message lives in the monthly index of its date. Copies of one message can compute different
dates (no Date header: arrival time), so ``put_messages`` first looks the batch's ids up through
the read alias (one ``ids`` query), then per id either *creates* in the month of the first copy
(``op_type=create``: a concurrent writer makes it a conflict) or *merges* into the index where it
lives (``if_seq_no``/``if_primary_term``). A conflict re-reads and merges again, a few times.

Visibility: the message bulk refreshes the shards it wrote (``refresh=true``), so when
``put_messages`` returns its documents are durable (the translog is fsynced before ES
acknowledges) AND searchable — which lets the next batch's ``ids`` lookup find them in another
month, and the lease below be released. Not ``refresh=wait_for``: that parks the request until
the next scheduled refresh (up to ``refresh_interval``, 1 s), which was most of an import's time;
one forced refresh per batch of hundreds of messages makes segments no smaller than the
scheduled refresh does at that rate. Raw bytes go first (a message never points at missing
bytes), ``create`` by SHA-256: a conflict means already stored; they need no refresh (GET by
id is real-time).

Arrival sequence: the messages a round creates get one block of numbers (sequence.py) just
before their bulk request, and the block's lease is released when ``put_messages`` is done, so
the watermark never passes a message still being written. A create that loses a race to a
concurrent writer becomes a merge and its number is abandoned (a gap).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from elasticsearch import Elasticsearch

from server.model import Message
from server.store.common import codec
from server.store.common.documents import merge_into
from server.store.common.prepared import put_messages
from server.store.elasticsearch.bulk import Action, bulk
from server.store.elasticsearch.connection import ERRORS
from server.store.elasticsearch.documents import from_document, to_document
from server.store.elasticsearch.layout import Indices
from server.store.elasticsearch.sequence import ArchiveSequence, Lease
from server.store.protocol import PutResult, StoreError

MAX_CONFLICT_RETRIES = 5
LOOKUP_CHUNK = 1000


@dataclass
class _Stored:
    index: str
    seq_no: int
    primary_term: int
    source: dict[str, Any]


@dataclass
class _Group:
    """Every copy of one id in the batch: (position in results, document, raw bytes as stored)."""

    id: str
    copies: list[tuple[int, dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # raw: its stored source
    statuses: list[str] = field(default_factory=list)
    action: Action | None = None
    known: _Stored | None = None  # read in real time after a conflict (search may not see it yet)
    seq: int = 0  # the archive_seq allocated for creating it (kept across rounds while it is a create)


class PreparedMessage(NamedTuple):
    """A message made ready with no cluster (``prepare_message``; an import's parser processes)."""

    id: str
    doc: dict[str, Any]  # the document, search tokens included
    raw: dict[str, Any]  # the raw index's source: the bytes compressed, base64


def prepare_message(message: Message, raw: bytes, *, raw_sha256: str | None = None) -> PreparedMessage:
    """``Store.prepare_message`` of this backend: the document with its tokens, the compressed bytes."""
    doc = to_document(message, raw, raw_sha256=raw_sha256)
    data = base64.b64encode(codec.compress(raw)).decode("ascii")
    return PreparedMessage(message.id, doc, {"size": len(raw), "compression": "zstd", "data": data})


def _plan(group: _Group, stored: _Stored | None, names: Indices) -> None:
    """Statuses of the copies against ``stored`` and the one write (if any) that gets there."""
    current = None if stored is None else {**stored.source}
    group.statuses = []
    for _, doc, _ in group.copies:
        if current is None:
            current, status = dict(doc), "created"
        else:
            status = "merged" if merge_into(current, doc) else "unchanged"
        group.statuses.append(status)
    if stored is None:
        date = group.copies[0][1]["date"]
        index = names.month(int(date[:4]), int(date[5:7]))
        current["archive_seq"] = group.seq
        group.action = Action("create", {"_index": index, "_id": group.id}, current)
    elif "merged" in group.statuses:
        meta = {
            "_index": stored.index,
            "_id": group.id,
            "if_seq_no": stored.seq_no,
            "if_primary_term": stored.primary_term,
        }
        group.action = Action("index", meta, current)
    else:
        group.action = None


def _status(exc: Exception) -> int | None:
    return getattr(getattr(exc, "meta", None), "status", None)


class MessagesMixin:
    es: Elasticsearch
    names: Indices
    sequence: ArchiveSequence

    prepare_message = staticmethod(prepare_message)

    def bulk_import(self) -> AbstractContextManager[None]:
        """Every bulk request is already acknowledged only once written: nothing to relax."""
        return nullcontext()

    def put_messages(self, items: Sequence[tuple[Message, bytes]]) -> list[PutResult]:
        return put_messages(self, items)  # type: ignore[arg-type]

    def put_prepared(self, rows: Sequence[PreparedMessage]) -> list[PutResult]:
        results: list[PutResult | None] = [None] * len(rows)
        groups: dict[str, _Group] = {}
        for position, row in enumerate(rows):
            groups.setdefault(row.id, _Group(row.id)).copies.append((position, row.doc, row.raw))
        pending = list(groups.values())
        leases: list[Lease] = []
        try:
            for _ in range(MAX_CONFLICT_RETRIES + 1):
                if not pending:
                    break
                pending = self._put_round(pending, results, leases)
        finally:
            for lease in leases:
                self.sequence.release(lease)
        for group in pending:
            self._fail(group, results, "version conflict: other writers kept changing this message")
        return results  # type: ignore[return-value]

    def _put_round(self, groups: list[_Group], results: list[PutResult | None], leases: list[Lease]) -> list[_Group]:
        """Plan every group against what is stored, write; returns the groups that hit a conflict."""
        stored = self._lookup([g.id for g in groups])
        for group in groups:
            _plan(group, group.known or stored.get(group.id), self.names)
        creating = [g for g in groups if g.action and g.action.op == "create"]
        for group, error in zip(creating, self._put_raws(creating), strict=True):
            if error:
                self._fail(group, results, f"raw bytes not stored: {error}")
                group.action = None
        writing = [g for g in groups if g.action]
        self._number([g for g in writing if g.action.op == "create"], leases)  # type: ignore[union-attr]
        outcomes = bulk(self.es, [g.action for g in writing], refresh=True)  # type: ignore[misc]
        retry = []
        for group, outcome in zip(writing, outcomes, strict=True):
            if outcome.get("status") == 409:
                group.known = self._get_stored(group.action.meta["_index"], group.id)  # type: ignore[union-attr]
                retry.append(group)
            elif "error" in outcome:
                self._fail(group, results, outcome["error"])
        retrying = {g.id for g in retry}
        for group in groups:
            if group.id not in retrying and results[group.copies[0][0]] is None:
                for (position, _, _), status in zip(group.copies, group.statuses, strict=True):
                    seq = group.seq if status == "created" else 0
                    results[position] = PutResult(group.id, status, archive_seq=seq)  # type: ignore[arg-type]
        return retry

    def _number(self, creating: list[_Group], leases: list[Lease]) -> None:
        """Give the creates that have no number yet one leased block (one allocation per round)."""
        new = [g for g in creating if not g.seq]
        if not new:
            return
        lease = self.sequence.allocate(len(new))
        leases.append(lease)
        for group, seq in zip(new, range(lease.lo, lease.hi + 1), strict=True):
            group.seq = seq
            group.action.source["archive_seq"] = seq  # type: ignore[union-attr,index]

    @staticmethod
    def _fail(group: _Group, results: list[PutResult | None], error: str) -> None:
        for position, _, _ in group.copies:
            results[position] = PutResult(group.id, "failed", error)

    def _put_raws(self, groups: list[_Group]) -> list[str | None]:
        actions = []
        for group in groups:
            _, doc, source = group.copies[0]
            actions.append(Action("create", {"_index": self.names.versioned("raw"), "_id": doc["sha256"]}, source))
        outcomes = bulk(self.es, actions)
        return [None if o.get("status") == 409 else o.get("error") for o in outcomes]

    def _lookup(self, ids: list[str]) -> dict[str, _Stored]:
        """Where each id lives, across every monthly index (search through the read alias)."""
        found: dict[str, _Stored] = {}
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start : start + LOOKUP_CHUNK]
            for hit in self._search_hits(
                query={"ids": {"values": chunk}}, size=len(chunk), seq_no_primary_term=True
            ):
                found[hit["_id"]] = _Stored(
                    hit["_index"], hit["_seq_no"], hit["_primary_term"], hit["_source"]
                )
        return found

    def _get_stored(self, index: str, message_id: str) -> _Stored | None:
        try:
            doc = self.es.get(index=index, id=message_id)
        except ERRORS as exc:
            if _status(exc) == 404:
                return None
            raise StoreError(f"reading {message_id} from {index} failed: {exc}") from exc
        return _Stored(doc["_index"], doc["_seq_no"], doc["_primary_term"], doc["_source"])

    def _search_hits(self, **body: Any) -> list[dict[str, Any]]:
        try:
            response = self.es.search(index=self.names.messages, ignore_unavailable=True, **body)
        except ERRORS as exc:
            raise StoreError(f"search on {self.names.messages} failed: {exc}") from exc
        return response["hits"]["hits"]

    def get_message(self, message_id: str) -> Message | None:
        found = self.get_messages([message_id])
        return found[0] if found else None

    def get_messages(self, ids: Sequence[str]) -> list[Message]:
        wanted = list(dict.fromkeys(ids))
        stored = self._lookup(wanted)
        return [from_document(stored[i].source) for i in wanted if i in stored]

    def get_raw(self, sha256: str) -> bytes | None:
        try:
            response = self.es.get(index=self.names.raw, id=sha256)
        except ERRORS as exc:
            if _status(exc) == 404:
                return None
            raise StoreError(f"reading raw {sha256} from {self.names.raw} failed: {exc}") from exc
        return codec.decompress(base64.b64decode(response["_source"]["data"]))

    def get_raws(self, sha256s: Sequence[str]) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(sha256s))
        if not wanted:
            return {}
        try:
            response = self.es.mget(index=self.names.raw, ids=wanted)
        except ERRORS as exc:
            raise StoreError(f"reading {len(wanted)} raws from {self.names.raw} failed: {exc}") from exc
        return {doc["_id"]: codec.decompress(base64.b64decode(doc["_source"]["data"]))
                for doc in response["docs"] if doc.get("found")}  # fmt: skip

    def raw_keys(self, *, batch_size: int = 1000) -> Iterator[str]:
        """A scroll in index order without the bytes (``_id`` is the key; it cannot be sorted on)."""
        try:
            page = self.es.search(index=self.names.raw, query={"match_all": {}}, sort=["_doc"], size=batch_size,
                                  _source=False, scroll="2m")  # fmt: skip
            scroll_id = page.get("_scroll_id")
            try:
                while hits := page["hits"]["hits"]:
                    yield from (hit["_id"] for hit in hits)
                    page = self.es.scroll(scroll_id=scroll_id, scroll="2m")
                    scroll_id = page.get("_scroll_id", scroll_id)
            finally:
                if scroll_id:
                    self.es.options(ignore_status=404).clear_scroll(scroll_id=scroll_id)
        except ERRORS as exc:
            raise StoreError(f"listing raw keys of {self.names.raw} failed: {exc}") from exc
