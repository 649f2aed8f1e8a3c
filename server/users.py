"""Console users, their roles and API tokens, kept as small store documents.

Users are documents of kind ``user`` keyed by user name; API tokens are documents of kind
``api_token`` keyed by the SHA-256 of the token, so a leaked store copy does not leak usable
tokens. Passwords are hashed with argon2id (argon2-cffi defaults).

Separation of duties (issue "Web console"): the built-in ``postmaster`` has no archive rights and
cannot be changed or deleted; only an ``email-admin`` grants or revokes ``archive-admin``; an
``archive-admin`` can do everything about the archive but cannot hand that right on. A user may
hold no role at all (after a revoke): such a user can sign in and change its password, nothing else.

Whoever grants ``archive-admin`` never holds its credentials: the grant is *pending* (``pending_role``)
until the user has chosen a password through a one-time set-password link (``PasswordLink``: a
random token, of which only the SHA-256 is stored, valid once for ``LINK_LIFETIME``, replaced by a
newer one). The granter sees the link to pass on, never a password. The role then takes effect and
every earlier session of that user ends (the password changed).
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from server.model import format_time, now_utc, parse_time
from server.roles import Role
from server.store.protocol import Store

if TYPE_CHECKING:
    from argon2 import PasswordHasher

USER_KIND = "user"
TOKEN_KIND = "api_token"
LINK_KIND = "password_link"
LINK_LIFETIME = timedelta(hours=72)  # long enough for a weekend, short enough that a lost link dies
POSTMASTER = "postmaster"
FIRST_EMAIL_ADMIN = "admin"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10
TOKEN_ID_CHARS = 12  # of the SHA-256 hex: names a token on the page and in the log, reveals nothing of it
TOKEN_LABEL_CHARS = 64


NO_ROLE = ""  # a user whose role was revoked


class UserError(ValueError):
    """A user operation is not allowed or its input is invalid; the message says why, in one line."""


class UnknownUser(UserError):
    """No user has this name."""


class UserExists(UserError):
    """A new user would take a name already in use."""


class NotAllowed(UserError):
    """The separation-of-duties rules forbid this change (whatever the input)."""


class LinkInvalid(UserError):
    """A set-password link that was used, replaced by a newer one, expired, or never issued."""


@dataclass
class User:
    username: str
    role: str
    password_hash: str
    created_at: str
    disabled: bool = False
    session_generation: int = 0  # raised at sign-out: a saved cookie of an ended session stops working
    pending_role: str = ""  # granted, in effect once the user has set a password through its link
    link_key: str = ""  # SHA-256 of the one set-password link that is valid now ("": none)

    @property
    def session_stamp(self) -> str:
        """Changes with the password and at sign-out, so those end the user's sessions server-side."""
        generation = f":{self.session_generation}" if self.session_generation else ""
        return hashlib.sha256(f"{self.password_hash}{generation}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PasswordLink:
    """A one-time set-password link's secret part, shown once to be passed on (``/set-password/TOKEN``)."""

    username: str
    token: str
    expires_at: str

    @property
    def path(self) -> str:
        return f"/set-password/{self.token}"


@dataclass(frozen=True)
class ApiToken:
    """What is known of a token after it was shown: its id (the start of its SHA-256, never the
    token), when and by whom it was issued, the holder's label for it."""

    id: str
    created_at: str
    label: str
    issued_by: str  # "cli": the operator's ``user token``; "": the user's own (console page)


@dataclass(frozen=True)
class Credentials:
    """What a new user needs to sign in, shown once: a generated password (first start, ``user add``
    of an email administrator by the operator) or, when the creator must not know it, a set-password
    link (``password`` empty)."""

    username: str
    role: str
    password: str
    link: PasswordLink | None = None
    pending_role: str = ""


_hasher: PasswordHasher | None = None  # built on first use: a search from the CLI never hashes a password


def _password_hasher() -> PasswordHasher:
    """argon2id at argon2-cffi's recommended cost (RFC 9106 low-memory profile), unless a test set one."""
    global _hasher
    if _hasher is None:
        from argon2 import PasswordHasher

        _hasher = PasswordHasher()
    return _hasher


def set_password_hasher(hasher: PasswordHasher) -> None:
    """Tests use a cheaper argon2id cost; hashes of another cost are upgraded at next sign-in."""
    global _hasher
    _hasher = hasher
    _dummy_hash.cache_clear()


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token: str) -> str:
    """The short name of an API token shown on the page and in the log (``ApiToken.id``)."""
    return token_key(token)[:TOKEN_ID_CHARS]


def parse_role(value: str) -> str:
    """A role name from user input ("none" or "" for no role)."""
    if value in ("", "none"):
        return NO_ROLE
    try:
        return Role(value).value
    except ValueError:
        raise UserError(f"unknown role {value!r}; use one of: {', '.join(r.value for r in Role)}, none") from None


class UserService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reading ----------------------------------------------------------------------------
    def get(self, username: str) -> User | None:
        doc = self.store.get_doc(USER_KIND, username.lower())
        return User(**doc) if doc else None

    def require(self, username: str) -> User:
        user = self.get(username)
        if user is None:
            raise UnknownUser(f"no such user: {username}")
        return user

    def list(self) -> list[User]:
        return sorted((User(**doc) for _, doc in self.store.list_docs(USER_KIND)), key=lambda u: u.username)

    def with_role(self, role: str) -> list[str]:
        return [u.username for u in self.list() if u.role == role and not u.disabled]

    # --- changing ---------------------------------------------------------------------------
    def check_new(self, username: str) -> str:
        """The normalised name for a new user; ``UserError`` if invalid or taken."""
        name = username.strip().lower()
        if not NAME_RE.match(name):
            raise UserError(f"invalid user name {username!r}: use 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit")
        if self.get(name):
            raise UserExists(f"user {name} exists already")
        return name

    def check_add(self, username: str, role: str, password: str | None = None) -> tuple[str, str]:
        """(normalised name, role) if ``add`` would accept these; ``UserError`` saying why not."""
        name = self.check_new(username)
        role = parse_role(role)
        if role == Role.POSTMASTER and name != POSTMASTER:
            raise NotAllowed("the postmaster role is built in; it belongs to the user 'postmaster' only")
        if password is not None:
            check_password(password)
        return name, role

    def add(self, username: str, role: str, password: str | None = None) -> Credentials:
        """Create a user; a password is generated when none is given (returned once)."""
        name, role = self.check_add(username, role, password)
        password = password if password is not None else generate_password()
        self._save(User(name, role, _hash(password), format_time(now_utc())))
        return Credentials(name, role, password)

    def set_password(self, username: str, password: str) -> None:
        user = self.require(username)
        user.password_hash = _hash(password)
        self._save(user)

    # --- set-password links (separation of duties, see the module docstring) -----------------
    def add_with_link(self, username: str, pending_role: str) -> Credentials:
        """A user nobody knows the password of (a random one, never shown), with a set-password
        link; ``pending_role`` takes effect when the link is used."""
        name, pending_role = self.check_add(username, pending_role)
        self._save(User(name, NO_ROLE, _hash(secrets.token_urlsafe(32)), format_time(now_utc()), pending_role=pending_role))
        return Credentials(name, NO_ROLE, "", self.issue_link(name), pending_role)

    def grant_pending(self, username: str, role: str) -> PasswordLink:
        """Record ``role`` as granted but not in effect, and issue the link that puts it in effect."""
        user = self.require(username)
        user.pending_role = role
        self._save(user)
        return self.issue_link(user.username)

    def issue_link(self, username: str) -> PasswordLink:
        """A new one-time link for ``username``; any earlier link of that user stops working."""
        user = self.require(username)
        token = secrets.token_urlsafe(32)
        expires = format_time(now_utc() + LINK_LIFETIME)
        if user.link_key:
            self.store.delete_doc(LINK_KIND, user.link_key)
        self.store.put_doc(LINK_KIND, token_key(token), {"username": user.username, "expires_at": expires,
                                                          "created_at": format_time(now_utc())})  # fmt: skip
        user.link_key = token_key(token)
        self._save(user)
        return PasswordLink(user.username, token, expires)

    def link_owner(self, token: str) -> User:
        """The user a valid link belongs to; ``LinkInvalid`` for anything else (says not which)."""
        key = token_key(token)
        doc = self.store.get_doc(LINK_KIND, key)
        user = self.get(doc["username"]) if doc else None
        if doc is None or user is None or user.link_key != key or parse_time(doc["expires_at"]) <= now_utc():
            raise LinkInvalid("this set-password link is not valid: it was used, replaced by a newer one or has expired")
        return user

    def use_link(self, token: str, password: str) -> User:
        """Set the password through a link, once: the pending role takes effect, other sessions end."""
        user = self.link_owner(token)
        check_password(password)
        if not self.store.delete_doc(LINK_KIND, user.link_key):  # the claim: only one use can delete it
            raise LinkInvalid("this set-password link was just used")
        user.password_hash = _hash(password)
        if user.pending_role:  # a token issued before would act with the new role: only self-made ones from now on
            self.revoke_tokens(user.username)
        user.role, user.pending_role, user.link_key = user.pending_role or user.role, "", ""
        self._save(user)
        return user

    def _drop_link(self, user: User) -> None:
        """Forget a pending grant and its link (a revoke before the user set a password); unsaved."""
        if user.link_key:
            self.store.delete_doc(LINK_KIND, user.link_key)
        user.pending_role = user.link_key = ""

    def end_sessions(self, username: str) -> None:
        """Invalidate every console session of ``username`` (a copied cookie included)."""
        user = self.require(username)
        user.session_generation += 1
        self._save(user)

    def set_disabled(self, username: str, disabled: bool) -> User:
        """Disable (or re-enable) sign-in and API tokens; the built-in postmaster stays enabled."""
        user = self.check_disable(username, disabled)
        user.disabled = disabled
        self._save(user)
        return user

    def check_disable(self, username: str, disabled: bool) -> User:
        """The user if ``set_disabled`` would accept this; ``UserError`` otherwise."""
        user = self.require(username)
        if user.role == Role.POSTMASTER and disabled:
            raise NotAllowed("the built-in postmaster cannot be disabled")
        return user

    def set_role(self, username: str, role: str, *, by_role: str | None = None) -> User:
        """Change a user's role. ``by_role`` is the console role acting (None: the operator CLI).

        The console allows an email-admin to grant or revoke archive-admin only; the operator on
        the server may set any role but postmaster. The postmaster itself never changes.
        """
        user, user.role = self.check_role_change(username, role, by_role=by_role)
        if user.pending_role:
            self._drop_link(user)
        self._save(user)
        return user

    def check_role_change(self, username: str, role: str, *, by_role: str | None = None) -> tuple[User, str]:
        """(user, new role) if the change is allowed (see ``set_role``); ``UserError`` otherwise."""
        user = self.require(username)
        role = parse_role(role)
        if user.role == Role.POSTMASTER or role == Role.POSTMASTER:
            raise NotAllowed("the postmaster role is built in and cannot be granted, revoked or changed")
        if by_role is not None:
            if by_role != Role.EMAIL_ADMIN:
                raise NotAllowed("only an email administrator assigns or revokes the archive-admin role")
            if {user.role, role} - {Role.ARCHIVE_ADMIN, NO_ROLE}:
                raise NotAllowed("an email administrator may only grant or revoke the archive-admin role")
        return user, role

    # --- authentication ---------------------------------------------------------------------
    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password matches and the account is enabled; rehashes outdated hashes."""
        user = self.get(username.strip())
        if user is None:
            _verify(_dummy_hash(), password)  # same cost whether or not the user exists
            return None
        if not _verify(user.password_hash, password) or user.disabled:
            return None
        if _password_hasher().check_needs_rehash(user.password_hash):
            user.password_hash = _hash(password)
            self._save(user)
        return user

    # --- API tokens --------------------------------------------------------------------------
    def create_token(self, username: str, *, label: str = "", issued_by: str = "") -> str:
        """A new bearer token, returned once; only its SHA-256 is kept. ``issued_by``: the operator
        (``cli``) or empty when the user made it itself (the console's API tokens page)."""
        user = self.require(username)
        token = "ma_" + secrets.token_urlsafe(32)
        self.store.put_doc(TOKEN_KIND, token_key(token), {"username": user.username, "created_at": format_time(now_utc()),
                                                           "label": label, "issued_by": issued_by})  # fmt: skip
        return token

    def tokens_of(self, username: str) -> list[ApiToken]:
        """The user's tokens, newest first (a scan of every token: there are a handful per user)."""
        name = username.lower()
        found = [ApiToken(key[:TOKEN_ID_CHARS], doc["created_at"], doc.get("label", ""), doc.get("issued_by", ""))
                 for key, doc in self.store.list_docs(TOKEN_KIND) if doc.get("username") == name]  # fmt: skip
        return sorted(found, key=lambda t: t.created_at, reverse=True)

    def token_of(self, username: str, token_id: str) -> ApiToken | None:
        return next((t for t in self.tokens_of(username) if t.id == token_id), None)

    def revoke_token(self, username: str, token_id: str) -> bool:
        """Delete one of ``username``'s tokens by its id; False if it has none such."""
        name = username.lower()
        keys = [k for k, doc in self.store.list_docs(TOKEN_KIND) if doc.get("username") == name and k.startswith(token_id)]
        return bool(token_id) and len(keys) == 1 and self.store.delete_doc(TOKEN_KIND, keys[0])

    def revoke_tokens(self, username: str) -> int:
        """Delete every token of ``username`` (the archive-admin role taking effect); how many."""
        name = username.lower()
        keys = [k for k, doc in self.store.list_docs(TOKEN_KIND) if doc.get("username") == name]
        return sum(self.store.delete_doc(TOKEN_KIND, k) for k in keys)

    def user_for_token(self, token: str) -> User | None:
        doc = self.store.get_doc(TOKEN_KIND, token_key(token))
        user = self.get(doc["username"]) if doc else None
        return user if user and not user.disabled else None

    def _save(self, user: User) -> None:
        self.store.put_doc(USER_KIND, user.username, asdict(user))


def bootstrap_first_start(store: Store) -> list[Credentials]:
    """Make sure the built-in postmaster and an email administrator exist; return new passwords.

    On a fresh data dir both are created (``postmaster`` and ``admin``) with generated passwords,
    shown once by the caller. Later starts create nothing (a data dir prepared with ``mailarchive
    user add`` still gets its postmaster), so each password is generated and shown exactly once.
    """
    users = UserService(store)
    created = []
    if users.get(POSTMASTER) is None:
        created.append(users.add(POSTMASTER, Role.POSTMASTER))
    if not users.with_role(Role.EMAIL_ADMIN) and users.get(FIRST_EMAIL_ADMIN) is None:
        created.append(users.add(FIRST_EMAIL_ADMIN, Role.EMAIL_ADMIN))
    return created


def check_password(password: str) -> None:
    """Raise ``UserError`` for a password too weak to accept."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password too short: at least {MIN_PASSWORD} characters")


def _hash(password: str) -> str:
    check_password(password)
    return _password_hasher().hash(password)


def _verify(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _password_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _password_hasher().hash(secrets.token_hex(8))


def hash_password(password: str) -> str:
    """The argon2id hash of an acceptable password (console users and the POP3 account alike)."""
    return _hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash the check still costs the same (no timing oracle)."""
    if not password_hash:
        _verify(_dummy_hash(), password)
        return False
    return _verify(password_hash, password)
