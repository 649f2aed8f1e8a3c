"""Settings, counters and small JSON documents in ``<prefix>-docs`` (``_id`` = ``kind/key``).

Settings are kind ``_setting``, counters kind ``_counter``, the arrival sequence ``_sequence``
(sequence.py); user kinds never start with ``_`` (``put_doc`` refuses them). A document's
``version`` field counts its writes (``put_doc(..., if_version=)``). Counters are atomic without
scripts: read, then write with ``if_seq_no``/``if_primary_term`` (or ``op_type=create`` for the
first value) and start again on a conflict — GETs are real-time, so the loop always sees the
latest write.

Visibility: writes do not wait for a refresh. Settings, counters and documents are read by key
(real-time GETs); the one search over this index, ``list_docs``, refreshes it first, so a list
shows every write that returned before it, from any process. An import writes about ten of these
per batch (ingest counters, store latency, the ledger): with ``refresh=wait_for`` each one parked
for up to the 1 s refresh interval, and that was most of the import's time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from server.store.elasticsearch.connection import ERRORS
from server.store.elasticsearch.directory import sorted_hits
from server.store.elasticsearch.layout import Indices
from server.store.protocol import StoreError, VersionConflict

SETTING, COUNTER = "_setting", "_counter"
MAX_COUNTER_RETRIES = 100


def _guard(found: dict[str, Any] | None) -> dict[str, Any]:
    """Write only over exactly what was read (or only if there was nothing)."""
    if found is None:
        return {"op_type": "create"}
    return {"if_seq_no": found["_seq_no"], "if_primary_term": found["_primary_term"]}


def _version(found: dict[str, Any] | None) -> int | None:
    """Documents copied from the first layout have no version field: they are version 1."""
    return None if found is None else found["_source"].get("version", 1)


class SettingsMixin:
    es: Elasticsearch
    names: Indices

    def _get(self, kind: str, key: str) -> dict[str, Any] | None:
        try:
            return self.es.get(index=self.names.docs, id=f"{kind}/{key}")  # type: ignore[return-value]
        except NotFoundError:
            return None
        except ERRORS as exc:
            raise StoreError(f"reading {kind}/{key} from {self.names.docs} failed: {exc}") from exc

    def _put(self, kind: str, key: str, source: dict[str, Any], **options: Any) -> None:
        try:
            self.es.index(index=self.names.docs, id=f"{kind}/{key}", document={"kind": kind, "key": key, **source},
                          **options)  # fmt: skip
        except ConflictError:
            raise
        except ERRORS as exc:
            raise StoreError(f"writing {kind}/{key} to {self.names.docs} failed: {exc}") from exc

    def get_setting(self, key: str, default: Any = None) -> Any:
        found = self._get(SETTING, key)
        return found["_source"]["body"]["value"] if found else default

    def set_setting(self, key: str, value: Any) -> None:
        json.dumps(value)  # refuse what is not JSON-serialisable before writing
        self._put(SETTING, key, {"body": {"value": value}})

    def incr_counter(self, key: str, by: int = 1) -> int:
        for _ in range(MAX_COUNTER_RETRIES):
            found = self._get(COUNTER, key)
            value = (found["_source"]["value"] if found else 0) + int(by)
            try:
                self._put(COUNTER, key, {"value": value}, **_guard(found))
            except ConflictError:
                continue
            return value
        raise StoreError(f"counter {key}: too many concurrent updates")

    def incr_counters(self, amounts: Mapping[str, int]) -> None:
        """Every counter in two round trips, whatever their number: one ``mget`` (real time) and one
        ``_bulk`` of conditional writes, each guarded like ``incr_counter``'s; the counters that lost
        a race are read and written again. A search records three (its latency histogram), and at
        a GET and a PUT each that was six requests on the request's path."""
        pending = {key: int(by) for key, by in amounts.items()}
        for _ in range(MAX_COUNTER_RETRIES):
            if not pending:
                return
            pending = self._incr_once(pending)
        raise StoreError(f"counters {', '.join(sorted(pending))}: too many concurrent updates")

    def _incr_once(self, amounts: dict[str, int]) -> dict[str, int]:
        """One read and one conditional write of each counter; returns those that met a conflict."""
        ids = [f"{COUNTER}/{key}" for key in amounts]
        try:
            found = self.es.mget(index=self.names.docs, ids=ids)["docs"]
            operations: list[dict[str, Any]] = []
            for key, doc in zip(amounts, found, strict=True):
                current = doc if doc.get("found") else None
                value = (current["_source"]["value"] if current else 0) + amounts[key]
                action = {"_index": self.names.docs, "_id": f"{COUNTER}/{key}", **_guard(current)}
                operations += [{action.pop("op_type", "index"): action}, {"kind": COUNTER, "key": key, "value": value}]
            items = self.es.bulk(operations=operations)["items"]
        except ERRORS as exc:
            raise StoreError(f"updating counters in {self.names.docs} failed: {exc}") from exc
        conflicts: dict[str, int] = {}
        for key, item in zip(amounts, items, strict=True):
            result = next(iter(item.values()))
            if result.get("status") == 409:
                conflicts[key] = amounts[key]
            elif "error" in result:
                raise StoreError(f"counter {key} not written to {self.names.docs}: {result['error']}")
        return conflicts

    def get_counter(self, key: str) -> int:
        found = self._get(COUNTER, key)
        return found["_source"]["value"] if found else 0

    def put_doc(self, kind: str, key: str, doc: dict[str, Any], *, if_version: int | None = None) -> int:
        """Read (real time), check, write conditionally on what was read: a concurrent write in
        between is a conflict, reported as ``VersionConflict`` under ``if_version`` and retried
        (last writer wins, with a correct version) without it."""
        if kind.startswith("_"):
            raise StoreError(f"document kind {kind!r} is reserved")
        json.dumps(doc)
        for _ in range(MAX_COUNTER_RETRIES):
            found = self._get(kind, key)
            current = _version(found)
            if if_version is not None and (current or 0) != if_version:
                raise VersionConflict(kind, key, if_version, current)
            version = (current or 0) + 1
            try:
                self._put(kind, key, {"body": doc, "version": version}, **_guard(found))
            except ConflictError:
                if if_version is not None:
                    raise VersionConflict(kind, key, if_version, _version(self._get(kind, key))) from None
                continue
            return version
        raise StoreError(f"document {kind}/{key}: too many concurrent updates")

    def get_doc(self, kind: str, key: str) -> dict[str, Any] | None:
        found = self.get_doc_versioned(kind, key)
        return found[0] if found else None

    def get_doc_versioned(self, kind: str, key: str) -> tuple[dict[str, Any], int] | None:
        found = self._get(kind, key)
        return (found["_source"]["body"], _version(found)) if found else None  # type: ignore[return-value]

    def list_docs(
        self, kind: str, *, after: str | None = None, limit: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        try:
            self.es.indices.refresh(index=self.names.docs)  # nothing pending: next to free
        except ERRORS as exc:
            raise StoreError(f"refresh of {self.names.docs} failed: {exc}") from exc
        hits = sorted_hits(self.es, self.names.docs, {"term": {"kind": kind}}, "key", after=after, limit=limit)
        return [(h["_source"]["key"], h["_source"]["body"]) for h in hits]

    def delete_doc(self, kind: str, key: str) -> bool:
        if kind.startswith("_"):  # deleting the sequence document would hand out numbers again
            raise StoreError(f"document kind {kind!r} is reserved")
        try:
            self.es.delete(index=self.names.docs, id=f"{kind}/{key}")
        except NotFoundError:
            return False
        except ERRORS as exc:
            raise StoreError(f"deleting {kind}/{key} from {self.names.docs} failed: {exc}") from exc
        return True
