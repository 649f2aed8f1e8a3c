"""An audit entry's details as labelled fields for the Archive Log Query page, instead of JSON.

An auditor reads "Subject: 季度合同 · Hits: 12", not ``{"hits":12,"subject":"\\u5b63..."}``. Known
keys get a label (an English catalog key, translated by the page); unknown ones (a detail added by
a later release) are shown with their key turned into words, so nothing recorded is hidden. The
CSV download and the API keep the exact JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_LIST_ITEMS = 10  # a bulk export names up to 100 ids: the page shows the first ten and a count
MAX_TEXT = 300  # characters of one value; the full text is in the CSV
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")

LABELS: dict[str, str] = {
    "subject": "Subject", "keyword": "Keyword", "scope": "Searched in", "hits": "Hits", "total": "Entries found",
    "from": "From", "to": "To", "mailbox": "Mailbox", "sender": "Sender", "recipient": "Recipient",
    "department": "Department", "include_subdepartments": "Include sub-departments", "actor": "Administrator",
    "operation": "Operation type", "page": "Further page", "all": "All matches", "part": "Part",
    "remote_images": "Remote images shown", "sha256": "SHA-256", "size": "Size (bytes)", "bytes": "Bytes",
    "count": "Messages", "ids": "Message IDs", "name": "Name", "index": "Attachment number", "inline": "Shown inline",
    "error": "Error", "reason": "Reason", "role": "Role", "old": "Before", "new": "After", "years": "Years",
    "status": "Status", "file": "File", "files": "Files", "messages": "Messages", "accounts": "Accounts",
    "departments": "Departments", "criteria": "Criteria", "estimated_bytes": "Estimated size (bytes)",
    "limit": "Page size", "cursor": "Page cursor", "was_enabled": "Was enabled", "purpose": "Purpose",
    "expected_sha256": "Expected SHA-256", "actual_sha256": "Actual SHA-256", "attachment": "Attachment",
    "filename": "File name", "query": "Query", "shorten": "Shortened", "phase": "Phase", "done": "Done",
}  # fmt: skip


@dataclass(frozen=True)
class DetailField:
    key: str  # dotted path for nested details ("criteria.from")
    label: str  # catalog key (or the key in words when unknown)
    value: str
    translate_value: bool = False  # "Yes"/"No": catalog keys too
    time: datetime | None = None  # an ISO time with its zone: the page shows it in the archive's zone


def detail_fields(details: dict[str, Any] | None) -> list[DetailField]:
    """Every detail, nested ones flattened to ``parent.child``, in recorded (sorted key) order."""
    fields: list[DetailField] = []
    _walk(details or {}, "", fields)
    return fields


def label_for(key: str) -> str:
    last = key.rsplit(".", 1)[-1]
    return LABELS.get(last) or last.replace("_", " ").replace("-", " ").capitalize()


def _walk(value: Any, key: str, out: list[DetailField]) -> None:
    if isinstance(value, dict) and (not key or value):
        for child, item in value.items():
            _walk(item, f"{key}.{child}" if key else str(child), out)
    elif isinstance(value, bool):
        out.append(DetailField(key, label_for(key), "Yes" if value else "No", translate_value=True))
    elif isinstance(value, str) and _ISO_TIME.match(value):
        out.append(DetailField(key, label_for(key), value, time=datetime.fromisoformat(value.replace("Z", "+00:00"))))
    else:
        out.append(DetailField(key, label_for(key), _text(value)))


def _text(value: Any) -> str:
    if isinstance(value, list):
        shown = ", ".join(_text(v) for v in value[:MAX_LIST_ITEMS])
        return shown + (f" … (+{len(value) - MAX_LIST_ITEMS})" if len(value) > MAX_LIST_ITEMS else "")
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    text = "—" if value is None or value == "" else str(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"
