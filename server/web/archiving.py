"""Archive Mail Management: the archiving switch (with a confirmation step) and the archive summary.

Archive administrators only. Switching is audited before it happens (server.services.archiving).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from server.web.context import actor, services
from server.web.i18n import t
from server.web.render import human_size
from server.web.roles import Role, require_role

bp = Blueprint("archiving", __name__, url_prefix="/archiving")
ACTIONS = {"enable": True, "disable": False}


@bp.get("/")
@require_role(Role.ARCHIVE_ADMIN)
def manage():  # noqa: ANN201
    return render_template("archiving/manage.html", state=services().archiving.state())


@bp.get("/confirm/<action>")
@require_role(Role.ARCHIVE_ADMIN)
def confirm(action: str):  # noqa: ANN201
    if action not in ACTIONS:
        abort(404)
    return render_template("archiving/confirm.html", action=action, state=services().archiving.state())


@bp.post("/switch")
@require_role(Role.ARCHIVE_ADMIN)
def switch():  # noqa: ANN201
    action = request.form.get("action", "")
    if action not in ACTIONS or request.form.get("confirmed") != "yes":
        flash(t("Please confirm the change on the confirmation page."), "error")
        return redirect(url_for("archiving.manage"))
    services().archiving.switch(actor(), ACTIONS[action])
    flash(t("Archiving is now enabled.") if ACTIONS[action] else t("Archiving is now disabled."), "success")
    return redirect(url_for("archiving.manage"))


@bp.get("/summary")
@require_role(Role.ARCHIVE_ADMIN)
def summary():  # noqa: ANN201
    return render_template("archiving/summary.html", summary=services().archiving.summary(), human_size=human_size)
