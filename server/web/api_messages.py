"""``/api/v1/messages``: search, metadata, original bytes, attachments and zip download for scripts.

Same criteria names as ``mailarchive search`` (DESIGN.md §6); bad input is 400 ``{"error": ...}``.
The JSON of a search is exactly that of ``search --json`` plus ``next_cursor``.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from server.audit.operations import Op
from server.query.criteria import CriteriaError
from server.query.highlight import result_rows
from server.web import message_views
from server.web.context import audit
from server.web.mail_access import (
    message_or_404,
    parse_ids,
    run_search,
    zip_response,
)
from server.web.roles import Role, require_role

bp = Blueprint("api_messages", __name__, url_prefix="/api/v1")


@bp.errorhandler(CriteriaError)
def bad_criteria(exc: CriteriaError) -> ResponseReturnValue:
    return jsonify(error=str(exc)), 400


@bp.get("/messages")
@require_role(Role.ARCHIVE_ADMIN)
def search() -> ResponseReturnValue:
    criteria, page = run_search(request.args)
    return jsonify(total=page.total, results=result_rows(page.results, criteria), next_cursor=page.next_cursor)


@bp.get("/messages/<message_id>")
@require_role(Role.ARCHIVE_ADMIN)
def message(message_id: str) -> ResponseReturnValue:
    found, _ = message_or_404(message_id)
    audit(Op.MESSAGE_VIEW, target=found.id, details={"subject": found.subject[:200], "api": True})
    doc = found.to_dict()
    doc["attachments"] = [{"index": i, **a} for i, a in enumerate(doc["attachments"])]
    return jsonify(doc)


# The downloads are the console's own views (same checks, same audit), also reachable under /api/v1.
bp.add_url_rule("/messages/<message_id>/raw", "raw", message_views.raw)
bp.add_url_rule("/messages/<message_id>/attachments/<int:index>", "attachment", message_views.attachment)


@bp.post("/messages/export")
@require_role(Role.ARCHIVE_ADMIN)
def export() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("ids"), list):
        raise CriteriaError('send a JSON body {"ids": ["<message id>", ...]}')
    return zip_response(parse_ids(body["ids"]))
