"""Sign in, sign out, the landing page, one's own password, and the one-time set-password link.

Failed sign-ins are rate limited per address and user name (server.web.throttle) and audited;
a refused attempt answers 429 with Retry-After. The audit entry of a successful sign-in is written
before the session is created, so nobody is signed in without a trace.
"""

from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.exceptions import TooManyRequests

from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, NotFound
from server.services.sessions import SignInFailed
from server.users import MIN_PASSWORD, User
from server.web.context import actor, client_ip, local_path, services, throttle
from server.web.i18n import t
from server.web.login import WebUser
from server.web.nav import first_page
from server.web.roles import public, require_login

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=("GET", "POST"))
@public
def login():  # noqa: ANN201
    if request.method == "POST":
        username = request.form.get("username", "").strip().lower()
        user = _authenticate(username, request.form.get("password", ""))
        if user is not None:
            _start_session(user)
            return redirect(local_path(request.form.get("next")) or url_for("auth.home"))
        flash(t("Wrong user name or password."), "error")
    elif current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    return render_template("auth/login.html", next=local_path(request.args.get("next")) or "")


def _authenticate(username: str, password: str) -> User | None:
    """The user (sign-in audited by the service), or None after a failed, audited attempt."""
    ip = client_ip()
    wait = throttle().retry_after(ip, username)
    if wait:
        minutes = math.ceil(wait / 60)
        if throttle().account_locked(username):
            message = t("This account is locked after too many failed sign-ins. Try again in %(minutes)d minutes.",
                        minutes=minutes)  # fmt: skip
        else:
            message = t("Too many failed sign-ins. Try again in %(minutes)d minutes.", minutes=minutes)
        raise TooManyRequests(message, retry_after=wait)
    try:
        user = services().sessions.sign_in(Actor.anonymous(ip), username, password)
    except SignInFailed:
        locked = throttle().failed(ip, username)
        if locked:
            services().sessions.locked_out(Actor.anonymous(ip), username, locked)
        return None
    throttle().succeeded(ip, username)
    return user


def _start_session(user: User) -> None:
    session.clear()  # a fresh session: nothing from before sign-in carries over
    login_user(WebUser(user))
    session.permanent = True  # idle lifetime PERMANENT_SESSION_LIFETIME, refreshed on each request


@bp.post("/logout")
@require_login
def logout():  # noqa: ANN201
    services().sessions.sign_out(actor())
    logout_user()
    session.clear()
    flash(t("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.get("/")
@require_login
def home():  # noqa: ANN201
    landing = first_page(current_user.role)
    if landing:
        return redirect(url_for(landing))
    return render_template("auth/home.html")


@bp.route("/account", methods=("GET", "POST"))
@require_login
def account():  # noqa: ANN201
    if request.method == "POST":
        error = _change_password(request.form)
        if error is None:
            flash(t("Your password has been changed."), "success")
            return redirect(url_for("auth.account"))
        flash(error, "error")
    return render_template("auth/account.html")


def _change_password(form) -> str | None:  # noqa: ANN001 - the request's form
    """None when changed, else the (translated) reason; the service audits either outcome."""
    if form.get("new", "") != form.get("confirm", ""):
        return t("The new passwords do not match.")  # a typing slip in the form, not an attempt
    try:
        user = services().accounts.change_own_password(actor(), form.get("current", ""), form.get("new", ""))
    except Forbidden:
        return t("The current password is wrong.")
    except InvalidInput:
        return t("The new password must have at least %(n)d characters.", n=MIN_PASSWORD)
    login_user(WebUser(user))  # keep this session, end the others
    return None


@bp.route("/set-password/<token>", methods=("GET", "POST"))
@public
def set_password(token: str):  # noqa: ANN201
    """Choose one's password through the link an administrator passed on; the pending role (if any)
    takes effect here. An invalid link is a 404 page that says what to do; nothing is logged for it."""
    try:
        owner = services().accounts.link_owner(token)
    except NotFound:
        return render_template("auth/set_password.html", invalid=True), 404
    error = None
    if request.method == "POST":
        new = request.form.get("new", "")
        if new != request.form.get("confirm", ""):
            error = t("The new passwords do not match.")
        else:
            try:
                user = services().accounts.use_link(Actor.anonymous(client_ip()), token, new)
            except InvalidInput:
                error = t("The new password must have at least %(n)d characters.", n=MIN_PASSWORD)
            except NotFound:
                return render_template("auth/set_password.html", invalid=True), 404
            else:
                logout_user()
                session.clear()
                flash(t("Your password has been set. Sign in as %(user)s with it now.", user=user.username), "success")
                return redirect(url_for("auth.login"))
    return render_template("auth/set_password.html", invalid=False, owner=owner, error=error), 400 if error else 200
