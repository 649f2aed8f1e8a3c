"""The ``Services`` bundle: configuration, store, audit log and users, opened once per process.

Every edge (the web app, a CLI command, an RQ job, pop3d) builds one with ``Services.open(config)``
and calls the use cases on it: ``svc.archive.search(actor, ...)``, ``svc.accounts.add(actor, ...)``.
Each use case lives in its own module and is reached through one ``_use_case`` line below (built on
first use, one per bundle); a new module (exports, pop3, retention, holds, ops) adds one such line.

``audited`` is the one way a use case writes its audit entry, so "validate, audit exactly once,
then act" is written once: the block validates, calls ``entry.done(...)`` right before acting,
and any refusal raised in the block is recorded as refused (``denied``/``failure``) instead.
Nothing outside ``server/services`` and ``server/audit`` writes audit entries (a test checks).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from server.audit.log import AuditLog, AuditUnavailable
from server.audit.operations import Op, Result
from server.config import Config
from server.logs import logger
from server.query.criteria import CriteriaError
from server.services.actor import Actor
from server.services.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError, Unavailable
from server.store import open_store
from server.store.protocol import AuditRecord, StoreError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any

    from server.services.archive_access import ArchiveAccess
    from server.services.archiving import Archiving
    from server.services.audit_trail import AuditTrail
    from server.services.exports import Exports
    from server.services.holds import Holds
    from server.services.ingest import Ingest
    from server.services.ops import Ops
    from server.services.pop3 import Pop3
    from server.services.retention import Retention
    from server.services.sessions import Sessions
    from server.services.users import Accounts
    from server.services.verify import ArchiveVerify
    from server.store import Store
    from server.users import UserService

log = logger(__name__)

# Refusals of the layers below, as the edges should see them (most specific first).
_DOMAIN_ERRORS: tuple[tuple[type[Exception], type[ServiceError]], ...] = ((CriteriaError, InvalidInput),)
# ... and of modules only some commands load (the user records', the importer's: reading them costs
# a search's start-up ~25 ms); an exception of a module never imported cannot have been raised, so
# they are looked up only among the modules already loaded.
_LOADED_DOMAIN_ERRORS: tuple[tuple[str, str, type[ServiceError]], ...] = (
    ("server.users", "UnknownUser", NotFound),
    ("server.users", "UserExists", Conflict),
    ("server.users", "NotAllowed", Forbidden),
    ("server.users", "UserError", InvalidInput),
    ("server.indexing.directoryfile", "DirectoryFileError", InvalidInput),
    ("server.indexing.mailreaders", "ImportPathError", InvalidInput),
)


def _service_error_for(exc: Exception) -> type[ServiceError] | None:
    """The ServiceError class a refusal of the layers below maps to, or None (a bug: re-raised)."""
    for domain, service in _DOMAIN_ERRORS:
        if isinstance(exc, domain):
            return service
    for module_name, class_name, service in _LOADED_DOMAIN_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return service
    return None


def _use_case(target: str) -> Any:
    """A lazily built use case (``"module:Class"``, constructed with the bundle): a command that
    only searches never imports the importer or the demo generator."""
    module, name = target.split(":")

    def build(svc: Services) -> Any:
        return getattr(importlib.import_module(module), name)(svc)

    return cached_property(build)


class Services:
    """Not a dataclass: the use cases below are class-level descriptors, not fields."""

    def __init__(self, config: Config, store: Store, audit_log: AuditLog, users: UserService | None = None) -> None:
        self.config = config
        self.store = store
        self.audit_log = audit_log
        self._users = users

    @property
    def users(self) -> UserService:
        """The account records themselves; changes go through ``accounts`` (audited). Built on first
        use: a search never reads them, and ``server.users`` (roles, tokens, links) is ~10 ms to load."""
        if self._users is None:
            from server.users import UserService

            self._users = UserService(self.store)
        return self._users

    @classmethod
    def open(cls, config: Config) -> Services:
        store = open_store(config)
        return cls(config=config, store=store, audit_log=AuditLog.for_config(store, config))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the use cases: one module each, imported on first use, one instance per bundle ---------
    archive: ArchiveAccess = _use_case("server.services.archive_access:ArchiveAccess")
    archiving: Archiving = _use_case("server.services.archiving:Archiving")
    accounts: Accounts = _use_case("server.services.users:Accounts")
    sessions: Sessions = _use_case("server.services.sessions:Sessions")
    audit_trail: AuditTrail = _use_case("server.services.audit_trail:AuditTrail")
    ingest: Ingest = _use_case("server.services.ingest:Ingest")
    exports: Exports = _use_case("server.services.exports:Exports")
    pop3: Pop3 = _use_case("server.services.pop3:Pop3")
    holds: Holds = _use_case("server.services.holds:Holds")
    retention: Retention = _use_case("server.services.retention:Retention")
    ops: Ops = _use_case("server.services.ops:Ops")
    verify: ArchiveVerify = _use_case("server.services.verify:ArchiveVerify")

    # --- auditing -----------------------------------------------------------------------------
    @contextmanager
    def audited(self, actor: Actor, operation: str | Op, target: str = "", *, details: dict[str, Any] | None = None,
                asked: dict[str, Any] | None = None) -> Iterator[Entry]:  # fmt: skip
        """One audit entry for one call: ``entry.done()`` before acting, or the refusal raised here.

        ``details`` go into either entry; ``asked`` (the raw request) only into a refusal's, since
        a success records what was understood instead (the parsed criteria, say).

        Refusals from the layers below (``CriteriaError``, ``UserError``, ``StoreError``) come out as
        ``ServiceError`` subclasses, so the edges only ever map one family of exceptions.
        """
        entry = Entry(self, actor, str(operation), target, dict(details or {}), dict(asked or {}))
        try:
            yield entry
        except ServiceError as exc:
            entry.refused(exc)
            raise
        except StoreError as exc:
            error = Unavailable(f"the archive store failed: {exc}")
            entry.refused(error)
            raise error from exc
        except Exception as exc:
            mapped = _service_error_for(exc)
            if mapped is None:
                raise
            error = mapped(str(exc))
            entry.refused(error)
            raise error from exc
        if not entry.written:
            raise RuntimeError(f"{operation}: the use case ended without its audit entry")

    def write_entry(self, actor: Actor, operation: str | Op, target: str, details: dict[str, Any], result: str
                    ) -> AuditRecord:  # fmt: skip
        """Append one entry; ``Unavailable`` when the log cannot be written (fail closed)."""
        try:
            return self.audit_log.record(
                actor=actor.name, role=actor.role, source_ip=actor.source_ip, operation=operation,
                target=target, details=details, result=result,
            )  # fmt: skip
        except AuditUnavailable as exc:
            raise Unavailable(f"refused, the audit log cannot be written, so nothing was done: {exc}") from exc


class Entry:
    """The pending audit entry of one call (see ``Services.audited``). A plain class, not a
    dataclass: building one costs a command's start-up ~2 ms (issue #18 item 4)."""

    __slots__ = ("actor", "asked", "details", "operation", "svc", "target", "written")

    def __init__(self, svc: Services, actor: Actor, operation: str, target: str, details: dict[str, Any] | None = None,
                 asked: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.svc, self.actor, self.operation, self.target = svc, actor, operation, target
        self.details = {} if details is None else details
        self.asked = {} if asked is None else asked
        self.written: AuditRecord | None = None

    def done(self, target: str | None = None, **details: Any) -> AuditRecord:
        """Record success (call right before acting; the act must not happen if this raises)."""
        if self.written is not None:
            raise RuntimeError(f"{self.operation}: audited twice")
        self.target = target if target is not None else self.target
        self.written = self.svc.write_entry(self.actor, self.operation, self.target, {**self.details, **details},
                                            Result.SUCCESS)  # fmt: skip
        return self.written

    def refused(self, error: ServiceError) -> None:
        """Record the refusal once (``denied`` or ``failure``, with its reason) unless already recorded.

        If even that entry cannot be written the refusal still stands (nothing happened); the
        missing entry is logged for the operator.
        """
        if self.written is not None or error.audited:
            return
        error.audited = True
        try:
            self.written = self.svc.write_entry(
                self.actor, self.operation, self.target, {**self.asked, **self.details, "error": error.message},
                error.audit_result,
            )
        except Unavailable as exc:
            log.error("refused %s %s (%s); its audit entry was not written: %s",
                      self.operation, self.target, error.message, exc.message)  # fmt: skip
