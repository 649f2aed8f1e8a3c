"""``/api/v1/messages``: search, metadata, original bytes, attachments and zip download for scripts.

Same criteria names as ``mailarchive search`` (DESIGN.md §6); bad input is 400 ``{"error": ...}``
(the services' refusals are mapped in server.web.errors).
The JSON of a search is exactly that of ``search --json`` plus ``next_cursor``.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from server.query.highlight import result_rows
from server.web import message_views
from server.web.context import actor, services
from server.web.mail_access import run_search, zip_response
from server.web.roles import Role, require_role

bp = Blueprint("api_messages", __name__, url_prefix="/api/v1")


@bp.get("/messages")
@require_role(Role.ARCHIVE_ADMIN)
def search() -> ResponseReturnValue:
    criteria, page = run_search(request.args)
    return jsonify(total=page.total, results=result_rows(page.results, criteria), next_cursor=page.next_cursor,
                   previous_cursor=page.previous_cursor)  # fmt: skip


@bp.get("/messages/<message_id>")
@require_role(Role.ARCHIVE_ADMIN)
def message(message_id: str) -> ResponseReturnValue:
    doc = services().archive.view(actor(), message_id, api=True).message.to_dict()
    doc["attachments"] = [{"index": i, **a} for i, a in enumerate(doc["attachments"])]
    return jsonify(doc)


# The downloads are the console's own views (same checks, same audit), also reachable under /api/v1.
bp.add_url_rule("/messages/<message_id>/raw", "raw", message_views.raw)
bp.add_url_rule("/messages/<message_id>/attachments/<int:index>", "attachment", message_views.attachment)


@bp.post("/messages/export")
@require_role(Role.ARCHIVE_ADMIN)
def export() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    ids = body.get("ids") if isinstance(body, dict) else None  # the service refuses anything but a list
    return zip_response(services().archive.zip_selected(actor(), ids))
