"""The hash chain of the audit log: how an entry's hash is computed, shared by writer and verifier.

Each entry's hash covers the previous entry's hash and its own content (``seq`` included), so
editing, deleting or reordering any stored entry breaks the chain at that entry. The content is
serialised canonically (sorted keys, UTF-8, no whitespace) so both backends, and any outside
auditor re-implementing this in a few lines, compute the same digest.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from server.model import format_time, parse_time
from server.store.protocol import AuditRecord

GENESIS = "0" * 64  # prev_hash of entry 1
SEARCH_TEXT_CHARS = 8000  # keyword filter looks this far (Elasticsearch keyword terms are at most 32 KB)


def canonical_json(value: Any) -> str:
    """The one serialisation hashed and stored; NaN/Infinity are refused (no JSON form)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def plain_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """Details reduced to plain JSON types, so what is hashed is exactly what a backend gives back."""
    if not details:
        return {}
    return json.loads(json.dumps(details, default=str, allow_nan=False))


def content_of(record: AuditRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "time": format_time(record.time),
        "actor": record.actor,
        "role": record.role,
        "source_ip": record.source_ip,
        "operation": record.operation,
        "target": record.target,
        "details": record.details,
        "result": record.result,
    }


def entry_hash(record: AuditRecord) -> str:
    """SHA-256 over ``prev_hash``, a newline and the canonical content."""
    payload = record.prev_hash.encode() + b"\n" + canonical_json(content_of(record)).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def search_text(record: AuditRecord) -> str:
    """What the keyword filter matches, lower-cased here so both backends agree on case folding."""
    return f"{record.target}\n{canonical_json(record.details)}".lower()[:SEARCH_TEXT_CHARS]


def record_to_dict(record: AuditRecord) -> dict[str, Any]:
    """Wire and storage form (times as ISO strings)."""
    return {**content_of(record), "prev_hash": record.prev_hash, "hash": record.hash}


def record_from_dict(doc: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        seq=int(doc["seq"]),
        time=parse_time(doc["time"]),
        actor=doc["actor"],
        role=doc["role"],
        source_ip=doc["source_ip"],
        operation=doc["operation"],
        target=doc["target"],
        details=doc["details"] if isinstance(doc["details"], dict) else json.loads(doc["details"]),
        result=doc["result"],
        prev_hash=doc["prev_hash"],
        hash=doc["hash"],
    )
