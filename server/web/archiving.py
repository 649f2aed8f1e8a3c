"""Archive Mail Management: the archiving switch (with a confirmation step) and the archive summary.

Archive administrators only. Switching is audited before it happens (server.archive_admin).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from server.archive_admin import archive_summary, switch_archiving
from server.archiving import switch_state
from server.web.context import client_ip, services
from server.web.i18n import t
from server.web.roles import Role, require_role

bp = Blueprint("archiving", __name__, url_prefix="/archiving")
ACTIONS = {"enable": True, "disable": False}


@bp.get("/")
@require_role(Role.ARCHIVE_ADMIN)
def manage():  # noqa: ANN201
    return render_template("archiving/manage.html", state=switch_state(services().store))


@bp.get("/confirm/<action>")
@require_role(Role.ARCHIVE_ADMIN)
def confirm(action: str):  # noqa: ANN201
    if action not in ACTIONS:
        abort(404)
    return render_template("archiving/confirm.html", action=action, state=switch_state(services().store))


@bp.post("/switch")
@require_role(Role.ARCHIVE_ADMIN)
def switch():  # noqa: ANN201
    action = request.form.get("action", "")
    if action not in ACTIONS or request.form.get("confirmed") != "yes":
        flash(t("Please confirm the change on the confirmation page."), "error")
        return redirect(url_for("archiving.manage"))
    svc = services()
    switch_archiving(
        svc.store, svc.audit, ACTIONS[action], actor=current_user.username, role=current_user.role, source_ip=client_ip()
    )
    flash(t("Archiving is now enabled.") if ACTIONS[action] else t("Archiving is now disabled."), "success")
    return redirect(url_for("archiving.manage"))


@bp.get("/summary")
@require_role(Role.ARCHIVE_ADMIN)
def summary():  # noqa: ANN201
    svc = services()
    return render_template("archiving/summary.html", summary=archive_summary(svc.store, svc.config))
