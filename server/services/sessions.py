"""Signing in and out of the console (and the API's session cookie).

The entry of a successful sign-in is written before the caller creates the session, so nobody is
signed in without a trace; a failed attempt is recorded under the name that was tried. Throttling
of repeated failures is the web edge's (``server.web.throttle``): it answers before any work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.audit.operations import Op, Result
from server.services.actor import Actor
from server.services.errors import Forbidden
from server.users import User

if TYPE_CHECKING:
    from server.services.context import Services


class SignInFailed(Forbidden):
    """Wrong user name or password, or a disabled account (the message does not say which)."""


class Sessions:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def sign_in(self, actor: Actor, username: str, password: str) -> User:
        """The user if the password matches an enabled account; ``SignInFailed`` otherwise.

        ``actor`` is the anonymous caller (``Actor.anonymous(ip)``); the entry names the account.
        """
        username = username.strip().lower()
        user = self.svc.users.authenticate(username, password) if username else None
        if user is None:
            error = SignInFailed("wrong user name or password")
            error.audited = True
            tried = Actor.anonymous(actor.source_ip, username)
            self.svc.write_entry(tried, Op.LOGIN_FAILED, tried.name, {}, Result.FAILURE)
            raise error
        self.svc.write_entry(Actor(user.username, user.role, actor.source_ip), Op.LOGIN, user.username, {},
                             Result.SUCCESS)  # fmt: skip
        return user

    def locked_out(self, actor: Actor, username: str, seconds: int) -> None:
        """Record that failed sign-ins (from any address) locked ``username`` for ``seconds``.
        Attempts refused during the lock are not recorded one by one: the log must not grow by
        what anyone can send."""
        tried = Actor.anonymous(actor.source_ip, username.strip().lower())
        self.svc.write_entry(tried, Op.LOGIN_FAILED, tried.name, {"account_locked_seconds": seconds}, Result.DENIED)

    def sign_out(self, actor: Actor) -> None:
        """Record the sign-out and end the user's sessions server-side (the caller clears the cookie)."""
        self.svc.write_entry(actor, Op.LOGOUT, actor.name, {}, Result.SUCCESS)
        self.svc.users.end_sessions(actor.name)
