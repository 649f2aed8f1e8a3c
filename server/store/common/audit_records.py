"""The stored form of an audit entry, shared by both backends and by server.audit.

It lives below the store so the backends need nothing from ``server.audit`` (which builds on the
store): the dependency runs one way, audit -> store. ``canonical_json`` is also what the hash chain
hashes (server.audit.chain), so what a backend stores is byte for byte what was hashed.
"""

from __future__ import annotations

import json

from server.model import format_time, parse_time
from server.store.protocol import AuditRecord

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any

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
    """The stored, indexed text of an entry (target + details as JSON, lower-cased): a cheap first
    filter. It holds the key names too, so a match is then confirmed by ``keyword_in_values``."""
    return f"{record.target}\n{canonical_json(record.details)}".lower()[:SEARCH_TEXT_CHARS]


def value_text(target: str, details: Any) -> str:
    """What the keyword filter really matches: the target and every detail *value* (strings as they
    are, numbers and booleans as JSON writes them), one a line, lower-cased, never the key names:
    "subject" must not match every entry that has a subject. Elasticsearch builds the same text
    into its ``value_text`` field."""
    lines = [target]
    _values(details, lines)
    return "\n".join(lines).lower()[:SEARCH_TEXT_CHARS]


def _values(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _values(item, out)
    elif isinstance(value, list):
        for item in value:
            _values(item, out)
    elif isinstance(value, str):
        out.append(value)
    elif value is not None:
        out.append(json.dumps(value))


def keyword_in_values(target: str, details_json: str, keyword: str) -> bool:
    """The keyword (lower-cased) in ``value_text``; the SQLite backend calls it from SQL."""
    return keyword in value_text(target, json.loads(details_json))


def prefilter_forms(keyword: str) -> list[str]:
    """The keyword as it appears in ``search_text``: as typed (in the target) and JSON-escaped (in
    the details), lower-cased; ``keyword_in_values`` then decides."""
    lowered = keyword.lower()
    return list(dict.fromkeys((lowered, canonical_json(lowered)[1:-1])))


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
