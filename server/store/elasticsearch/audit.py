"""The audit log in Elasticsearch: one index behind the alias ``<prefix>-audit`` (mapping
``mappings/audit-v2.json``, see layout.py), document ``_id`` = ``seq``.

Append-only by construction: entries are written with ``op_type=create``, which fails with a
conflict when that ``_id`` exists, so two writers racing for a seq cannot both win and nothing the
application does overwrites an entry. "seq = last + 1" is checked with a real-time GET of
``seq - 1`` (GETs see unrefreshed writes), so a gap is refused too.

Visibility: an append does not refresh (it returns once the entry is in the translog, fsync'd:
durable). The readers refresh first instead — ``audit_last``, ``audit_query`` and
``audit_scan`` — so each sees every entry whose append returned before it, from any process,
as before. Appends are the hot path (one per audited operation: every search), reads are rare
(a writer's first entry, a lost race, the audit pages, verify), and a refresh with nothing
pending costs next to nothing; a refresh on each append cost a search ~10–25 ms.

The keyword filter is a ``wildcard`` query (a substring match, the user's ``*``/``?`` escaped) on
``value_text``: the lower-cased target and detail *values*, never the key names (audit-v2; the
migration from audit-v1 computes it for every entry). ``search_text`` (target + details as JSON)
is kept for readers of v1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from elasticsearch import ConflictError, Elasticsearch

from server.model import format_time
from server.store.common.audit_records import record_from_dict, record_to_dict, search_text, value_text
from server.store.elasticsearch.connection import ERRORS
from server.store.protocol import AuditQuery, AuditRecord, StoreError

SCAN_BATCH = 1000


def audit_doc(record: AuditRecord) -> dict[str, Any]:
    return {**record_to_dict(record), "search_text": search_text(record),
            "value_text": value_text(record.target, record.details)}  # fmt: skip


def _escape_wildcard(text: str) -> str:
    return "".join("\\" + c if c in "\\*?" else c for c in text)


def _filters(query: AuditQuery) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"range": {"time": {"gte": format_time(query.start), "lte": format_time(query.end)}}}]
    for field in ("actor", "operation"):
        if getattr(query, field):
            filters.append({"term": {field: getattr(query, field)}})
    if query.keyword:  # values only: key names never match (audit_records.value_text)
        filters.append({"wildcard": {"value_text": {"value": f"*{_escape_wildcard(query.keyword.lower())}*"}}})
    return filters


def _records(response: Any) -> list[AuditRecord]:
    return [record_from_dict(hit["_source"]) for hit in response["hits"]["hits"]]


class AuditMixin:
    """Needs ``self.es`` (the client) and ``self.audit_index`` (the index or alias name)."""

    es: Elasticsearch
    audit_index: str

    def audit_append(self, record: AuditRecord) -> None:
        """The gap check is skipped when this store has itself seen entry ``seq - 1`` (written or
        read it): entries are never deleted and each was written only after its predecessor, so
        every seq up to one seen exists. A writer appending its own run of entries (every audited
        search of a web process) then makes one request per entry, not two."""
        try:
            if record.seq > 1 and record.seq - 1 > self._audit_seen() and not self.es.exists(
                index=self.audit_index, id=str(record.seq - 1)
            ):
                raise StoreError(f"audit seq {record.seq} refused: entry {record.seq - 1} does not exist")
            self.es.create(index=self.audit_index, id=str(record.seq), document=audit_doc(record))
            self._saw_audit(record.seq)
        except ConflictError as exc:
            raise StoreError(f"audit seq {record.seq} refused: it exists already") from exc
        except ERRORS as exc:
            raise StoreError(f"audit entry {record.seq} not written to {self.audit_index}: {exc}") from exc

    def _audit_search(self, **body: Any) -> Any:
        """A search that sees every append that returned (see the module's note on visibility)."""
        try:
            self.es.indices.refresh(index=self.audit_index)
            return self.es.search(index=self.audit_index, **body)
        except ERRORS as exc:
            raise StoreError(f"audit search on {self.audit_index} failed: {exc}") from exc

    def audit_last(self) -> AuditRecord | None:
        records = _records(self._audit_search(query={"match_all": {}}, sort=[{"seq": "desc"}], size=1))
        if records:
            self._saw_audit(records[0].seq)
        return records[0] if records else None

    def _audit_seen(self) -> int:
        """The highest seq this store has written or read (0: none yet)."""
        return getattr(self, "_audit_seen_seq", 0)

    def _saw_audit(self, seq: int) -> None:
        self._audit_seen_seq = max(self._audit_seen(), seq)

    def audit_query(self, query: AuditQuery) -> tuple[int, list[AuditRecord]]:
        body: dict[str, Any] = {
            "query": {"bool": {"filter": _filters(query)}}, "sort": [{"seq": "desc"}], "size": query.limit,
            "track_total_hits": True,
        }  # fmt: skip
        if query.after_seq is not None:
            body["search_after"] = [query.after_seq]  # total still counts every match
        response = self._audit_search(**body)
        return response["hits"]["total"]["value"], _records(response)

    def audit_scan(self, *, from_seq: int = 1) -> Iterator[AuditRecord]:
        after: list[int] | None = None
        while True:
            extra = {"search_after": after} if after else {}
            response = self._audit_search(query={"range": {"seq": {"gte": from_seq}}}, sort=[{"seq": "asc"}],
                                          size=SCAN_BATCH, **extra)  # fmt: skip
            hits = response["hits"]["hits"]
            yield from _records(response)
            if len(hits) < SCAN_BATCH:
                return
            after = hits[-1]["sort"]
