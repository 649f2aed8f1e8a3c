"""The bulk API through ``elasticsearch.helpers.streaming_bulk``: chunks bounded by count and
bytes, items the cluster rejects with 429 (its write queue is full) retried with exponential
back-off, and one outcome per action in the caller's order.

Each action gets its own outcome (the bulk response item: ``status``, ``_seq_no``... plus
``error`` text when it failed), so the caller reports one rejected document as "failed" and never
loses it silently. Only an unreachable cluster, or a whole request refused for good, raises.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from server.store.elasticsearch.connection import ERRORS
from server.store.protocol import StoreError

MAX_ACTIONS = 500  # per request: bench/results show no gain above this on one node, and less memory
MAX_BYTES = 8 * 1024 * 1024  # per request, well under http.max_content_length (100 MB)
MAX_RETRIES = 5  # of 429 items (and whole-request 429s)
BACKOFF = 0.5  # seconds before the first retry, doubled at each further one
MAX_BACKOFF = 30.0


@dataclass
class Action:
    """One bulk line (``op`` is ``create``/``index``/``delete``), its metadata and source."""

    op: str
    meta: dict[str, Any]
    source: dict[str, Any] | None = None

    def expand(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        return {self.op: self.meta}, self.source

    @property
    def key(self) -> tuple[str, str]:
        return self.op, str(self.meta.get("_id"))


def _error_text(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        return f"{text} (caused by {cause.get('type')}: {cause.get('reason')})" if isinstance(cause, dict) else text
    return str(error or f"status {item.get('status')}")


def bulk(es: Elasticsearch, actions: Sequence[Action], *, refresh: str | bool = False) -> list[dict[str, Any]]:
    """Run ``actions``; returns one item per action, in order: the bulk response item, plus
    ``error`` text when it failed (``status`` says why: 409 conflict, 400 mapping, 429 busy...).

    Raises StoreError only when the cluster cannot be reached or refuses a whole request.
    """
    if not actions:
        return []
    # streaming_bulk yields an item's outcome once it is final, so a retried item comes after later
    # ones of its chunk: outcomes are matched to actions by (op, id), in order per key. Not by index:
    # an action may name an alias, its outcome names the index behind it.
    positions: dict[tuple[str, str], deque[int]] = defaultdict(deque)
    for position, action in enumerate(actions):
        positions[action.key].append(position)
    results: list[dict[str, Any]] = [{} for _ in actions]
    try:
        for ok, wrapped in streaming_bulk(
            es, actions, expand_action_callback=Action.expand, chunk_size=MAX_ACTIONS,
            max_chunk_bytes=MAX_BYTES, max_retries=MAX_RETRIES, initial_backoff=BACKOFF,
            max_backoff=MAX_BACKOFF, raise_on_error=False, refresh=refresh,
        ):  # fmt: skip
            ((op, item),) = wrapped.items()
            position = positions[(op, str(item.get("_id")))].popleft()
            results[position] = item if ok else {**item, "error": _error_text(item)}
    except ERRORS as exc:
        raise StoreError(f"bulk request of {len(actions)} actions failed: {exc}") from exc
    return results
