"""Users and roles: create console users, reset passwords, change roles, disable; API tokens.

The rules (separation of duties) live in ``server.users``; this module decides who may ask: the
operator on the server (``Actor.cli()``) may do everything but touch the postmaster, an email
administrator may add users and grant or revoke archive-admin only, nobody else changes anyone.
Each call writes one audit entry, a refused one included (docs/audit.md).

Nobody who grants archive-admin, the operator included, sees or sets that user's password: users an
email administrator creates, and every grant of archive-admin, get a one-time set-password link
instead (the role is pending until it is used), and an archive administrator's password can only be
replaced through such a link (docs/security.md). Likewise an archive administrator's API tokens are
its own: made on the console after asking its password again, never by the operator, and every
token a user had is revoked when a granted archive-admin role takes effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.audit.operations import Op
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, NotFound
from server.users import (
    NO_ROLE,
    TOKEN_LABEL_CHARS,
    ApiToken,
    Credentials,
    LinkInvalid,
    PasswordLink,
    Role,
    User,
    check_password,
    generate_password,
    token_id,
)

if TYPE_CHECKING:
    from server.services.context import Services


OWN_PASSWORD = "an archive administrator chooses its own password through a one-time set-password link"
OWN_TOKEN = ("it creates its own API token after signing in, on the console page My account > API tokens "
             "(/account/tokens); the operator does not issue one (docs/security.md)")
API_ROLES = (Role.ARCHIVE_ADMIN, Role.EMAIL_ADMIN)  # the postmaster and users without a role have no API


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    info: ApiToken


def _label(label: str) -> str:
    """The holder's name for a token ("build server"): one line, at most ``TOKEN_LABEL_CHARS``."""
    label = " ".join(label.split())
    if len(label) > TOKEN_LABEL_CHARS:
        raise InvalidInput(f"a token's label has at most {TOKEN_LABEL_CHARS} characters")
    return label


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
        """The operator's ``user token``: a new API token for ``Authorization: Bearer``, only its
        SHA-256 stored. Never for an archive administrator, granted or pending: whoever issued it
        would hold that user's access to all mail; they make their own on the console page."""
        with self.svc.audited(actor, Op.USER_CHANGE, username, details={"change": "api_token"}) as entry:
            self._operator_only(actor, "issues API tokens")
            user = self.users.require(username)
            if Role.ARCHIVE_ADMIN in (user.role, user.pending_role):
                raise Forbidden(f"{user.username} is an archive administrator: {OWN_TOKEN}")
            entry.done(target=user.username)
            return self.users.create_token(user.username, issued_by=actor.name)

    # --- one's own API tokens (the console's API tokens page) ---------------------------------
    def own_tokens(self, actor: Actor) -> list[ApiToken]:
        """The signed-in user's tokens (ids, dates, labels; never a token). Not audited: nothing
        changes and nothing of the archive is shown."""
        self._may_hold_tokens(actor)
        return self.users.tokens_of(actor.name)

    def create_own_token(self, actor: Actor, current_password: str, label: str = "") -> IssuedToken:
        """A new token of the signed-in user, shown once. The current password is asked again, so a
        session left open (or stolen) cannot turn into a long-lived credential unnoticed."""
        label = _label(label)
        with self.svc.audited(actor, Op.USER_CHANGE, actor.name, details={"change": "api_token", "label": label}) as entry:
            self._reauthenticate(actor, current_password)
            token = self.users.create_token(actor.name, label=label)
            issued = IssuedToken(token, self._info(actor, token))
            entry.done(token_id=issued.info.id)
            return issued

    def rotate_own_token(self, actor: Actor, current_password: str, token_id: str) -> IssuedToken:
        """Replace one of one's tokens: a new one with the same label; the old one stops at once."""
        with self.svc.audited(actor, Op.USER_CHANGE, actor.name, details={"change": "api_token_rotated",
                                                                          "token_id": token_id}) as entry:  # fmt: skip
            old = self._own_token(actor, token_id)
            self._reauthenticate(actor, current_password)
            token = self.users.create_token(actor.name, label=old.label)
            self.users.revoke_token(actor.name, old.id)
            issued = IssuedToken(token, self._info(actor, token))
            entry.done(new_token_id=issued.info.id, label=old.label)
            return issued

    def revoke_own_token(self, actor: Actor, token_id: str) -> ApiToken:
        """Delete one of one's tokens (no password: revoking only takes access away)."""
        with self.svc.audited(actor, Op.USER_CHANGE, actor.name, details={"change": "api_token_revoked",
                                                                          "token_id": token_id}) as entry:  # fmt: skip
            old = self._own_token(actor, token_id)
            self.users.revoke_token(actor.name, old.id)
            entry.done(label=old.label)
            return old

    def _own_token(self, actor: Actor, token_id: str) -> ApiToken:
        self._may_hold_tokens(actor)
        found = self.users.token_of(actor.name, token_id)
        if found is None:
            raise NotFound("you have no API token with this id (revoked or replaced already?)")
        return found

    def _info(self, actor: Actor, token: str) -> ApiToken:
        found = self.users.token_of(actor.name, token_id(token))
        assert found is not None, "a token just created is listed"
        return found

    def _reauthenticate(self, actor: Actor, current_password: str) -> None:
        self._may_hold_tokens(actor)
        if self.users.authenticate(actor.name, current_password) is None:
            raise Forbidden("the current password is wrong")

    @staticmethod
    def _may_hold_tokens(actor: Actor) -> None:
        if actor.is_operator or actor.role not in API_ROLES:
            raise Forbidden("only archive and email administrators use the API: your role has no API token")

    @staticmethod
    def _may_manage(actor: Actor) -> None:
        if not actor.may(Role.EMAIL_ADMIN):
            raise Forbidden("only an email administrator manages console users and roles")

    @staticmethod
    def _operator_only(actor: Actor, what: str) -> None:
        if not actor.is_operator:
            raise Forbidden(f"only the operator on the server {what} (mailarchive user ...)")

