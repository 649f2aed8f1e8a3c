"""Who may call which endpoint: every view declares it, one guard enforces it before the view runs.

Each view carries exactly one declaration: ``@public``, ``@require_login`` (any signed-in user,
whatever its role) or ``@require_role(Role...)``. The declaration is stored on the view function,
so the role-matrix test walks ``app.url_map`` and finds every endpoint's rule, and the guard
(``enforce_access``, run before CSRF and before the view) refuses endpoints that declare nothing:
a view somebody forgot to protect fails closed instead of serving archived mail.

Anonymous callers are sent to the login page (pages) or get 401 JSON (``/api/``); a signed-in
caller without the role gets 403 (JSON under ``/api/``, a friendly page otherwise).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, abort, current_app, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from server.users import Role

__all__ = ["Access", "Role", "access_of", "allows", "public", "require_login", "require_role"]

log = logging.getLogger(__name__)
ACCESS_ATTR = "mailarchive_access"
API_PREFIX = "/api/"


@dataclass(frozen=True)
class Access:
    public: bool = False
    roles: frozenset[str] | None = None  # None: any signed-in user

    def permits(self, role: str | None) -> bool:
        """Would a caller with ``role`` (None: anonymous) be let in?"""
        if self.public:
            return True
        if role is None:
            return False
        return self.roles is None or role in self.roles


PUBLIC = Access(public=True)
SIGNED_IN = Access()


def _declare(access: Access) -> Callable:
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):  # noqa: ANN202 - defence in depth if the app guard is bypassed
            denied = check(access)
            return denied if denied is not None else view(*args, **kwargs)

        setattr(guarded, ACCESS_ATTR, access)
        return guarded

    return decorate


def public(view: Callable) -> Callable:
    """Open to everybody (login page, health checks, language switch)."""
    return _declare(PUBLIC)(view)


def require_login(view: Callable) -> Callable:
    """Any signed-in user, whatever its role (home page, own password, logout)."""
    return _declare(SIGNED_IN)(view)


def require_role(*roles: Role) -> Callable:
    """Only signed-in users holding one of ``roles``."""
    if not roles:
        raise ValueError("require_role needs at least one role")
    return _declare(Access(roles=frozenset(str(r) for r in roles)))


def access_of(view: Callable) -> Access | None:
    return getattr(view, ACCESS_ATTR, None)


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def current_role() -> str | None:
    """The signed-in user's role ("" when it has none), None when anonymous."""
    return current_user.role if current_user.is_authenticated else None


def allows(endpoint: str, role: str | None) -> bool:
    """Whether ``role`` may open ``endpoint`` (the navigation shows only what the user may open)."""
    view = current_app.view_functions.get(endpoint)
    access = access_of(view) if view else None
    return access is not None and access.permits(role)


def check(access: Access) -> ResponseReturnValue | None:
    """None when the current caller passes ``access``; otherwise the refusal response."""
    if access.permits(current_role()):
        return None
    if not current_user.is_authenticated:
        if is_api_request():
            response = jsonify(error="authentication required: sign in or send Authorization: Bearer TOKEN")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="mailarchive"'
            return response
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(403)


def enforce_access() -> ResponseReturnValue | None:
    """``before_request`` guard: apply the matched view's declaration; undeclared views fail closed."""
    if request.endpoint is None:  # no route matched: 404/405 follow
        return None
    if request.endpoint == "static":
        return None
    access = access_of(current_app.view_functions[request.endpoint])
    if access is None:
        log.error("endpoint %s declares no access rule; refused", request.endpoint)
        abort(403)
    return check(access)


def init_app(app: Flask) -> None:
    app.before_request(enforce_access)
