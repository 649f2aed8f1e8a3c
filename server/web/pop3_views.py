"""Third-party Archive Integration: the POP3 account's status, password and on/off switch.

Archive administrators only. Each view reads the form, calls ``services().pop3`` (which checks the
role again and audits the change before making it) and redirects with a message; a refused input
(weak password, passwords that differ) comes back on the page instead of an error page.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from server.services.errors import InvalidInput
from server.web.context import actor, services
from server.web.i18n import t
from server.web.roles import Role, require_role

bp = Blueprint("pop3", __name__, url_prefix="/integration")


@bp.get("/")
@require_role(Role.ARCHIVE_ADMIN)
def page() -> ResponseReturnValue:
    return render_template("pop3/integration.html", status=services().pop3.status(actor()))


@bp.post("/enable")
@require_role(Role.ARCHIVE_ADMIN)
def enable() -> ResponseReturnValue:
    password = _new_password()
    if password is not False:
        _apply(lambda: services().pop3.enable(actor(), password or None), t("POP3 access is now enabled."))
    return redirect(url_for("pop3.page"))


@bp.post("/password")
@require_role(Role.ARCHIVE_ADMIN)
def password() -> ResponseReturnValue:
    new = _new_password()
    if new:
        _apply(lambda: services().pop3.set_password(actor(), new), t("The POP3 password was changed."))
    elif new is None:
        flash(t("Enter the new password twice."), "error")
    return redirect(url_for("pop3.page"))


@bp.get("/disable")
@require_role(Role.ARCHIVE_ADMIN)
def confirm_disable() -> ResponseReturnValue:
    return render_template("pop3/confirm_disable.html", status=services().pop3.status(actor()))


@bp.post("/disable")
@require_role(Role.ARCHIVE_ADMIN)
def disable() -> ResponseReturnValue:
    if request.form.get("confirmed") != "yes":
        flash(t("Please confirm the change on the confirmation page."), "error")
    else:
        _apply(lambda: services().pop3.disable(actor()), t("POP3 access is now disabled."))
    return redirect(url_for("pop3.page"))


def _new_password() -> str | None | bool:
    """The new password (None: none given), or False after flashing why the two entries differ."""
    new, again = request.form.get("password", ""), request.form.get("confirm", "")
    if not new and not again:
        return None
    if new != again:
        flash(t("The two passwords differ."), "error")
        return False
    return new


def _apply(change, success: str) -> None:  # noqa: ANN001 - a zero-argument call of the POP3 service
    try:
        change()
    except InvalidInput as exc:
        flash(t(exc.message), "error")
        return
    flash(success, "success")
