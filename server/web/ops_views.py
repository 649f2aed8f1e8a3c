"""``/metrics`` (Prometheus) and the ops dashboard (``/ops``, archive and email administrators).

``/metrics`` is declared public to the role guard because scrapers do not sign in; access is
checked here instead: the configured scrape token (``Authorization: Bearer``), an API token of an
archive or email administrator, or such an administrator's console session. Anything else is 401.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request
from flask_login import current_user

from server.services.actor import Actor
from server.web.context import actor, client_ip, services
from server.web.render import human_size
from server.web.roles import Role, public, require_role

bp = Blueprint("ops", __name__)


def _metrics_actor() -> Actor | None | bool:
    """None: the scrape token; an Actor: a user; False: nobody we know."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        token = header[7:].strip()
        if services().ops.scrape_token_matches(token):
            return None
        user = services().users.user_for_token(token)
        return Actor(user.username, user.role, client_ip()) if user is not None else False
    if current_user.is_authenticated:
        return Actor(current_user.username, current_user.role, client_ip())
    return False


@bp.get("/metrics")
@public
def metrics():  # noqa: ANN201
    from server.ops.metrics import CONTENT_TYPE

    who = _metrics_actor()
    if who is False:
        response = jsonify(error="authentication required: send Authorization: Bearer with the scrape token "
                                 "or an administrator's API token")  # fmt: skip
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="mailarchive-metrics"'
        return response
    return Response(services().ops.metrics(who), content_type=CONTENT_TYPE)


@bp.get("/ops")
@require_role(Role.ARCHIVE_ADMIN, Role.EMAIL_ADMIN)
def dashboard():  # noqa: ANN201
    board = services().ops.dashboard(actor())
    return render_template("ops/dashboard.html", board=board, data=board.to_dict(), human_size=human_size)
