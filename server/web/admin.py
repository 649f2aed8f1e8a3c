"""Users and roles (email administrators): add console users, grant or revoke archive-admin.

Separation of duties: an email administrator appoints archive administrators but cannot read the
archive; the rules live in server.users, every change and every refused attempt is audited.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from server.audit.operations import Op, Result
from server.users import NO_ROLE, Role, UserError
from server.web.context import audit, services
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
    users = services().users
    try:
        name = users.check_new(request.form.get("username", ""))
    except UserError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    audit(Op.USER_CHANGE, target=name, details={"change": "create"})
    created = users.add(name, NO_ROLE)
    if request.form.get("archive_admin") == "yes":
        _change_role(name, Role.ARCHIVE_ADMIN)
    return render_template("admin/created.html", created=created, user=users.require(name))


@bp.post("/users/<username>/role")
@require_role(Role.EMAIL_ADMIN)
def set_role(username: str):  # noqa: ANN201
    if _change_role(username, request.form.get("role", "")):
        flash(t("The role of %(user)s has been changed.", user=username), "success")
    return redirect(url_for("admin.users"))


def _change_role(username: str, role: str) -> bool:
    """Audit, then apply; a refused change is audited as denied and flashed."""
    users = services().users
    try:
        user, new_role = users.check_role_change(username, role, by_role=current_user.role)
    except UserError as exc:
        audit(Op.ROLE_CHANGE, target=username, details={"role": role, "error": str(exc)}, result=Result.DENIED)
        flash(str(exc), "error")
        return False
    audit(Op.ROLE_CHANGE, target=user.username, details={"from": user.role, "to": new_role})
    users.set_role(user.username, new_role, by_role=current_user.role)
    return True
