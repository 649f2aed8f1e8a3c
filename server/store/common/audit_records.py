"""The stored form of an audit entry, shared by both backends and by server.audit.

It lives below the store so the backends need nothing from ``server.audit`` (which builds on the
store): the dependency runs one way, audit -> store. ``canonical_json`` is also what the hash chain
hashes (server.audit.chain), so what a backend stores is byte for byte what was hashed.
"""

from __future__ import annotations

import json
from typing import Any

from server.model import format_time, parse_time
from server.store.protocol import AuditRecord

SEARCH_TEXT_CHARS = 8000  # keyword filter looks this far (Elasticsearch keyword terms are at most 32 KB)


def canonical_json(value: Any) -> str:
    """The one serialisation hashed and stored; NaN/Infinity are refused (no JSON form)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


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
