"""What a view needs besides the request: the app's ``Services`` bundle and who is asking.

``services()`` returns the bundle ``create_app`` opened once for the app (one store handle: the
SQLite store keeps a connection per thread, the Elasticsearch client is thread-safe). ``actor()``
is the signed-in user with the client's address, the first argument of every service call.
Views never write audit entries themselves: the services do.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from flask_login import current_user

from server.ops.counters import DeferredLatency
from server.services.actor import Actor
from server.services.context import Services
from server.web.throttle import LoginThrottle

EXTENSION = "mailarchive"
THROTTLE = "mailarchive.throttle"


def init_app(app: Flask, svc: Services) -> None:
    app.extensions[EXTENSION] = svc
    app.extensions[THROTTLE] = LoginThrottle()
    app.before_request(_defer_latency)
    app.after_request(_latency_after_response)
    app.teardown_request(_stop_deferring)


def _defer_latency() -> None:
    """The store latency histogram is written after the response has gone (server.ops.counters)."""
    g.latency = DeferredLatency()


def _latency_after_response(response: Response) -> Response:
    if "latency" in g:
        response.call_on_close(g.latency.write)
    return response


def _stop_deferring(exc: BaseException | None) -> None:
    if "latency" in g:
        g.latency.stop()
        if exc is not None:  # no response will be closed: write now
            g.latency.write()


def services() -> Services:
    return current_app.extensions[EXTENSION]


def services_of(app: Flask) -> Services:
    """The same outside a request (tests, the daemon that serves the app)."""
    return app.extensions[EXTENSION]


def throttle() -> LoginThrottle:
    return current_app.extensions[THROTTLE]


def client_ip() -> str:
    """The caller's address (behind a proxy, set ``web_trusted_proxies`` so ProxyFix supplies it)."""
    return request.remote_addr or ""


def actor() -> Actor:
    """The signed-in user as the services see it (anonymous before sign-in)."""
    if current_user.is_authenticated:
        return Actor(current_user.username, current_user.role, client_ip())
    return Actor.anonymous(client_ip())


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: redirects after sign-in or a language
    switch must not become open redirects to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):  # browsers drop tabs and newlines: "/\t/evil"
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target
