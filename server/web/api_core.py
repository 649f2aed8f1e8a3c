"""``/api/v1``: who am I, the archive summary and the archiving switch (docs/api.md).

Same rules as the pages: session cookie (with ``X-CSRFToken`` on POST) or a bearer token; errors
are ``{"error": "..."}`` (server.web.errors).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import current_user

from server.web.context import actor, services
from server.web.roles import Role, require_login, require_role

bp = Blueprint("api_core", __name__, url_prefix="/api/v1")


@bp.get("/me")
@require_login
def me():  # noqa: ANN201
    return jsonify(username=current_user.username, role=current_user.role)


@bp.get("/summary")
@require_role(Role.ARCHIVE_ADMIN)
def summary():  # noqa: ANN201
    return jsonify(services().archiving.summary().to_dict())


@bp.post("/archiving")
@require_role(Role.ARCHIVE_ADMIN)
def archiving():  # noqa: ANN201
    body = request.get_json(silent=True)
    enabled = body.get("enabled") if isinstance(body, dict) else None  # the service refuses a non-boolean
    return jsonify(services().archiving.switch(actor(), enabled))
