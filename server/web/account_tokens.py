"""My account > API tokens: a signed-in administrator makes, replaces and revokes its own bearer
tokens (docs/api.md). Nobody else ever sees them: the operator's ``user token`` refuses archive
administrators, and this page shows a new token once, in the answer to the form that made it
(``no-store``, like every console page), of which only the SHA-256 is kept.

Making or replacing a token asks the current password again; a wrong one counts as a failed
sign-in of the account (server.web.throttle), so an open session cannot be used to guess it.
"""

from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import TooManyRequests

from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, NotFound
from server.services.users import API_ROLES, IssuedToken
from server.users import TOKEN_LABEL_CHARS
from server.web.context import actor, client_ip, services, throttle
from server.web.i18n import t
from server.web.roles import require_role

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")


@bp.get("")
@require_role(*API_ROLES)
def page():  # noqa: ANN201
    return _render()


@bp.post("")
@require_role(*API_ROLES)
def create():  # noqa: ANN201
    return _issue(lambda password: services().accounts.create_own_token(actor(), password, request.form.get("label", "")))


@bp.post("/<token_id>/rotate")
@require_role(*API_ROLES)
def rotate(token_id: str):  # noqa: ANN201
    return _issue(lambda password: services().accounts.rotate_own_token(actor(), password, token_id))


@bp.post("/<token_id>/revoke")
@require_role(*API_ROLES)
def revoke(token_id: str):  # noqa: ANN201
    try:
        old = services().accounts.revoke_own_token(actor(), token_id)
    except NotFound:
        flash(t("You have no such API token: it was revoked or replaced already."), "error")
        return _render(), 404
    flash(t("The API token %(id)s has been revoked; requests with it are refused from now on.", id=old.id), "success")
    return redirect(url_for("tokens.page"))


def _issue(make) -> ResponseReturnValue:  # noqa: ANN001 - (current password) -> IssuedToken
    """Run ``make`` after the sign-in limits allow a password check; show the token once."""
    ip, name = client_ip(), actor().name
    wait = throttle().retry_after(ip, name)
    if wait:
        raise TooManyRequests(t("Too many wrong passwords. Try again in %(minutes)d minutes.",
                                minutes=math.ceil(wait / 60)), retry_after=wait)  # fmt: skip
    try:
        issued: IssuedToken = make(request.form.get("current", ""))
    except Forbidden:
        locked = throttle().failed(ip, name)
        if locked:  # audited once per lock, as at the sign-in form
            services().sessions.locked_out(Actor.anonymous(ip), name, locked)
        flash(t("The current password is wrong."), "error")
        return _render(), 400  # a form answer (as on the password page), not a refusal of the route
    except InvalidInput:
        flash(t("A token's label has at most %(n)d characters.", n=TOKEN_LABEL_CHARS), "error")
        return _render(), 400
    except NotFound:
        flash(t("You have no such API token: it was revoked or replaced already."), "error")
        return _render(), 404
    throttle().succeeded(ip, name)
    return _render(issued)


def _render(issued: IssuedToken | None = None) -> str:
    tokens = services().accounts.own_tokens(actor())
    return render_template("auth/tokens.html", tokens=tokens, issued=issued, label_chars=TOKEN_LABEL_CHARS)
