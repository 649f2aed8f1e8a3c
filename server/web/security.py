"""Session cookies, the secret key, CSRF and proxy handling of the console.

* Secret key: ``secret_key`` from the configuration, else generated once and kept in the data dir
  (mode 0600) so sessions survive a restart and every web process of one install agrees.
* Session cookie: HttpOnly, SameSite=Lax, Secure when the request came over TLS (directly or via a
  trusted proxy) or when ``web_secure_cookies = true``; 8 hours idle lifetime, refreshed on use.
* CSRF: every form POST carries the flask-wtf token; JSON requests made with the session cookie
  send it in ``X-CSRFToken``; requests authenticated by a bearer token are exempt (a browser never
  attaches that header by itself, so there is no cross-site forgery to stop).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from server.config import Config
from server.private_files import private_dir

SECRET_FILE = "web-secret-key"
SESSION_IDLE = timedelta(hours=8)

csrf = CSRFProtect()


def secret_key(config: Config) -> str:
    if config.security.secret_key:
        return config.security.secret_key
    path = Path(config.data_dir) / SECRET_FILE
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by an earlier start (or a concurrent one): use it
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def flask_settings(config: Config) -> dict[str, Any]:
    secure = config.web.secure_cookies
    return {
        "SECRET_KEY": secret_key(config),
        "SESSION_COOKIE_NAME": "mailarchive_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure == "true",
        "SESSION_COOKIE_SECURE_AUTO": secure == "auto",
        "PERMANENT_SESSION_LIFETIME": SESSION_IDLE,
        "SESSION_REFRESH_EACH_REQUEST": True,
        "WTF_CSRF_CHECK_DEFAULT": False,  # csrf_guard decides (bearer-token requests are exempt)
        "WTF_CSRF_TIME_LIMIT": None,  # valid as long as the session: a form left open still posts
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    }


class TlsAwareSessionInterface(SecureCookieSessionInterface):
    """Mark the cookie Secure whenever the request itself arrived over HTTPS ("auto" mode)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE_AUTO") and request.is_secure:
            return True
        return super().get_cookie_secure(app)


def csrf_guard() -> None:
    """``before_request``: check the CSRF token on unsafe methods unless a bearer token was used."""
    if g.get("auth_via_token"):
        return
    csrf.protect(apply_exemptions=True)


HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    # Console pages load only our own scripts, styles, images and frames; pages that serve mail
    # (message body, attachments) set their own stricter policy, which setdefault keeps.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
    ),
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
}


HSTS = "max-age=31536000; includeSubDomains"  # a year: browsers then never try plain HTTP first


def protective_headers(response: Response) -> Response:
    """Archived mail and one-time links must not linger in browser or proxy caches. Over TLS
    (directly or as a trusted proxy reports it) browsers are told to use nothing else (HSTS)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask, config: Config) -> None:
    app.session_interface = TlsAwareSessionInterface()
    proxies = config.web.trusted_proxies
    if proxies:  # X-Forwarded-For/-Proto from that many proxies in front are believed
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    csrf.init_app(app)
    app.after_request(protective_headers)
    if app.config.get("WTF_CSRF_ENABLED", True):
        app.before_request(csrf_guard)
