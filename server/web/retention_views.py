"""Retention settings and legal holds: console pages and ``/api/v1/holds``, ``/api/v1/retention``.

Thin edges over server.services.retention and server.services.holds (archive administrators only;
every change audited there). A refused form is shown again with its one-line reason.
"""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from server.services.errors import ServiceError
from server.services.holds import CRITERIA_KEYS
from server.services.retention import shorten_phrase
from server.web.context import actor, services
from server.web.i18n import t
from server.web.roles import Role, require_role

bp = Blueprint("retention", __name__)


# --- pages ------------------------------------------------------------------------------------
@bp.get("/retention")
@require_role(Role.ARCHIVE_ADMIN)
def settings():  # noqa: ANN201
    svc = services()
    return render_template("retention/settings.html", years=svc.retention.period(), last_run=svc.retention.last_run(),
                           phrase=shorten_phrase)  # fmt: skip


@bp.post("/retention")
@require_role(Role.ARCHIVE_ADMIN)
def change_period():  # noqa: ANN201
    svc, who = services(), actor()
    years, restamp = request.form.get("years", ""), request.form.get("restamp") == "yes"
    confirm = request.form.get("confirm", "").strip() or None
    try:
        if restamp:  # first: a wrong confirmation refuses before the period changes
            report = svc.retention.restamp(who, years, confirm=confirm)
            flash(t("Re-stamped %(n)d of %(m)d messages.", n=report.changed, m=report.scanned), "success")
        svc.retention.set_period(who, years)
        flash(t("The retention period is now %(n)s years.", n=years), "success")
    except ServiceError as error:
        flash(error.message, "error")
    return redirect(url_for("retention.settings"))


@bp.get("/holds")
@require_role(Role.ARCHIVE_ADMIN)
def holds():  # noqa: ANN201
    return render_template("holds/list.html", holds=services().holds.list(actor()), form={})


@bp.post("/holds")
@require_role(Role.ARCHIVE_ADMIN)
def place():  # noqa: ANN201
    form = request.form
    criteria = {k: form.get(k, "").strip() for k in CRITERIA_KEYS if form.get(k, "").strip()}
    try:
        hold = services().holds.place(actor(), form.get("name", ""), form.get("reason", ""), criteria)
    except ServiceError as error:
        flash(error.message, "error")
        return render_template("holds/list.html", holds=services().holds.list(actor()), form=form), error.status
    flash(t("Legal hold %(id)s placed: %(n)d messages held.", id=hold.id, n=hold.marked), "success")
    return redirect(url_for("retention.holds"))


@bp.post("/holds/<hold_id>/release")
@require_role(Role.ARCHIVE_ADMIN)
def release(hold_id: str):  # noqa: ANN201
    if request.form.get("confirmed") != "yes":
        flash(t("Please confirm the release."), "error")
        return redirect(url_for("retention.holds"))
    try:
        hold = services().holds.release(actor(), hold_id)
        flash(t("Legal hold %(id)s released.", id=hold.id), "success")
    except ServiceError as error:
        flash(error.message, "error")
    return redirect(url_for("retention.holds"))


# --- API --------------------------------------------------------------------------------------
@bp.get("/api/v1/holds")
@require_role(Role.ARCHIVE_ADMIN)
def api_holds():  # noqa: ANN201
    return jsonify(holds=[h.to_dict() for h in services().holds.list(actor())])


@bp.post("/api/v1/holds")
@require_role(Role.ARCHIVE_ADMIN)
def api_place():  # noqa: ANN201
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="send a JSON object: name, reason, criteria"), 400
    criteria = body.get("criteria")
    if criteria is None:  # the criteria may also be given beside name and reason
        criteria = {k: v for k, v in body.items() if k not in ("name", "reason")}
    hold = services().holds.place(actor(), body.get("name"), body.get("reason"), criteria)
    return jsonify(id=hold.id, marked=hold.marked), 201


@bp.post("/api/v1/holds/<hold_id>/release")
@require_role(Role.ARCHIVE_ADMIN)
def api_release(hold_id: str):  # noqa: ANN201
    return jsonify(services().holds.release(actor(), hold_id).to_dict())


@bp.get("/api/v1/retention")
@require_role(Role.ARCHIVE_ADMIN)
def api_retention():  # noqa: ANN201
    svc = services()
    return jsonify(years=svc.retention.period(), last_purge=svc.retention.last_run())


@bp.post("/api/v1/retention")
@require_role(Role.ARCHIVE_ADMIN)
def api_change_period():  # noqa: ANN201
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error='send a JSON object: {"years": N, "restamp": false, "confirm": null}'), 400
    svc, who, answer = services(), actor(), {}
    if body.get("restamp") is True:
        answer["restamp"] = vars(svc.retention.restamp(who, body.get("years"), confirm=body.get("confirm")))
    answer["years"] = svc.retention.set_period(who, body.get("years"))
    return jsonify(answer)
