"""``/api/v1``: who am I, the archive summary and the archiving switch (docs/api.md).

Same rules as the pages: session cookie (with ``X-CSRFToken`` on POST) or a bearer token; errors
are ``{"error": "..."}`` (server.web.errors).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user
from werkzeug.exceptions import BadRequest

from server.archive_admin import archive_summary, switch_archiving
from server.web.context import client_ip, services
from server.web.roles import Role, require_login, require_role

bp = Blueprint("api_core", __name__, url_prefix="/api/v1")


def json_body() -> dict:
    """The request's JSON object, or 400 with a one-line reason."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object (Content-Type: application/json)')
    return body


@bp.get("/me")
@require_login
def me():  # noqa: ANN201
    return jsonify(username=current_user.username, role=current_user.role)


@bp.get("/summary")
@require_role(Role.ARCHIVE_ADMIN)
def summary():  # noqa: ANN201
    svc = services()
    return jsonify(archive_summary(svc.store, svc.config).to_dict())


@bp.post("/archiving")
@require_role(Role.ARCHIVE_ADMIN)
def archiving():  # noqa: ANN201
    enabled = json_body().get("enabled")
    if not isinstance(enabled, bool):
        raise BadRequest('"enabled" must be true or false')
    svc = services()
    state = switch_archiving(
        svc.store, svc.audit, enabled, actor=current_user.username, role=current_user.role, source_ip=client_ip()
    )
    return jsonify(state)
