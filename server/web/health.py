"""Liveness and readiness for load balancers and orchestrators (no sign-in, no archive content).

``/healthz``: the process answers (restart it if not). ``/readyz``: the store and Redis answer,
the SMTP spool is writable and the data disk has room (``server.ops.health``), so traffic may be
sent; 503 with the failing checks otherwise. Both answer JSON and never a 500 page.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

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
    state = services().ops.readiness()
    if not state.ready:
        log.warning("not ready: %s", "; ".join(f"{c.name}: {c.detail}" for c in state.checks if not c.ok))
    return jsonify(state.to_dict()), 200 if state.ready else 503
