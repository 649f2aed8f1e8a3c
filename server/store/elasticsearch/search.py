"""Search, scan, count and aggregations through the read alias over the monthly indices.

Paging is ``search_after`` on (date desc, id desc) — id is unique, so the order is total and a
cursor (the same encoding as SQLite's) resumes exactly. No scroll and no point-in-time: a scan
is repeated ``search_after``, which also works on osmem-server (no PIT there). Terms-type
counts use composite aggregation paging, which is exact across indices (a plain ``terms``
aggregation is approximate over several shards, ``cardinality`` always approximate).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from elasticsearch import Elasticsearch

from server.model import HEAD_FIELDS, MessageHead, head_of
from server.query.criteria import (
    DEFAULT_SORT,
    SORTS,
    Criteria,
    decode_sort_cursor,
    encode_key_cursor,
    sort_value,
)
from server.store.elasticsearch.connection import ERRORS
from server.store.elasticsearch.documents import SOURCE_EXCLUDES, from_document
from server.store.elasticsearch.layout import Indices
from server.store.elasticsearch.query import SORT, build_query
from server.store.protocol import AggregateBy, Aggregation, SearchPage, StoreError

COMPOSITE_PAGE = 1000
_AGG_FIELDS = {"department": "departments", "mailbox": "mailboxes"}


class SearchMixin:
    es: Elasticsearch
    names: Indices

    def _search(self, **body: Any) -> dict[str, Any]:
        try:
            return self.es.search(index=self.names.messages, ignore_unavailable=True, **body)  # type: ignore[return-value]
        except ERRORS as exc:
            raise StoreError(f"search on {self.names.messages} failed: {exc}") from exc

    def _page(
        self, criteria: Criteria | None, size: int, after: list[Any] | None, *, total: bool, sort: str = DEFAULT_SORT,
        source: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        field, descending = SORTS[sort]
        order = [{field: {"order": "desc" if descending else "asc"}}, {"id": {"order": "desc" if descending else "asc"}}]
        body: dict[str, Any] = {"query": build_query(criteria), "sort": SORT if sort == DEFAULT_SORT else order, "size": size,
                                "_source": source or {"excludes": SOURCE_EXCLUDES}, "track_total_hits": total}  # fmt: skip
        if after:
            body["search_after"] = after
        return self._search(**body)

    def search(self, criteria: Criteria, *, limit: int = 50, cursor: str | None = None,
               sort: str = DEFAULT_SORT) -> SearchPage:  # fmt: skip
        after = list(decode_sort_cursor(cursor, sort)) if cursor else None
        response = self._page(criteria, limit + 1, after, total=True, sort=sort)
        hits = response["hits"]["hits"]
        page = [from_document(h["_source"]) for h in hits[:limit]]
        more = len(hits) > limit and page
        next_cursor = encode_key_cursor(sort_value(sort, page[-1]), page[-1].id) if more else None
        return SearchPage(total=response["hits"]["total"]["value"], results=page, next_cursor=next_cursor)

    def scan(self, criteria: Criteria, *, batch_size: int = 500) -> Iterator[Any]:
        return map(from_document, self._sources(criteria, batch_size, None))

    def scan_heads(self, criteria: Criteria, *, batch_size: int = 500) -> Iterator[MessageHead]:
        """Only the head's fields are fetched: an export's pages are a fraction of the size."""
        return map(head_of, self._sources(criteria, batch_size, {"includes": list(HEAD_FIELDS)}))

    def _sources(self, criteria: Criteria, batch_size: int, source: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
        after = None
        while True:
            hits = self._page(criteria, batch_size, after, total=False, source=source)["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            if len(hits) < batch_size:
                return
            after = hits[-1]["sort"]

    def count(self, criteria: Criteria | None = None) -> int:
        try:
            response = self.es.count(
                index=self.names.messages, ignore_unavailable=True, query=build_query(criteria)
            )
        except ERRORS as exc:
            raise StoreError(f"count on {self.names.messages} failed: {exc}") from exc
        return response["count"]

    def total_size(self, criteria: Criteria | None = None) -> int:
        response = self._search(query=build_query(criteria), size=0, track_total_hits=False,
                                aggs={"bytes": {"sum": {"field": "size"}}})  # fmt: skip
        return int(round(response.get("aggregations", {}).get("bytes", {}).get("value") or 0))  # no index yet: 0

    def aggregate(self, criteria: Criteria | None, by: AggregateBy, *, size: int = 100) -> Aggregation:
        if by == "day":
            return Aggregation(self._days(criteria))
        counts = self._exact_terms(criteria, _AGG_FIELDS[by])
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
        return Aggregation(dict(ranked))

    def _days(self, criteria: Criteria | None) -> dict[str, int]:
        histogram = {
            "field": "date",
            "calendar_interval": "day",
            "min_doc_count": 1,
            "format": "yyyy-MM-dd",
            "time_zone": "UTC",
        }
        response = self._search(
            query=build_query(criteria), size=0, aggs={"days": {"date_histogram": histogram}}
        )
        buckets = response.get("aggregations", {}).get("days", {}).get("buckets", [])
        return {b["key_as_string"]: b["doc_count"] for b in buckets if b["doc_count"]}

    def _exact_terms(self, criteria: Criteria | None, field: str) -> dict[str, int]:
        """Every value of ``field`` with its exact count, paging a composite aggregation."""
        counts: dict[str, int] = {}
        after = None
        while True:
            composite: dict[str, Any] = {
                "size": COMPOSITE_PAGE,
                "sources": [{"v": {"terms": {"field": field}}}],
            }
            if after:
                composite["after"] = after
            response = self._search(
                query=build_query(criteria), size=0, aggs={"values": {"composite": composite}}
            )
            agg = response.get("aggregations", {}).get("values", {})
            buckets = agg.get("buckets", [])
            counts.update((b["key"]["v"], b["doc_count"]) for b in buckets)
            after = agg.get("after_key")
            if len(buckets) < COMPOSITE_PAGE or not after:
                return counts

    def distinct_mailboxes(self) -> int:
        return len(self._exact_terms(None, "mailboxes"))
