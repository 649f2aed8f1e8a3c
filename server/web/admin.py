"""Users and roles (email administrators): add console users, grant or revoke archive-admin.

Separation of duties: an email administrator appoints archive administrators but cannot read the
archive; the rules live in server.users and server.services.users, which audit every change and
every refused attempt. This module only reads the form and shows the outcome.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from server.services.errors import ServiceError, Unavailable
from server.users import NO_ROLE, Role
from server.web.context import actor, services
from server.web.i18n import t
from server.web.roles import require_role

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@require_role(Role.EMAIL_ADMIN)
def users():  # noqa: ANN201
    return render_template("admin/users.html", users=services().users.list())


@bp.post("/users")
@require_role(Role.EMAIL_ADMIN)
def add_user():  # noqa: ANN201
    accounts = services().accounts
    try:
        created = accounts.add(actor(), request.form.get("username", ""), NO_ROLE)
    except Unavailable:
        raise
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.users"))
    if request.form.get("archive_admin") == "yes":
        _change_role(created.username, Role.ARCHIVE_ADMIN)
    return render_template("admin/created.html", created=created, user=services().users.require(created.username))


@bp.post("/users/<username>/role")
@require_role(Role.EMAIL_ADMIN)
def set_role(username: str):  # noqa: ANN201
    if _change_role(username, request.form.get("role", "")):
        flash(t("The role of %(user)s has been changed.", user=username), "success")
    return redirect(url_for("admin.users"))


def _change_role(username: str, role: str) -> bool:
    """A refused change (audited as such by the service) is flashed; the audit log being down is a 503."""
    try:
        services().accounts.set_role(actor(), username, role)
    except Unavailable:
        raise
    except ServiceError as exc:
        flash(exc.message, "error")
        return False
    return True
