"""Archived mail as HTTP responses: the Flask side of ``server.services.archive_access``.

Shared by the console pages (``search_views``, ``message_views``) and the JSON API
(``api_messages``). The service checks, audits and verifies; this module only turns request
arguments into its parameters and its results into downloads with safe headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, stream_with_context
from werkzeug.datastructures import MultiDict

from server.export.names import content_disposition, safe_filename
from server.mailview import text_for_display
from server.services.archive_access import ArchiveAccess
from server.services.read_results import ZipExport
from server.web import i18n
from server.web.context import actor, services

CRITERIA_KEYS = ("from", "to", "mailbox", "sender", "recipient", "keyword", "department", "include_subdepartments")
INLINE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; object-src 'self'; frame-ancestors 'self'"
DOWNLOAD_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"  # never rendered, never framed elsewhere


def archive() -> ArchiveAccess:
    return services().archive


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


def run_search(args: MultiDict, *, default_limit: int = 50):  # noqa: ANN201 - (Criteria, SearchPage)
    return archive().search(actor(), criteria_params(args), limit=args.get("limit"), cursor=args.get("cursor"),
                            default_limit=default_limit, sort=args.get("sort"), before=args.get("before"))  # fmt: skip


def _download(data: bytes, mimetype: str, filename: str, *, inline: bool = False) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(filename, inline=inline)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = INLINE_CSP if inline else DOWNLOAD_CSP
    response.headers["Cache-Control"] = "private, no-store"
    return response


def eml_response(message_id: str) -> Response:
    """The original bytes, byte-identical (``message/rfc822`` so browsers save rather than render)."""
    opened = archive().raw(actor(), message_id)
    return _download(opened.raw, "message/rfc822", opened.filename)


def attachment_response(message_id: str, index: int, *, inline: bool) -> Response:
    """Inline only for types a browser shows without running anything; text is re-encoded to UTF-8
    so its legacy charset reads right."""
    found = archive().attachment(actor(), message_id, index, inline=inline)
    data, mimetype = found.data, found.attachment.type if found.inline else "application/octet-stream"
    if found.inline and found.attachment.type == "text/plain":
        data, mimetype = text_for_display(data).encode("utf-8"), "text/plain"  # Werkzeug adds charset=utf-8
    name = safe_filename(found.attachment.name, default=f"attachment-{index}")
    return _download(data, mimetype, name, inline=found.inline)


def zip_response(export: ZipExport) -> Response:
    """A zip being produced, streamed; a damaged message ends the stream (an incomplete zip)."""
    response = Response(stream_with_context(export.chunks), mimetype="application/zip")
    response.headers["Content-Disposition"] = content_disposition(export.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
