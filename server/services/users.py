"""Users and roles: create console users, reset passwords, change roles, disable, issue API tokens.

The rules (separation of duties) live in ``server.users``; this module decides who may ask: the
operator on the server (``Actor.cli()``) may do everything but touch the postmaster, an email
administrator may add users and grant or revoke archive-admin only, nobody else changes anyone.
Each call writes one audit entry, a refused one included (docs/audit.md).

Nobody who grants archive-admin, the operator included, sees or sets that user's password: users an
email administrator creates, and every grant of archive-admin, get a one-time set-password link
instead (the role is pending until it is used), and an archive administrator's password can only be
replaced through such a link (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.audit.operations import Op
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, NotFound
from server.users import (
    NO_ROLE,
    Credentials,
    LinkInvalid,
    PasswordLink,
    Role,
    User,
    check_password,
    generate_password,
)

if TYPE_CHECKING:
    from server.services.context import Services


OWN_PASSWORD = "an archive administrator chooses its own password through a one-time set-password link"


@dataclass(frozen=True)
class RoleChange:
    user: User
    previous: str
    link: PasswordLink | None = None  # a grant of archive-admin: pending until the user uses it


class Accounts:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.users = svc.users

    def add(self, actor: Actor, username: str, role: str, password: str | None = None) -> Credentials:
        """A new user. The operator adding anyone but an archive administrator may give ``password``
        or have one generated (shown once); otherwise the user gets a set-password link."""
        with self.svc.audited(actor, Op.USER_CHANGE, username, details={"change": "create", "role": role}) as entry:
            self._may_manage(actor)
            if not actor.is_operator and role not in ("", "none"):
                raise Forbidden("an email administrator creates users without a role, then grants archive-admin")
            name, role = self.users.check_add(username, role, password)
            if role == Role.ARCHIVE_ADMIN or not actor.is_operator:
                if password is not None:
                    raise InvalidInput(f"{OWN_PASSWORD}: give no password")
                entry.done(target=name, role=NO_ROLE, pending_role=role, link="issued")
                return self.users.add_with_link(name, role)
            entry.done(target=name, role=role)
            return self.users.add(name, role, password)

    def reset_password(self, actor: Actor, username: str, password: str | None = None) -> Credentials:
        """The operator's "forgotten password" path: a new password (given or generated, shown once),
        or for an archive administrator (granted or pending) a set-password link instead."""
        with self.svc.audited(actor, Op.USER_CHANGE, username, details={"change": "password"}) as entry:
            self._operator_only(actor, "resets passwords")
            user = self.users.require(username)
            if Role.ARCHIVE_ADMIN in (user.role, user.pending_role):
                if password is not None:
                    raise Forbidden(f"{OWN_PASSWORD}: run without --password-stdin to issue one")
                entry.done(target=user.username, link="issued")
                return Credentials(user.username, user.role, "", self.users.issue_link(user.username), user.pending_role)
            new = password if password is not None else generate_password()
            check_password(new)
            entry.done(target=user.username)
            self.users.set_password(user.username, new)
            return Credentials(user.username, user.role, new)

    def new_link(self, actor: Actor, username: str) -> PasswordLink:
        """A fresh set-password link (the last one was lost or expired). An email administrator may
        ask for one only for users without a role in effect: never to take over an archive admin."""
        with self.svc.audited(actor, Op.USER_CHANGE, username, details={"change": "password_link"}) as entry:
            self._may_manage(actor)
            user = self.users.require(username)
            if not actor.is_operator and user.role != NO_ROLE:
                raise Forbidden("an email administrator issues set-password links only for users without a role")
            entry.done(target=user.username, pending_role=user.pending_role)
            return self.users.issue_link(user.username)

    def link_owner(self, token: str) -> User:
        """Whose a set-password link is (the form shows the name); ``NotFound`` if it is not valid.
        Reading is not audited: nothing changes, and nothing of the archive is shown."""
        try:
            return self.users.link_owner(token)
        except LinkInvalid as exc:
            raise NotFound(str(exc)) from exc

    def use_link(self, actor: Actor, token: str, password: str) -> User:
        """Set one's password through a link: the pending role takes effect, earlier sessions end."""
        user = self.link_owner(token)  # an invalid link changes nothing and is not logged (no growth)
        with self.svc.audited(actor, Op.USER_CHANGE, user.username, details={"change": "password_link_used"}) as entry:
            check_password(password)
            entry.done(role=user.pending_role or user.role, granted=bool(user.pending_role))
            return self.users.use_link(token, password)

    def change_own_password(self, actor: Actor, current: str, new: str) -> User:
        """A signed-in user replaces its own password; the current one must be given."""
        with self.svc.audited(actor, Op.USER_CHANGE, actor.name, details={"change": "password"}) as entry:
            if self.users.authenticate(actor.name, current) is None:
                raise Forbidden("the current password is wrong")
            check_password(new)
            entry.done()
            self.users.set_password(actor.name, new)
            return self.users.require(actor.name)

    def set_role(self, actor: Actor, username: str, role: str) -> RoleChange:
        """Email administrators grant/revoke archive-admin only. A grant of archive-admin is pending
        (``RoleChange.link`` to pass on) until the user has set a password through that link."""
        with self.svc.audited(actor, Op.ROLE_CHANGE, username, asked={"role": role}) as entry:
            self._may_manage(actor)
            by_role = None if actor.is_operator else actor.role
            user, new_role = self.users.check_role_change(username, role, by_role=by_role)
            previous = user.role
            if new_role == Role.ARCHIVE_ADMIN and previous != Role.ARCHIVE_ADMIN:
                entry.done(target=user.username, **{"from": previous, "to": new_role}, pending=True)
                link = self.users.grant_pending(user.username, new_role)
                return RoleChange(self.users.require(user.username), previous, link)
            entry.done(target=user.username, **{"from": previous, "to": new_role})
            return RoleChange(self.users.set_role(user.username, new_role, by_role=by_role), previous)

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

