"""Liveness and readiness for load balancers and orchestrators (no sign-in, no archive content).

``/healthz``: the process answers. ``/readyz``: it can also read the store, so traffic may be sent.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from server.archiving import SWITCH_KEY
from server.web.context import services
from server.web.roles import public

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():  # noqa: ANN201
    return jsonify(status="ok")


@bp.get("/readyz")
@public
def readyz():  # noqa: ANN201
    try:
        services().store.get_setting(SWITCH_KEY)
    except Exception as exc:  # any store failure means "not ready", never a 500 page
        log.warning("not ready: %s", exc)
        return jsonify(status="unavailable", error="the archive store cannot be read"), 503
    return jsonify(status="ready")
