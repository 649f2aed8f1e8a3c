"""Message documents: Message <-> the JSON in the monthly indices, merging of copies."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from server.model import Message, format_time
from server.query.tokenize import index_text
from server.store.sqlite.messages import MERGED_FIELDS

TOKEN_FIELDS = {"subject": "subject_tokens", "body": "body_tokens", "attachment": "attachment_tokens"}
_TIMES = ("date", "archived_at", "retention_until")


class Rejected(ValueError):
    """One message cannot be stored; the text is the PutResult error."""


def to_document(message: Message, raw: bytes) -> dict[str, Any]:
    """Every dataclass field (an unknown one is left for the strict mapping to refuse) plus the
    pre-tokenized search fields; attachment names stay separate values, and the mapping's
    position gap keeps a phrase from matching across two names."""
    if not message.id:
        raise Rejected("message has no id")
    if hashlib.sha256(raw).hexdigest() != message.sha256:
        raise Rejected(f"sha256 {message.sha256!r} does not match the raw bytes")
    doc = dataclasses.asdict(message)
    for name in _TIMES:
        if doc.get(name) is not None:
            doc[name] = format_time(doc[name])
    doc["subject_tokens"] = index_text(message.subject)
    doc["body_tokens"] = index_text(message.body_text)
    doc["attachment_tokens"] = [index_text(n) for n in message.attachment_names]
    return doc


def from_document(source: dict[str, Any]) -> Message:
    return Message.from_dict({k: v for k, v in source.items() if k not in TOKEN_FIELDS.values()})


def merge_into(stored: dict[str, Any], copy: dict[str, Any]) -> bool:
    """Add the copy's values of the merged fields to ``stored`` (order kept); True if anything was new."""
    changed = False
    for field in MERGED_FIELDS:
        old = stored.get(field) or []
        seen = set(old)
        new = [v for v in dict.fromkeys(copy.get(field) or []) if v not in seen]
        if new:
            stored[field] = old + new
            changed = True
    return changed
