"""Who is calling: the session cookie (Flask-Login) or, under ``/api/``, a bearer token.

The user and its role are read from the store on every request, so a revoked role or a disabled
account takes effect at once. The session id includes a stamp of the password hash: changing the
password ends every other session of that user.
"""

from __future__ import annotations

from flask import Flask, g, request
from flask_login import LoginManager, UserMixin

from server.users import User
from server.web.context import services
from server.web.roles import API_PREFIX

login_manager = LoginManager()


class WebUser(UserMixin):
    def __init__(self, user: User) -> None:
        self.user = user
        self.username = user.username
        self.role = user.role

    @property
    def is_active(self) -> bool:
        return not self.user.disabled

    def get_id(self) -> str:
        return f"{self.user.username}:{self.user.session_stamp}"


@login_manager.user_loader
def load_session_user(session_id: str) -> WebUser | None:
    username, _, stamp = session_id.partition(":")
    user = services().users.get(username)
    if user is None or user.disabled or stamp != user.session_stamp:
        return None
    return WebUser(user)


@login_manager.request_loader
def load_token_user(req) -> WebUser | None:  # noqa: ANN001 - Flask-Login passes the request
    header = req.headers.get("Authorization", "")
    if not (req.path.startswith(API_PREFIX) and header[:7].lower() == "bearer "):
        return None
    user = services().users.user_for_token(header[7:].strip())
    if user is None:
        return None
    g.auth_via_token = True
    return WebUser(user)


def _bearer_first() -> None:
    """A bearer token wins over a session cookie sent along with it (scripts reuse cookie jars)."""
    if request.path.startswith(API_PREFIX) and request.headers.get("Authorization", "")[:7].lower() == "bearer ":
        g._login_user = load_token_user(request) or login_manager.anonymous_user()


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    app.before_request(_bearer_first)
