"""The bulk API with back-pressure: chunks bounded by count and bytes, 429s retried with backoff.

Each action gets its own outcome (``status``, ``error``, and the item's ``_seq_no``...), so the
caller can report one rejected document as "failed" and never lose it silently.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from server.store.elasticsearch.connection import ERRORS
from server.store.protocol import StoreError

MAX_ACTIONS = 500
MAX_BYTES = 8 * 1024 * 1024
MAX_RETRIES = 5
BACKOFF = 0.5  # seconds, doubled at each retry of a 429


@dataclass
class Action:
    """One bulk line (``op`` is ``create``/``index``/``delete``) and its source."""

    op: str
    meta: dict[str, Any]
    source: dict[str, Any] | None = None

    def lines(self) -> list[str]:
        head = json.dumps({self.op: self.meta}, ensure_ascii=False)
        return [head] if self.source is None else [head, json.dumps(self.source, ensure_ascii=False)]


def _chunks(encoded: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    chunks: list[list[tuple[int, str]]] = [[]]
    size = 0
    for position, body in encoded:
        if chunks[-1] and (len(chunks[-1]) >= MAX_ACTIONS or size + len(body) > MAX_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append((position, body))
        size += len(body)
    return [c for c in chunks if c]


def _error_text(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"
    return str(error or f"status {item.get('status')}")


def bulk(
    es: Elasticsearch, actions: Sequence[Action], *, refresh: str | bool = False
) -> list[dict[str, Any]]:
    """Run ``actions``; returns one item per action: the bulk response item plus ``error`` text when it failed.

    Raises StoreError only when the cluster cannot be reached or refuses a whole request.
    """
    results: list[dict[str, Any]] = [{} for _ in actions]
    pending = [(i, "\n".join(a.lines()) + "\n") for i, a in enumerate(actions)]
    delay = BACKOFF
    for attempt in range(MAX_RETRIES + 1):
        throttled = []
        for chunk in _chunks(pending):
            try:
                response = es.bulk(operations="".join(body for _, body in chunk), refresh=refresh)
            except ERRORS as exc:
                raise StoreError(f"bulk request of {len(chunk)} actions failed: {exc}") from exc
            for (position, body), wrapped in zip(chunk, response["items"], strict=True):
                item = next(iter(wrapped.values()))
                if item.get("status") == 429 and attempt < MAX_RETRIES:
                    throttled.append((position, body))
                    continue
                results[position] = (
                    {**item, "error": _error_text(item)} if item.get("status", 200) >= 300 else item
                )
        if not throttled:
            break
        pending = throttled
        time.sleep(delay)
        delay *= 2
    return results
