"""Users and roles: create console users, reset passwords, change roles, disable, issue API tokens.

The rules (separation of duties) live in ``server.users``; this module decides who may ask: the
operator on the server (``Actor.cli()``) may do everything but touch the postmaster, an email
administrator may add users and grant or revoke archive-admin only, nobody else changes anyone.
Each call writes one audit entry, a refused one included (docs/audit.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.audit.operations import Op
from server.services.actor import Actor
from server.services.errors import Forbidden
from server.users import Credentials, Role, User, check_password, generate_password

if TYPE_CHECKING:
    from server.services.context import Services


class Accounts:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.users = svc.users

    def add(self, actor: Actor, username: str, role: str, password: str | None = None) -> Credentials:
        """A new user; without ``password`` one is generated and returned (shown once, stored hashed)."""
        with self.svc.audited(actor, Op.USER_CHANGE, username, details={"change": "create", "role": role}) as entry:
            self._may_manage(actor)
            if not actor.is_operator and role not in ("", "none"):
                raise Forbidden("an email administrator creates users without a role, then grants archive-admin")
            name, role = self.users.check_add(username, role, password)
            entry.done(target=name, role=role)
            return self.users.add(name, role, password)

    def reset_password(self, actor: Actor, username: str, password: str | None = None) -> str:
        """Set a user's password (the operator's "forgotten password" path); returns it."""
        with self.svc.audited(actor, Op.USER_CHANGE, username, details={"change": "password"}) as entry:
            self._operator_only(actor, "resets passwords")
            user = self.users.require(username)
            new = password if password is not None else generate_password()
            check_password(new)
            entry.done(target=user.username)
            self.users.set_password(user.username, new)
            return new

    def change_own_password(self, actor: Actor, current: str, new: str) -> User:
        """A signed-in user replaces its own password; the current one must be given."""
        with self.svc.audited(actor, Op.USER_CHANGE, actor.name, details={"change": "password"}) as entry:
            if self.users.authenticate(actor.name, current) is None:
                raise Forbidden("the current password is wrong")
            check_password(new)
            entry.done()
            self.users.set_password(actor.name, new)
            return self.users.require(actor.name)

    def set_role(self, actor: Actor, username: str, role: str) -> tuple[User, str]:
        """(user with the new role, previous role). Email administrators grant/revoke archive-admin only."""
        with self.svc.audited(actor, Op.ROLE_CHANGE, username, asked={"role": role}) as entry:
            self._may_manage(actor)
            by_role = None if actor.is_operator else actor.role
            user, new_role = self.users.check_role_change(username, role, by_role=by_role)
            previous = user.role
            entry.done(target=user.username, **{"from": previous, "to": new_role})
            return self.users.set_role(user.username, new_role, by_role=by_role), previous

    def set_disabled(self, actor: Actor, username: str, disabled: bool) -> User:
        """Stop (or allow again) sign-in and API tokens of a user."""
        change = "disable" if disabled else "enable"
        with self.svc.audited(actor, Op.USER_CHANGE, username, details={"change": change}) as entry:
            self._operator_only(actor, "disables users")
            user = self.users.check_disable(username, disabled)
            entry.done(target=user.username)
            return self.users.set_disabled(user.username, disabled)

    def create_token(self, actor: Actor, username: str) -> str:
        """A new API token for ``Authorization: Bearer``; only its SHA-256 is stored."""
        with self.svc.audited(actor, Op.USER_CHANGE, username, details={"change": "api_token"}) as entry:
            self._operator_only(actor, "issues API tokens")
            user = self.users.require(username)
            entry.done(target=user.username)
            return self.users.create_token(user.username)

    @staticmethod
    def _may_manage(actor: Actor) -> None:
        if not actor.may(Role.EMAIL_ADMIN):
            raise Forbidden("only an email administrator manages console users and roles")

    @staticmethod
    def _operator_only(actor: Actor, what: str) -> None:
        if not actor.is_operator:
            raise Forbidden(f"only the operator on the server {what} (mailarchive user ...)")

