"""The hash chain of the audit log: how an entry's hash is computed, shared by writer and verifier.

Each entry's hash covers the previous entry's hash and its own content (``seq`` included), so
editing, deleting or reordering any stored entry breaks the chain at that entry. The content is
serialised canonically (sorted keys, UTF-8, no whitespace) so both backends, and any outside
auditor re-implementing this in a few lines, compute the same digest.
"""

from __future__ import annotations

import json

from server.store.common.audit_records import (  # the stored form lives below the store (no cycle)
    SEARCH_TEXT_CHARS,
    canonical_json,
    content_of,
    record_from_dict,
    record_to_dict,
    search_text,
)
from server.store.protocol import AuditRecord

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["GENESIS", "SEARCH_TEXT_CHARS", "canonical_json", "content_of", "entry_hash", "plain_details",
           "record_from_dict", "record_to_dict", "search_text"]  # fmt: skip

GENESIS = "0" * 64  # prev_hash of entry 1

try:  # CPython's own SHA-256: ``hashlib`` first loads OpenSSL, ~10 M instructions (~5 ms) of every
    # command's start-up (each command writes an entry), for a digest of a few hundred bytes
    from _sha256 import sha256
except ImportError:
    try:  # CPython 3.12 and later keep it in ``_sha2``
        from _sha2 import sha256
    except ImportError:  # another interpreter: the same digest from hashlib
        from hashlib import sha256


def plain_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """Details reduced to plain JSON types, so what is hashed is exactly what a backend gives back."""
    if not details:
        return {}
    text = json.dumps(details, default=str, allow_nan=False, ensure_ascii=False)
    # Lone surrogates (invalid UTF-8 from a command line or a file name) cannot be stored: U+FFFD instead.
    return json.loads(text.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))


def entry_hash(record: AuditRecord) -> str:
    """SHA-256 over ``prev_hash``, a newline and the canonical content."""
    payload = record.prev_hash.encode() + b"\n" + canonical_json(content_of(record)).encode("utf-8")
    return sha256(payload).hexdigest()
