"""Settings, counters and small JSON documents in ``<prefix>-docs`` (``_id`` = ``kind/key``).

Settings are kind ``_setting``, counters kind ``_counter``; user kinds never start with ``_``
(``put_doc`` refuses them). Counters are atomic without scripts (osmem-server has none): read,
then write with ``if_seq_no``/``if_primary_term`` (or ``op_type=create`` for the first value)
and start again on a conflict — GETs are real-time, so the loop always sees the latest write.
"""

from __future__ import annotations

import json
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from server.store.elasticsearch.connection import ERRORS, Indices
from server.store.elasticsearch.directory import sorted_hits
from server.store.protocol import StoreError

SETTING, COUNTER = "_setting", "_counter"
MAX_COUNTER_RETRIES = 100


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
                          refresh="wait_for", **options)  # fmt: skip
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
            guard = (
                {"if_seq_no": found["_seq_no"], "if_primary_term": found["_primary_term"]}
                if found
                else {"op_type": "create"}
            )
            try:
                self._put(COUNTER, key, {"value": value}, **guard)
            except ConflictError:
                continue
            return value
        raise StoreError(f"counter {key}: too many concurrent updates")

    def get_counter(self, key: str) -> int:
        found = self._get(COUNTER, key)
        return found["_source"]["value"] if found else 0

    def put_doc(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        if kind.startswith("_"):
            raise StoreError(f"document kind {kind!r} is reserved")
        json.dumps(doc)
        self._put(kind, key, {"body": doc})

    def get_doc(self, kind: str, key: str) -> dict[str, Any] | None:
        found = self._get(kind, key)
        return found["_source"]["body"] if found else None

    def list_docs(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        hits = sorted_hits(self.es, self.names.docs, {"term": {"kind": kind}}, "key")
        return [(h["_source"]["key"], h["_source"]["body"]) for h in hits]

    def delete_doc(self, kind: str, key: str) -> bool:
        try:
            self.es.delete(index=self.names.docs, id=f"{kind}/{key}", refresh="wait_for")
        except NotFoundError:
            return False
        except ERRORS as exc:
            raise StoreError(f"deleting {kind}/{key} from {self.names.docs} failed: {exc}") from exc
        return True
