"""What an email administrator may read of the archive log: who did what, when, to which message
id, but nothing of the mail itself.

Separation of duties: email administrators read the log to oversee the archive administrators,
yet the details of an entry can quote mail (a viewed message's subject, an attachment's name, the
words searched for, a legal hold's keyword). Those fields are replaced by ``[redacted]`` wherever
the log leaves the server for them: the page, ``GET /api/v1/audit`` and the CSV download. The
chain hash is computed over the stored entry and still shown, so a redacted row can be verified by
an archive administrator later, but not reconstructed from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.audit.operations import Op
from server.store.common.audit_records import value_text

REDACTED = "[redacted]"
# Detail fields that quote message content, in any entry and at any depth (hold criteria nest).
CONTENT_DETAILS = frozenset({"subject", "filename", "attachment", "attachments", "keyword", "query", "q", "terms"})
# Fields that quote content only in some operations (a hold's ``name`` is the investigator's own).
CONTENT_DETAILS_OF = {Op.ATTACHMENT_DOWNLOAD.value: frozenset({"name"})}


def _hidden(operation: str) -> frozenset[str]:
    return CONTENT_DETAILS | CONTENT_DETAILS_OF.get(str(operation), frozenset())


def redacted_details(operation: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` with every content-quoting field replaced by ``[redacted]``."""
    return _redacted_value(dict(details), _hidden(operation))


def keyword_is_shown(operation: str, target: str, details: Mapping[str, Any], keyword: str) -> bool:
    """Whether ``keyword`` occurs in what a redacted reader is shown of an entry: the target and the
    detail values left after redaction (the redacted fields are not searched at all, nor is the
    ``[redacted]`` placeholder). The archive log's keyword filter uses it for email administrators,
    so a keyword cannot probe a viewed subject's words even without showing them."""
    return keyword.lower() in value_text(target, _without(dict(details), _hidden(operation)))


def _without(value: Any, hidden: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        return {key: _without(v, hidden) for key, v in value.items() if key not in hidden}
    if isinstance(value, list):
        return [_without(v, hidden) for v in value]
    return value


def _redacted_value(value: Any, hidden: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        return {key: REDACTED if key in hidden else _redacted_value(v, hidden) for key, v in value.items()}
    if isinstance(value, list):
        return [_redacted_value(v, hidden) for v in value]
    return value
