"""What a view needs besides the request: the app's services and an audit helper.

``services()`` returns the object ``create_app`` puts in ``app.extensions["mailarchive"]``: one
store handle per app (the SQLite store keeps a connection per thread, the Elasticsearch client is
thread-safe), the configuration, the audit log, the user service and the login throttle.
``audit(...)`` fills in who, with which role, from where, so views only say what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from flask_login import current_user

from server.audit.log import AuditLog
from server.audit.operations import Op, Result
from server.config import Config
from server.store import Store, open_store
from server.store.protocol import AuditRecord
from server.users import UserService
from server.web.throttle import LoginThrottle

EXTENSION = "mailarchive"


@dataclass
class WebServices:
    config: Config
    store: Store
    audit: AuditLog
    users: UserService
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    @classmethod
    def open(cls, config: Config) -> WebServices:
        store = open_store(config)
        return cls(config=config, store=store, audit=AuditLog.for_config(store, config), users=UserService(store))

    def close(self) -> None:
        self.store.close()


def services() -> WebServices:
    return current_app.extensions[EXTENSION]


def services_of(app: Flask) -> WebServices:
    """The same outside a request (tests, the service that serves the app)."""
    return app.extensions[EXTENSION]


def client_ip() -> str:
    """The caller's address (behind a proxy, set ``web_trusted_proxies`` so ProxyFix supplies it)."""
    return request.remote_addr or ""


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: redirects after sign-in or a language
    switch must not become open redirects to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def audit(
    operation: str | Op,
    target: str = "",
    details: dict | None = None,
    result: str = Result.SUCCESS,
    *,
    actor: str | None = None,
    role: str | None = None,
) -> AuditRecord:
    """Record one entry for the current request; raises ``AuditUnavailable`` (the app answers 503).

    ``actor``/``role`` default to the signed-in user; pass them for anonymous events such as a
    failed sign-in (actor = the user name that was tried).
    """
    signed_in = current_user.is_authenticated
    return services().audit.record(
        actor=actor if actor is not None else (current_user.username if signed_in else "anonymous"),
        role=role if role is not None else (current_user.role if signed_in else ""),
        operation=operation,
        target=target,
        details=details,
        result=result,
        source_ip=client_ip(),
    )
