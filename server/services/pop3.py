"""The POP3 archive account: administration (enable, password, disable) and what pop3d asks of it.

One account per installation (``config.pop3.account``, default ``archive``). Its state is one
store document (``pop3/account``: enabled, argon2 hash, who changed it when); the download
position is another (``pop3/position``), written only by compare-and-set so that two sessions
ending at once can neither move it backwards nor past a message neither of them acknowledged.

Administration is for archive administrators and the operator on the server; each change writes
one audit entry before it happens. pop3d logs in (failures audited with a bounded detail), reads
messages (the SHA-256 is checked; a mismatch is refused and audited as an integrity failure),
acknowledges and writes one audit entry per session. Nothing here knows Flask or sockets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from server.audit.operations import Op, Result
from server.model import format_time, now_utc
from server.services.actor import ARCHIVE_READERS, Actor
from server.services.errors import Forbidden, IntegrityFailure, InvalidInput, Unavailable
from server.store.protocol import StoreError, VersionConflict
from server.users import UserError, check_password, hash_password, verify_password

if TYPE_CHECKING:
    from server.services.archive_access import Stored
    from server.services.context import Services

log = logging.getLogger(__name__)
KIND = "pop3"
ACCOUNT_KEY = "account"
POSITION_KEY = "position"
LAST_SESSION_KEY = "last_session"
ROLE = "pop3"  # the audit role of the POP3 account
MAX_CAS_TRIES = 20
DETAIL_CHARS = 64  # a user name tried at login is kept to this many characters in the audit log


@dataclass(frozen=True)
class Pop3Status:
    """What the integration page and ``mailarchive pop3 status`` show."""

    enabled: bool
    password_set: bool
    account: str
    bind: str
    port: int
    tls_port: int | None
    stls: bool  # STLS offered on the plain port (a certificate is configured)
    window: int
    position: int  # archive_seq acknowledged so far
    watermark: int  # the archive's stable archive_seq
    changed_at: str | None
    changed_by: str | None
    last_session: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Acked:
    """Where the position stood and stands after a session's acknowledgement."""

    before: int
    after: int

    @property
    def moved(self) -> bool:
        return self.after != self.before


class Pop3:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.settings = svc.config.pop3

    # --- administration (archive administrators, the operator) ---------------------------------
    def status(self, actor: Actor) -> Pop3Status:
        """Read-only, so not audited (like the archive summary); archive administrators only."""
        self._may_administer(actor)
        account = self._account()
        return Pop3Status(
            enabled=bool(account.get("enabled")), password_set=bool(account.get("password_hash")),
            account=self.settings.account, bind=self.settings.bind, port=self.settings.port,
            tls_port=self.settings.tls_port if self.settings.certificate else None,
            stls=bool(self.settings.certificate), window=self.settings.window, position=self.position(),
            watermark=self.svc.store.max_archive_seq(), changed_at=account.get("changed_at"),
            changed_by=account.get("changed_by"), last_session=self.svc.store.get_doc(KIND, LAST_SESSION_KEY),
        )  # fmt: skip

    def enable(self, actor: Actor, password: str | None = None) -> Pop3Status:
        """Turn the service on, setting the password when given (required if none is set yet)."""
        details = {"password_changed": password is not None}
        with self.svc.audited(actor, Op.POP3_ENABLE, self.settings.account, details=details) as entry:
            self._may_administer(actor)
            account = self._account()
            new_hash = self._new_hash(password) if password is not None else account.get("password_hash")
            if not new_hash:
                raise InvalidInput("set a password for the POP3 account to enable it")
            entry.done(was_enabled=bool(account.get("enabled")))
            self._save(account | {"enabled": True, "password_hash": new_hash}, actor, password is not None)
        return self.status(actor)

    def set_password(self, actor: Actor, password: str) -> Pop3Status:
        with self.svc.audited(actor, Op.POP3_PASSWORD_CHANGE, self.settings.account) as entry:
            self._may_administer(actor)
            new_hash = self._new_hash(password)
            entry.done()
            self._save(self._account() | {"password_hash": new_hash}, actor, True)
        return self.status(actor)

    def disable(self, actor: Actor) -> Pop3Status:
        """Refuse logins from now on (open sessions end at their next login, the position stays)."""
        with self.svc.audited(actor, Op.POP3_DISABLE, self.settings.account) as entry:
            self._may_administer(actor)
            account = self._account()
            entry.done(was_enabled=bool(account.get("enabled")))
            self._save(account | {"enabled": False}, actor, False)
        return self.status(actor)

    # --- what pop3d asks ------------------------------------------------------------------------
    def is_enabled(self) -> bool:
        return bool(self._account().get("enabled"))

    def check_login(self, user: str, password: str) -> bool:
        """Right account, right password, service enabled. Costs one argon2 check either way."""
        account = self._account()
        good = verify_password(account.get("password_hash"), password)
        return good and user.lower() == self.settings.account.lower() and bool(account.get("enabled"))

    def login_failed(self, actor: Actor, reason: str, **details: Any) -> None:
        """One audit entry per refused login; the tried name is cut to a bounded, printable size."""
        tried = actor.name.encode("unicode_escape").decode("ascii")[:DETAIL_CHARS]
        self.svc.write_entry(
            Actor(tried, "", actor.source_ip), Op.POP3_LOGIN_FAILED, self.settings.account,
            {"reason": reason, **details}, Result.DENIED,
        )  # fmt: skip

    def login_audit_ready(self) -> None:
        """Raise ``Unavailable`` unless the audit log can be read: a session whose entry would be
        lost is not started (the entry itself is written when the session ends)."""
        try:
            self.svc.audit_log.head()
        except Exception as exc:
            raise Unavailable(f"the audit log cannot be read: {exc}") from exc

    def position(self) -> int:
        found = self.svc.store.get_doc_versioned(KIND, POSITION_KEY)
        return int(found[0]["seq"]) if found else 0

    def raw(self, actor: Actor, entry: Stored) -> bytes:
        """The archived bytes, checked against the SHA-256 recorded at archiving (``IntegrityFailure``
        if they do not match or are gone; audited by ``verified_raw``)."""
        return self.svc.archive.verified_raw(entry, actor=actor, purpose="pop3_retrieve")

    def raws(self, actor: Actor, entries: Sequence[Stored]) -> list[bytes | IntegrityFailure]:
        """``raw`` for a read-ahead batch in one store read: each message's bytes or its (audited)
        ``IntegrityFailure``."""
        return self.svc.archive.verified_raws(entries, actor=actor, purpose="pop3_retrieve")

    def acknowledge(self, window_after: int, upto: int) -> Acked:
        """Move the position to ``upto`` if it still stands within this window's start and ``upto``.

        A session acknowledges the sequence numbers after ``window_after`` up to ``upto``. If another
        session moved the position further meanwhile, it stays (never backwards); if it was moved
        below ``window_after`` (reset by an administrator), this window no longer continues it and
        nothing moves (never skipping). Compare-and-set, retried on conflict.
        """
        store = self.svc.store
        for _ in range(MAX_CAS_TRIES):
            found = store.get_doc_versioned(KIND, POSITION_KEY)
            doc, version = found if found else ({"seq": 0}, 0)
            current = int(doc["seq"])
            if upto <= current or current < window_after:
                return Acked(current, current)
            try:
                store.put_doc(KIND, POSITION_KEY, {"seq": upto, "updated_at": format_time(now_utc())},
                              if_version=version)  # fmt: skip
            except VersionConflict:
                continue
            return Acked(current, upto)
        raise VersionConflict(f"the POP3 position changed {MAX_CAS_TRIES} times while being saved")

    def session_ended(self, actor: Actor, details: dict[str, Any]) -> None:
        """The session's one audit entry; the last session is also kept for the integration page."""
        self.svc.write_entry(actor, Op.POP3_RETRIEVE, self.settings.account, details, Result.SUCCESS)
        try:
            self.svc.store.put_doc(KIND, LAST_SESSION_KEY, {**details, "peer": actor.source_ip})
        except StoreError as exc:  # only the page's "last session" line is stale
            log.warning("pop3 last session not saved: %s", exc)

    # --- helpers ----------------------------------------------------------------------------------
    def _may_administer(self, actor: Actor) -> None:
        if not actor.may(*ARCHIVE_READERS):
            raise Forbidden("only archive administrators manage the POP3 integration")

    def _account(self) -> dict[str, Any]:
        return self.svc.store.get_doc(KIND, ACCOUNT_KEY) or {}

    def _new_hash(self, password: str) -> str:
        try:
            check_password(password)
        except UserError as exc:
            raise InvalidInput(str(exc)) from None
        return hash_password(password)

    def _save(self, account: dict[str, Any], actor: Actor, password_changed: bool) -> None:
        now = format_time(now_utc())
        account = account | {"changed_at": now, "changed_by": actor.name}
        if password_changed:
            account["password_set_at"] = now
        self.svc.store.put_doc(KIND, ACCOUNT_KEY, account)
