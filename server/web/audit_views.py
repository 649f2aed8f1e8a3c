"""Archive Log Query (Statistics & Logs › Behavior Query): the page, ``GET /api/v1/audit`` and the
CSV download. Archive administrators and email administrators only; the postmaster sees nothing.

Reading the log is itself audited (``audit_query``, ``audit_export``), before any entry leaves the
server: if that entry cannot be written, nothing is shown.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue

from server.audit.detail_fields import detail_fields
from server.audit.labels import operation_label, result_label
from server.audit.operations import Op
from server.audit.query import DEFAULT_LIMIT
from server.export.names import content_disposition
from server.services.audit_trail import FILTERS
from server.services.errors import InvalidInput
from server.store.protocol import AuditQuery
from server.web import i18n
from server.web.context import actor, services
from server.web.render import quick_ranges, today_in
from server.web.roles import Role, require_role

bp = Blueprint("audit", __name__)
READERS = (Role.ARCHIVE_ADMIN, Role.EMAIL_ADMIN)
MAX_TRAIL = 10_000  # pages remembered for "previous"


def _filters(args: Any) -> dict[str, str]:
    return {key: str(args.get(key) or "").strip() for key in FILTERS}


def _run(args: Any) -> tuple[AuditQuery, dict[str, Any]]:
    """One page (the service validates and audits; ``InvalidInput`` for bad filters)."""
    params = {**_filters(args), "limit": args.get("limit"), "cursor": args.get("cursor")}
    return services().audit_trail.query(actor(), params, timezone=i18n.timezone().key)


def _used(args: Any) -> dict[str, str]:
    return {k: v for k, v in _filters(args).items() if v}


def _csv_response(args: Any) -> Response:
    export = services().audit_trail.export(actor(), _filters(args), timezone=i18n.timezone().key)
    body = stream_with_context(export.lines)
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": content_disposition(export.filename)})


@bp.get("/api/v1/audit")
@require_role(*READERS)
def api_query() -> ResponseReturnValue:
    if request.args.get("format") == "csv":
        return _csv_response(request.args)
    return jsonify(_run(request.args)[1])


@bp.get("/api/v1/audit.csv")
@require_role(*READERS)
def api_csv() -> ResponseReturnValue:
    return _csv_response(request.args)


@bp.errorhandler(InvalidInput)
def bad_filters(exc: InvalidInput) -> ResponseReturnValue:
    if request.path.startswith("/api/"):
        return jsonify(error=exc.message), 400
    return _render(error=exc.message), 400


@bp.get("/audit")
@require_role(*READERS)
def page() -> ResponseReturnValue:
    if not request.args:
        return _render()
    _, found = _run(request.args)
    return _render(found=found)


@bp.get("/audit/download")
@require_role(*READERS)
def download() -> ResponseReturnValue:
    return _csv_response(request.args)


def _render(found: dict[str, Any] | None = None, error: str | None = None) -> str:
    tz = i18n.timezone().key
    form = _filters(request.args)
    if not request.args:  # a fresh page: the last 7 days, nothing queried (and audited) yet
        _, form["from"], form["to"] = quick_ranges(tz)[0]
    lang = i18n.current_language()
    trail = _trail(request.args.get("trail"))
    limit = _limit(request.args.get("limit"))
    pages = max(1, -(-found["total"] // limit)) if found else 1
    return render_template(
        "audit/query.html", form=form, found=found, error=error, page_number=len(trail) + 1, page_count=pages,
        quick_ranges=[(0, today_in(tz).isoformat(), today_in(tz).isoformat()), *quick_ranges(tz)[:2]],
        operations=sorted(((op.value, operation_label(op, lang)) for op in Op), key=lambda pair: pair[1]),
        actors=sorted(u.username for u in services().users.list()),
        op_label=lambda value: operation_label(value, lang), result_label=lambda value: result_label(value, lang),
        fields=detail_fields,
        next_url=_page_url(cursor=found["next_cursor"], trail=",".join([*trail, request.args.get("cursor") or "-"]))
        if found and found["next_cursor"] else None,
        prev_url=_page_url(cursor="" if trail[-1] == "-" else trail[-1], trail=",".join(trail[:-1])) if trail else None,
        first_url=_page_url(cursor="", trail="") if len(trail) > 1 else None,
        csv_url=url_for("audit.download", **_used(request.args)) if found is not None else None,
    )  # fmt: skip


def _trail(text: str | None) -> list[str]:
    """The cursors of the pages before this one ("-": the first page), for "previous" with a
    cursor pager; anything malformed starts the count again rather than failing the page."""
    items = (text or "").split(",") if text else []
    valid = len(items) <= MAX_TRAIL and all(i == "-" or (i.isdigit() and len(i) < 20) for i in items)
    return items if valid else []


def _limit(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) <= 1000 else DEFAULT_LIMIT


def _page_url(**changes: Any) -> str:
    args = request.args.to_dict()
    args.update({k: str(v) for k, v in changes.items()})
    return url_for("audit.page", **{k: v for k, v in args.items() if v or k not in ("cursor", "trail")})
