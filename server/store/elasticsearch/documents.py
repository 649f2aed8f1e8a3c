"""Message documents: Message <-> the JSON in the monthly indices (merging: store.common.documents)."""

from __future__ import annotations

from typing import Any

from server.model import Message
from server.query.tokenize import index_text
from server.store.common.documents import check_message, message_document

TOKEN_FIELDS = {"subject": "subject_tokens", "body": "body_tokens", "attachment": "attachment_tokens"}
TIMESTAMP = "@timestamp"
DERIVED_FIELDS = frozenset({*TOKEN_FIELDS.values(), TIMESTAMP})  # in the index only, not on Message
SOURCE_EXCLUDES = sorted(DERIVED_FIELDS)  # what reads that build Messages leave out of ``_source``


def timestamp(source: dict[str, Any]) -> str:
    """Kibana's time field: the archive arrival time, ``received_at`` (set by ingestion), else
    ``archived_at`` for documents from before it, so every document has one (a document without
    the time field is invisible in every time-filtered Kibana view)."""
    return source.get("received_at") or source["archived_at"]


def to_document(message: Message, raw: bytes, *, raw_sha256: str | None = None) -> dict[str, Any]:
    """Every dataclass field (an unknown one is left for the strict mapping to refuse) plus the
    pre-tokenized search fields and ``@timestamp``; attachment names stay separate values, and the mapping's
    position gap keeps a phrase from matching across two names. ``archive_seq`` is set when
    the batch's numbers are allocated (messages.py)."""
    check_message(message, raw, raw_sha256=raw_sha256)
    doc = message_document(message)
    doc["attachments"] = [dict(a) for a in doc["attachments"]]
    for name, value in doc.items():
        if isinstance(value, list) and name != "attachments":
            doc[name] = list(value)  # the stored document never shares a list with the caller's Message
    doc["archive_seq"] = 0
    doc["subject_tokens"] = index_text(message.subject)
    doc["body_tokens"] = index_text(message.body_text)
    doc["attachment_tokens"] = [index_text(n) for n in message.attachment_names]
    doc[TIMESTAMP] = timestamp(doc)
    return doc


def from_document(source: dict[str, Any]) -> Message:
    return Message.from_dict({k: v for k, v in source.items() if k not in DERIVED_FIELDS})
