"""The web console's application factory (Flask tutorial style: nothing runs at import time).

Pages and ``/api/v1`` endpoints live in blueprints listed in ``BLUEPRINTS``; a page group adds one
line. The ``Services`` bundle (server.services) is opened once per app and reached through
``server.web.context.services()``; views are thin edges over it.
"""

from __future__ import annotations

import importlib
from typing import Any

from flask import Flask, Response, current_app, send_from_directory

from server.config import Config, load_config
from server.resources import resource_dir
from server.services.context import Services
from server.web import context, errors, i18n, login, nav, roles, security

TEMPLATES = resource_dir("templates")

# "module:attribute" of each blueprint; add one line per page group.
BLUEPRINTS: list[str] = [
    "server.web.auth:bp",
    "server.web.account_tokens:bp",
    "server.web.i18n:bp",
    "server.web.health:bp",
    "server.web.audit_views:bp",
    "server.web.admin:bp",
    "server.web.archiving:bp",
    "server.web.retention_views:bp",
    "server.web.api_core:bp",
    "server.web.search_views:bp",
    "server.web.message_views:bp",
    "server.web.api_messages:bp",
    "server.web.export_views:bp",
    "server.web.pop3_views:bp",
    "server.web.ops_views:bp",
]


def create_app(config: Config | None = None, test_config: dict[str, Any] | None = None) -> Flask:
    config = config or load_config()
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder="static")
    app.config.from_mapping(security.flask_settings(config))
    app.config.from_mapping(test_config or {})
    context.init_app(app, Services.open(config))
    errors.init_app(app)
    login.init_app(app)  # who is calling ...
    roles.init_app(app)  # ... may they call this endpoint (before CSRF: anonymous gets 401, not 400) ...
    security.init_app(app, config)  # ... and is the form genuine
    i18n.init_app(app)
    nav.init_app(app)
    for target in BLUEPRINTS:
        module, attr = target.split(":")
        app.register_blueprint(getattr(importlib.import_module(module), attr))
    app.add_url_rule("/favicon.ico", "favicon", roles.public(_favicon))
    return app


def _favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page says: answer it (no 404 in every log)."""
    return send_from_directory(str(current_app.static_folder), "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=86400)  # fmt: skip
