"""What a POP3 session asks of the archive, run off the event loop: login, read, acknowledge, audit.

The store and argon2 are blocking, so every call goes to a small thread pool; the event loop only
moves bytes. Failed logins pass through the throttle (a growing pause, then a lockout) and are
audited one entry each; a successful one opens the window; the end of a logged-in session
acknowledges the deleted prefix (on QUIT) and writes the session's single audit entry.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

from pop3d.maildrop import Entry, Maildrop
from pop3d.server import Channel, LoginResult, MessageUnavailable, SessionReport
from pop3d.throttle import LoginThrottle
from pop3d.wire import message_response, top_response
from server.model import format_time, now_utc
from server.services.actor import Actor
from server.services.context import Services
from server.services.errors import IntegrityFailure, ServiceError
from server.services.pop3 import ROLE
from server.store.protocol import StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_LISTED_IDS = 20  # ids of unsendable messages named in the session's audit entry

AUTH_FAILED = "-ERR [AUTH] invalid user name or password"
DISABLED = "-ERR [SYS/PERM] the POP3 service is disabled by the archive administrator"
UNAVAILABLE = "-ERR [SYS/TEMP] the archive is unavailable, try again later"


class ArchiveBackend:
    def __init__(self, svc: Services, throttle: LoginThrottle, executor: Executor) -> None:
        self.svc = svc
        self.pop3 = svc.pop3
        self.throttle = throttle
        self.executor = executor
        self.account = svc.config.pop3.account
        self.window = svc.config.pop3.window

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(func, *args, **kwargs))

    # --- login ----------------------------------------------------------------------------------
    async def login(self, user: str, password: str, channel: Channel) -> LoginResult:
        peer = channel.peer
        locked = self.throttle.locked_for(peer, self.account)
        if locked:
            return LoginResult(None, f"-ERR [SYS/TEMP] too many failed logins, try again in {locked} seconds", close=True)
        try:
            enabled = await self.run(self.pop3.is_enabled)
            good = enabled and await self.run(self.pop3.check_login, user, password)
        except (ServiceError, StoreError) as exc:
            log.error("pop3 login from %s: %s", peer, exc)
            return LoginResult(None, UNAVAILABLE, close=True)
        if not good:
            return await self._refuse(user, peer, "service disabled" if not enabled else "invalid credentials", enabled)
        self.throttle.succeeded(peer)
        try:
            await self.run(self.pop3.login_audit_ready)
            maildrop = await self.run(self._open_maildrop)
        except (ServiceError, StoreError) as exc:
            log.error("pop3 maildrop for %s not opened: %s", peer, exc)
            return LoginResult(None, UNAVAILABLE, close=True)
        count, octets = maildrop.stat()
        return LoginResult(maildrop, f"+OK maildrop has {count} messages ({octets} octets)")

    async def _refuse(self, user: str, peer: str, reason: str, enabled: bool) -> LoginResult:
        verdict = self.throttle.failed(peer, self.account)
        details = {"failures_from_address": verdict.failures}
        if verdict.locked_for:
            details["locked_out_seconds"] = int(verdict.locked_for)
        try:
            await self.run(self.pop3.login_failed, Actor(user, "", peer), reason, **details)
        except ServiceError as exc:
            log.error("pop3 failed login from %s not audited: %s", peer, exc)
        await asyncio.sleep(verdict.delay)
        return LoginResult(None, AUTH_FAILED if enabled else DISABLED, close=not enabled or bool(verdict.locked_for))

    def _open_maildrop(self) -> Maildrop:
        return Maildrop.open(self.svc.store, after_seq=self.pop3.position(), limit=self.window)

    # --- reading --------------------------------------------------------------------------------
    async def message(self, entry: Entry, peer: str, *, top: int | None = None) -> bytes:
        return await self.run(self._encoded, entry, top, peer)

    async def messages(self, entries: Sequence[Entry], peer: str) -> list[bytes | Exception]:
        return await self.run(self._encoded_batch, entries, peer)

    def _encoded_batch(self, entries: Sequence[Entry], peer: str) -> list[bytes | Exception]:
        """The read-ahead batch: one store read for all of it (``verified_raws``), each message
        checked and encoded; a refused one becomes its ``MessageUnavailable``, the rest still go."""
        try:
            raws = self.pop3.raws(Actor(self.account, ROLE, peer), entries)
        except (ServiceError, StoreError) as exc:
            log.error("pop3 read of %d messages failed: %s", len(entries), exc)
            return [MessageUnavailable(UNAVAILABLE) for _ in entries]
        return [_integrity_refusal(entry) if isinstance(raw, IntegrityFailure) else message_response(raw)
                for entry, raw in zip(entries, raws, strict=True)]  # fmt: skip

    def _encoded(self, entry: Entry, top: int | None, peer: str) -> bytes:
        """Read, check and encode one message (in a worker thread); ``MessageUnavailable`` if impossible."""
        try:
            raw = self.pop3.raw(Actor(self.account, ROLE, peer), entry)
        except IntegrityFailure:  # audited (and counted) by the check itself
            raise _integrity_refusal(entry) from None
        except (ServiceError, StoreError) as exc:
            log.error("pop3 read of %s failed: %s", entry.id, exc)
            raise MessageUnavailable(UNAVAILABLE) from None
        return message_response(raw) if top is None else top_response(raw, top)

    # --- the end --------------------------------------------------------------------------------
    async def finish(self, report: SessionReport, maildrop: Maildrop | None, *, update: bool) -> str:
        if not report.logged_in or maildrop is None:
            return "+OK mailarchive POP3 server signing off"
        ack = maildrop.acknowledged()
        details = _session_details(report, maildrop, ack if update else None)
        actor = Actor(self.account, ROLE, report.peer)
        try:
            await self.run(self.pop3.session_ended, actor, details)
        except (ServiceError, StoreError) as exc:
            log.error("pop3 session of %s not audited, nothing acknowledged: %s", report.peer, exc)
            return "-ERR [SYS/TEMP] some deleted messages not removed: the audit log cannot be written"
        if not update or not ack.count:
            return "+OK mailarchive POP3 server signing off (0 messages acknowledged)"
        try:
            await self.run(self.pop3.acknowledge, ack.after, ack.upto)
        except (ServiceError, StoreError) as exc:
            log.error("pop3 acknowledgement up to %d not saved: %s", ack.upto, exc)
            return "-ERR [SYS/TEMP] some deleted messages not removed: the position was not saved"
        return f"+OK mailarchive POP3 server signing off ({ack.count} messages acknowledged)"


def _integrity_refusal(entry: Entry) -> MessageUnavailable:
    return MessageUnavailable(f"-ERR [SYS/PERM] message {entry.id} failed its integrity check and is not sent")


def _session_details(report: SessionReport, maildrop: Maildrop, ack: Any) -> dict[str, Any]:
    entries = maildrop.entries
    details: dict[str, Any] = {
        "login_at": report.login_at,
        "ended_at": format_time(now_utc()),
        "ended_by": report.ended_by,
        "tls": report.secure,
        "window": {"after_seq": maildrop.after_seq, "messages": len(entries),
                   "first_seq": entries[0].archive_seq if entries else None,
                   "last_seq": entries[-1].archive_seq if entries else None},
        "retrieved": report.retrieved,
        "retrieved_bytes": report.retrieved_bytes,
        "top": report.tops,
        "marked_deleted": maildrop.marked,
        "acknowledged": {"after_seq": ack.after, "upto_seq": ack.upto, "messages": ack.count} if ack else None,
    }  # fmt: skip
    if report.unavailable:
        details["not_sent"] = report.unavailable[:MAX_LISTED_IDS]
    return details
