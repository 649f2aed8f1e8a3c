"""Reading archived mail from a request: search, message lookup and the downloads, each audited.

Shared by the console pages (``search_views``, ``message_views``) and the JSON API
(``api_messages``) so both do exactly the same checks and write the same audit entries. The audit
entry is written before content leaves the server: if it cannot be written (``AuditUnavailable``)
the content is not sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response, abort, stream_with_context
from werkzeug.datastructures import MultiDict

from server.audit.operations import Op
from server.export.eml import MessageNotFound, eml_download_name, load_eml, raw_bytes
from server.export.names import content_disposition, safe_filename
from server.export.zipstream import ZipStats, iter_zip
from server.mailview import attachment_at, is_inline_type, text_for_display
from server.model import Message, format_time, now_utc
from server.query.criteria import Criteria, CriteriaError, parse_criteria, parse_limit
from server.store.protocol import SearchPage, Store
from server.web import i18n
from server.web.context import audit, services

CRITERIA_KEYS = ("from", "to", "mailbox", "sender", "recipient", "keyword", "department", "include_subdepartments")
MAX_BULK = 5000  # messages in one "download selected" zip; larger sets are for Export All
INLINE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; object-src 'self'"


def store() -> Store:
    return services().store


def timezone() -> str:
    """The archive's time zone name: dates typed in the form and the API are in it."""
    return i18n.timezone().key


def criteria_params(args: MultiDict | Mapping[str, Any]) -> dict[str, str]:
    """The flat criteria of a query string or JSON body; ``scope`` may repeat (form checkboxes)
    or be comma-separated (API and command line)."""
    params = {key: str(args.get(key) or "") for key in CRITERIA_KEYS}
    if isinstance(args, MultiDict):
        scopes = args.getlist("scope")
    else:
        scope = args.get("scope") or []
        scopes = scope if isinstance(scope, list) else [scope]
    params["scope"] = ",".join(str(s) for s in scopes if s)
    return params


def run_search(args: MultiDict, *, default_limit: int = 50) -> tuple[Criteria, SearchPage]:
    """Validate, search one page and audit it; ``CriteriaError`` for bad input (nothing audited)."""
    criteria = parse_criteria(criteria_params(args), tz=timezone())
    limit = parse_limit(args.get("limit"), default=default_limit)
    cursor = args.get("cursor") or None
    page = store().search(criteria, limit=limit, cursor=cursor)
    audit(Op.SEARCH, details={**criteria.as_params(), "hits": page.total, "page": bool(cursor)})
    return criteria, page


def message_or_404(message_id: str) -> tuple[Message, bytes]:
    try:
        return load_eml(store(), message_id)
    except MessageNotFound as exc:
        abort(404, description=str(exc))


def _download(data: bytes, mimetype: str, filename: str, *, inline: bool = False) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(filename, inline=inline)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = INLINE_CSP if inline else "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def eml_response(message_id: str) -> Response:
    """The original bytes, byte-identical (``message/rfc822`` so browsers save rather than render)."""
    message, raw = message_or_404(message_id)
    audit(Op.EML_EXPORT, target=message.id, details={"sha256": message.sha256, "size": len(raw)})
    return _download(raw, "message/rfc822", eml_download_name(message))


def attachment_response(message_id: str, index: int, *, inline: bool) -> Response:
    """Attachment ``index`` (numbering of ``Message.attachments``). Inline only for types a browser
    shows without running anything; text is re-encoded to UTF-8 so its legacy charset reads right."""
    message, raw = message_or_404(message_id)
    found = attachment_at(raw, index)
    if found is None:
        abort(404, description=f"message {message_id} has no attachment {index}")
    att, data = found
    inline = inline and is_inline_type(att.type)
    mimetype = att.type if inline else "application/octet-stream"
    if inline and att.type == "text/plain":
        data, mimetype = text_for_display(data).encode("utf-8"), "text/plain"  # Werkzeug adds charset=utf-8
    audit(Op.ATTACHMENT_DOWNLOAD, target=message.id,
          details={"index": index, "name": att.name, "sha256": att.sha256, "inline": inline})
    return _download(data, mimetype, safe_filename(att.name, default=f"attachment-{index}"), inline=inline)


def parse_ids(values: Iterable[Any]) -> list[str]:
    ids = list(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))
    if not ids:
        raise CriteriaError("select at least one message to download")
    if len(ids) > MAX_BULK:
        raise CriteriaError(f"at most {MAX_BULK} messages can be downloaded at once; use Export All for more")
    return ids


def zip_response(ids: list[str]) -> Response:
    """Selected messages as a streamed zip. Unknown ids are an error before anything is sent."""
    messages = store().get_messages(ids)
    missing = sorted(set(ids) - {m.id for m in messages})
    if missing:
        abort(404, description=f"no archived message with id {missing[0]!r}")
    audit(Op.BULK_EXPORT, target=f"{len(messages)} messages",
          details={"count": len(messages), "ids": ids[:100], "bytes": sum(m.size for m in messages)})
    db = store()
    stream = iter_zip(messages, lambda m: raw_bytes(db, m), stats=ZipStats())
    response = Response(stream_with_context(stream), mimetype="application/zip")
    name = f"mail-export-{format_time(now_utc())[:10]}-{len(messages)}.zip"
    response.headers["Content-Disposition"] = content_disposition(name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
