"""Error responses: ``{"error": "..."}`` under ``/api/``, a friendly translated page elsewhere.

A service's refusal (``ServiceError``) becomes its HTTP status with its one-line message, so a view
only calls the service. An audit entry that cannot be written stops the operation (fail-closed):
it arrives as ``Unavailable`` (503) and the caller knows nothing happened.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from server.audit.log import AuditUnavailable
from server.services.errors import ServiceError
from server.store.protocol import StoreError
from server.web.i18n import t
from server.web.roles import is_api_request

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request was not valid.",
    401: "Please sign in.",
    403: "Your role does not allow this page.",
    404: "This page does not exist.",
    405: "This method is not allowed here.",
    429: "Too many attempts. Please wait and try again.",
    500: "Something went wrong on the server.",
    503: "The service is temporarily unavailable.",
}


def http_error(error: HTTPException, *, explain: bool = False) -> ResponseReturnValue:
    """``explain``: show the description on the page whatever the code (a service's own message)."""
    code = error.code or 500
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    if is_api_request():
        response = jsonify(error=error.description or MESSAGES.get(code, "error"))
        response.status_code = code
        response.headers.extend(headers)
        return response
    shown = error.description and (explain or code in (400, 429))
    message = t(error.description if shown else MESSAGES.get(code, ""))
    body = render_template("errors/error.html", code=code, title=error.name, message=message)
    return body, code, headers


def service_error(error: ServiceError) -> ResponseReturnValue:
    if error.status >= 500:
        log.error("refused (%s): %s", type(error).__name__, error.message)
    http = HTTPException(description=error.message)
    http.code = error.status
    return http_error(http, explain=True)


def audit_unavailable(error: AuditUnavailable) -> ResponseReturnValue:
    log.error("refused: %s", error)
    return http_error(ServiceUnavailable("The audit log cannot be written, so nothing was done. Try again later."))


def store_failed(error: StoreError) -> ResponseReturnValue:
    """The store failed outside a service call (a streamed download, a page's lookup): 503."""
    log.error("store failure: %s", error)
    return http_error(ServiceUnavailable("The archive store is not reachable. Try again later."))


def unexpected(error: Exception) -> ResponseReturnValue:
    log.exception("unhandled error", exc_info=error)
    return http_error(InternalServerError())


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(ServiceError, service_error)
    app.register_error_handler(AuditUnavailable, audit_unavailable)
    app.register_error_handler(StoreError, store_failed)
    if not app.testing:  # tests see the real traceback
        app.register_error_handler(Exception, unexpected)
