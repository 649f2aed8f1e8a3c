"""Prepared rows: a message made ready for its backend without the database, then written.

Every backend's ``put_messages`` is ``prepare_message`` per item followed by ``put_prepared``.
``mailarchive import`` calls the two apart: its parser processes prepare (documents, checks,
compression, tokens), so the one process that writes only runs the backend's write. What a
prepared row holds is the backend's own business; the pipeline only carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from server.model import Message
from server.store.protocol import PutResult

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any

    from server.store.protocol import Store

    PrepareMessage = Callable[..., Any]  # (message, raw, *, raw_sha256=None) -> a backend's prepared row


def prepare_or_failure(prepare: PrepareMessage, message: Message, raw: bytes, *,
                       raw_sha256: str | None = None) -> Any:  # fmt: skip
    """The backend's row for ``message``, or the "failed" PutResult saying why it cannot be
    stored: one bad document is reported, never raised (``Store.put_messages``)."""
    try:
        return prepare(message, raw, raw_sha256=raw_sha256)
    except Exception as exc:  # noqa: BLE001 - any bad document is reported, never raised
        return PutResult(getattr(message, "id", ""), "failed", str(exc))


def put_all(store: Store, prepared: Sequence[Any]) -> list[PutResult]:
    """Write the rows of ``prepared`` in one ``put_prepared``; the refused ones (PutResults) keep their place."""
    rows = [p for p in prepared if not isinstance(p, PutResult)]
    written = iter(store.put_prepared(rows) if rows else ())
    return [p if isinstance(p, PutResult) else next(written) for p in prepared]


def put_messages(store: Store, items: Sequence[tuple[Message, bytes]]) -> list[PutResult]:
    """``Store.put_messages`` of any backend: prepare here, then write."""
    return put_all(store, [prepare_or_failure(store.prepare_message, m, raw) for m, raw in items])
