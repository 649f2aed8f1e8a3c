"""Export All and the Task Center: ``/api/v1/exports`` for scripts, the form and panel of the query
page, and the Task Center page. Thin edges over ``server.services.exports`` (which checks the
limits, audits and runs the job); this module only maps requests and answers.

API (DESIGN.md §6): ``POST /api/v1/exports`` (JSON criteria, as ``mailarchive search`` names them)
→ 202 ``{"id", "status", ...}``; ``GET /api/v1/exports[?status=]`` → ``{"tasks": [...]}``;
``GET /api/v1/exports/ID`` → the task; ``POST /api/v1/exports/ID/cancel``;
``GET /api/v1/exports/ID/download`` → the zip (``ETag`` and ``Repr-Digest`` carry its SHA-256).
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue

from server.export.names import content_disposition
from server.export.taskcenter import ExportTask, Status
from server.query.criteria import Criteria
from server.services.errors import InvalidInput, ServiceError
from server.services.exports import Exports, Preview
from server.store.protocol import SearchPage
from server.web.context import actor, local_path, services
from server.web.i18n import _
from server.web.mail_access import criteria_params
from server.web.render import human_size
from server.web.roles import Role, require_role

bp = Blueprint("exports", __name__)
STATUSES = tuple(Status)


def exports() -> Exports:
    return services().exports


def task_json(task: ExportTask) -> dict[str, Any]:
    """What scripts and the Task Center see of a task (not the worker's internals)."""
    doc = {key: getattr(task, key) for key in (
        "id", "status", "total", "done", "percent", "bytes_in", "estimated_bytes", "criteria", "created_at",
        "updated_at", "started_at", "finished_at", "size", "sha256", "error", "attempt", "notes", "cancelled_by",
        "expired_at")}  # fmt: skip
    doc["submitted_by"] = task.actor.get("name")
    doc["download_url"] = url_for("exports.download", task_id=task.id) if task.status == Status.FINISHED else None
    return doc


# --- JSON API -------------------------------------------------------------------------------------
@bp.post("/api/v1/exports")
@require_role(Role.ARCHIVE_ADMIN)
def submit() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput('send the criteria as a JSON object, e.g. {"from": "2025-01-01", "to": "2025-01-31", '
                           '"mailbox": "user@example.com"}')
    task = exports().submit(actor(), criteria_params(body))
    response = jsonify(task_json(task))
    response.headers["Location"] = url_for("exports.task", task_id=task.id)
    return response, 202


@bp.get("/api/v1/exports")
@require_role(Role.ARCHIVE_ADMIN)
def tasks() -> ResponseReturnValue:
    return jsonify(tasks=[task_json(t) for t in exports().list(actor(), request.args.get("status") or None)])


@bp.get("/api/v1/exports/<task_id>")
@require_role(Role.ARCHIVE_ADMIN)
def task(task_id: str) -> ResponseReturnValue:
    return jsonify(task_json(exports().get(actor(), task_id)))


@bp.post("/api/v1/exports/<task_id>/cancel")
@require_role(Role.ARCHIVE_ADMIN)
def cancel(task_id: str) -> ResponseReturnValue:
    return jsonify(task_json(exports().cancel(actor(), task_id)))


@bp.get("/api/v1/exports/<task_id>/download")
@require_role(Role.ARCHIVE_ADMIN)
def download(task_id: str) -> ResponseReturnValue:
    """The zip, with range requests (a large download can resume); audited once per request."""
    found = exports().download(actor(), task_id)
    response = send_file(found.path, mimetype="application/zip", conditional=True, etag=found.sha256 or True,
                         max_age=0)  # fmt: skip
    response.headers["Content-Disposition"] = content_disposition(found.filename)
    if found.sha256:
        response.headers["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(found.sha256)).decode()}:"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- console ----------------------------------------------------------------------------------------
@bp.get("/tasks")
@require_role(Role.ARCHIVE_ADMIN)
def page() -> ResponseReturnValue:
    return render_template("tasks/page.html", **panel_context(request.args.get("status")))


@bp.get("/tasks/panel")
@require_role(Role.ARCHIVE_ADMIN)
def panel() -> ResponseReturnValue:
    """The panel alone: the query page's script swaps it in to show progress and filters."""
    return render_template("tasks/_panel.html", **panel_context(request.args.get("status")))


@bp.post("/tasks/export-all")
@require_role(Role.ARCHIVE_ADMIN)
def submit_form() -> ResponseReturnValue:
    back = _back()
    try:
        task = exports().submit(actor(), criteria_params(request.form))
    except ServiceError as exc:
        flash(_("Export All was not started: %(reason)s", reason=exc.message), "error")
        return redirect(back)
    flash(_("Export All started: %(total)s messages (task %(id)s). Follow it in the Task Center.",
            total=f"{task.total:,}", id=task.id), "success")  # fmt: skip
    return redirect(back + "#task-center")


@bp.post("/tasks/<task_id>/cancel")
@require_role(Role.ARCHIVE_ADMIN)
def cancel_form(task_id: str) -> ResponseReturnValue:
    back = _back()
    try:
        exports().cancel(actor(), task_id)
    except ServiceError as exc:
        flash(_("Not cancelled: %(reason)s", reason=exc.message), "error")
        return redirect(back)
    flash(_("Export %(id)s cancelled.", id=task_id), "success")
    return redirect(back + "#task-center")


def _back() -> str:
    back = local_path(request.form.get("back"))
    return back.split("#")[0] if back else url_for("exports.page")


def panel_context(status: str | None) -> dict[str, Any]:
    status = status if status in STATUSES else None
    tasks = exports().list(actor(), status)
    return {"tasks": tasks, "task_status": status, "task_statuses": STATUSES, "human_size": human_size,
            "tasks_active": any(t.active for t in tasks)}  # fmt: skip


@bp.app_context_processor
def query_page_helpers() -> dict[str, Any]:
    """For the query page's Export All form: the count from the search it already ran, the size
    from one aggregate over the same criteria."""

    def export_all_preview(criteria: Criteria, page: SearchPage) -> Preview:
        return exports().preview(criteria, page.total)

    return {"export_all_preview": export_all_preview, "task_center": panel_context}
