"""The stored form of a message, shared by both backends: checks, the JSON document, merging.

A copy of an archived message (same id) adds only to the union fields (``MERGED_FIELDS``); its
``archive_seq``, times, holds and every other field stay those of the first copy.
"""

from __future__ import annotations

from server.model import TIME_FIELDS, Message, format_time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any

MERGED_FIELDS = ("mailboxes", "recipients", "bcc", "departments", "department_paths", "flags")  # flags: verdicts are per copy


class Rejected(ValueError):
    """One message cannot be stored; the text is the PutResult error."""


def check_message(message: Message, raw: bytes, *, raw_sha256: str | None = None) -> None:
    """Refuse what no backend may store: a message without id, or bytes that are not its own.

    ``raw_sha256``: the hash of the bytes to be stored when it was computed where they were read
    (an import's parser process), so they need not be hashed a second time here."""
    if not message.id:
        raise Rejected("message has no id")
    import hashlib  # here: a search checks no message, and hashlib's OpenSSL costs start-up (see audit.chain)

    if (raw_sha256 or hashlib.sha256(raw).hexdigest()) != message.sha256:
        raise Rejected(f"sha256 {message.sha256!r} does not match the raw bytes")


def message_document(message: Message) -> dict[str, Any]:
    """``message.to_dict()`` without its deep copies (a third of the put cost at 10 KB messages).

    ``legal_hold`` is recomputed from ``legal_holds`` so the two never disagree in storage.
    """
    doc = message._asdict()
    doc["attachments"] = [a if isinstance(a, dict) else vars(a).copy() for a in doc["attachments"] or []]
    if isinstance(doc.get("legal_holds"), list):
        doc["legal_hold"] = bool(doc["legal_holds"])
    for name in TIME_FIELDS:
        if doc.get(name) is not None:
            doc[name] = format_time(doc[name])
    return doc


def merge_into(stored: dict[str, Any], copy: dict[str, Any]) -> bool:
    """Add the copy's values of the merged fields to ``stored`` (order kept); True if anything was new."""
    changed = False
    for name in MERGED_FIELDS:
        old = stored.get(name) or []
        seen = set(old)  # a journal copy can carry thousands of recipients
        new = [v for v in dict.fromkeys(copy.get(name) or []) if v not in seen]
        if new:
            stored[name] = old + new
            changed = True
    return changed


def set_holds(doc: dict[str, Any], hold_id: str, on: bool) -> bool:
    """Add or remove ``hold_id`` in a stored document; True if it changed."""
    holds = list(doc.get("legal_holds") or [])
    if on == (hold_id in holds):
        return False
    holds = [*holds, hold_id] if on else [h for h in holds if h != hold_id]
    doc["legal_holds"], doc["legal_hold"] = holds, bool(holds)
    return True
