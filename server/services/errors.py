"""Why a service refused or failed, as plain exceptions the edges map to their own answers.

A web view answers ``status`` with ``{"error": message}`` (or the error page); a CLI command prints
``mailarchive: error: message`` and exits ``exit_code``; pop3d and RQ jobs turn them into ``-ERR``
lines and failed task states. Services never import Flask, so one refusal reads the same everywhere.

``audit_result`` is what the audit entry of a refused call says (docs/audit.md): ``denied`` when
the actor may not do this, ``failure`` when the input or the archive made it impossible.
"""

from __future__ import annotations

from server.audit.operations import Result


class ServiceError(Exception):
    """Base of every refusal; ``message`` is one line meant for the person who asked."""

    status = 500
    exit_code = 1
    audit_result: str = Result.FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.audited = False  # set once an audit entry records this refusal (never twice)


class InvalidInput(ServiceError):
    """The request itself is malformed (bad date, unknown role, too many ids...)."""

    status = 400
    exit_code = 2


class Forbidden(ServiceError):
    """The actor's role does not allow this operation."""

    status = 403
    exit_code = 2
    audit_result = Result.DENIED


class NotFound(ServiceError):
    """What the request names does not exist (message id, user, attachment number)."""

    status = 404
    exit_code = 2


class Conflict(ServiceError):
    """The request clashes with the current state (a user that exists already, a task already done)."""

    status = 409
    exit_code = 2


class Unavailable(ServiceError):
    """Something the operation needs is down (the audit log, the store); nothing was done."""

    status = 503
    exit_code = 1


class IntegrityFailure(ServiceError):
    """Stored mail does not match its recorded SHA-256 (or its bytes are gone): it is not handed out.

    Not the caller's fault and not transient, so neither 4xx nor 503: the archive itself is damaged
    and an administrator has to look (``integrity_failure`` audit entry, docs/audit.md).
    """

    status = 500
    exit_code = 1
