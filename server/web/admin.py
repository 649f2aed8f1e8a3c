"""Users and roles (email administrators): add console users, grant or revoke archive-admin.

Separation of duties: an email administrator appoints archive administrators but cannot read the
archive, and never holds an archive administrator's credentials: a new user, and every grant of
archive-admin, comes with a one-time set-password link to pass on (the role is pending until the
user has set a password there). The rules live in server.users and server.services.users, which
audit every change and every refused attempt. This module only reads the form and shows the outcome.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from server.services.errors import ServiceError, Unavailable
from server.services.users import RoleChange
from server.users import NO_ROLE, PasswordLink, Role
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
    link = created.link
    if request.form.get("archive_admin") == "yes":
        change = _change_role(created.username, Role.ARCHIVE_ADMIN)
        link = change.link if change else link
    return _show_link(created.username, link, added=True)


@bp.post("/users/<username>/role")
@require_role(Role.EMAIL_ADMIN)
def set_role(username: str):  # noqa: ANN201
    change = _change_role(username, request.form.get("role", ""))
    if change and change.link:
        return _show_link(change.user.username, change.link, added=False)
    if change:
        flash(t("The role of %(user)s has been changed.", user=username), "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/link")
@require_role(Role.EMAIL_ADMIN)
def new_link(username: str):  # noqa: ANN201
    try:
        link = services().accounts.new_link(actor(), username)
    except Unavailable:
        raise
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.users"))
    return _show_link(link.username, link, added=False)


def _change_role(username: str, role: str) -> RoleChange | None:
    """A refused change (audited as such by the service) is flashed; the audit log being down is a 503."""
    try:
        return services().accounts.set_role(actor(), username, role)
    except Unavailable:
        raise
    except ServiceError as exc:
        flash(exc.message, "error")
        return None


def _show_link(username: str, link: PasswordLink | None, *, added: bool):  # noqa: ANN202
    """The one-time link to pass on, shown once (the page is no-store, like every console page)."""
    user = services().users.require(username)
    url = url_for("auth.set_password", token=link.token, _external=True) if link else ""
    return render_template("admin/created.html", user=user, link=link, link_url=url, added=added)
