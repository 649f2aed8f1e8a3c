"""The "Query archived mail" page: criteria form, results, paging, bulk download of selected mail.

Every criterion lives in the query string, so a search is a URL an administrator can bookmark or
send to a colleague; paging carries the store's cursor in the URL too (no offsets: page 500 costs
what page 1 costs). Bad criteria are shown next to the field they concern.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from server.query.criteria import SCOPES
from server.query.highlight import highlight_message
from server.query.keywords import MAX_KEYWORD_CHARS, MAX_TERMS
from server.services.errors import InvalidInput
from server.web.context import actor, services
from server.web.i18n import _
from server.web.mail_access import criteria_params, run_search, timezone, zip_response
from server.web.render import department_options, human_size, quick_ranges
from server.web.roles import Role, require_role

bp = Blueprint("search", __name__)
DEFAULT_DAYS = 30
_FIELD = re.compile(r"'(from|to|mailbox|sender|recipient|keyword|scope|department|limit|cursor)'")


def error_field(message: str) -> str:
    """Which form field an error message is about (``'sender' must be ...`` -> sender)."""
    match = _FIELD.search(message)
    if match:
        return match.group(1)
    return "keyword" if message.startswith("keyword") else ("scope" if "scope" in message else "from")


def _form(args: Any, tz: str) -> dict[str, Any]:
    """The form's values: what the URL says, or a last-30-days range on a fresh page."""
    values = criteria_params(args)
    if not args:
        _, values["from"], values["to"] = next(r for r in quick_ranges(tz) if r[0] == DEFAULT_DAYS)
    values["scopes"] = [s for s in values["scope"].split(",") if s] or list(SCOPES)
    return values


def _page_url(**changes: Any) -> str:
    args = request.args.to_dict(flat=False)
    args.update({k: [v] for k, v in changes.items() if v is not None})
    return url_for("search.search", **args)


@bp.get("/search")
@require_role(Role.ARCHIVE_ADMIN)
def search() -> ResponseReturnValue:
    tz = timezone()
    context: dict[str, Any] = {
        "form": _form(request.args, tz), "quick_ranges": quick_ranges(tz), "scopes": SCOPES,
        "departments": department_options(services().store.list_departments()), "error": None, "error_field": None,
        "page": None, "criteria": None, "human_size": human_size, "keyword_limits": (MAX_KEYWORD_CHARS, MAX_TERMS),
        "archiving_enabled": services().archiving.state()["enabled"],  # the banner when journal mail is dropped
    }
    if request.args:
        try:
            context["criteria"], context["page"] = run_search(request.args)
        except InvalidInput as exc:
            context["error"], context["error_field"] = exc.message, error_field(exc.message)
    if context["page"] is not None:
        number = request.args.get("page", "1")
        context["page_number"] = int(number) if number.isdigit() else 1
        criteria = context["criteria"]
        context["highlights"] = {m.id: highlight_message(m, criteria) for m in context["page"].results}
        # the message view marks the same keyword (and scope) in the body and attachment names
        context["view_args"] = ({"keyword": criteria.keyword, "scope": ",".join(s for s in SCOPES if s in criteria.scope)}
                                if criteria.keyword else {})
        context["next_url"] = (_page_url(cursor=context["page"].next_cursor, page=context["page_number"] + 1)
                               if context["page"].next_cursor else None)
        context["first_url"] = _page_url(cursor="", page="1") if request.args.get("cursor") else None
    return render_template("search/search.html", **context), 400 if context["error"] else 200


@bp.post("/search/export")
@require_role(Role.ARCHIVE_ADMIN)
def export_selected() -> ResponseReturnValue:
    back = request.form.get("back", "")
    if not back.startswith("/search"):
        back = url_for("search.search")
    try:
        export = services().archive.zip_selected(actor(), request.form.getlist("id"))
    except InvalidInput as exc:
        flash(_("Nothing downloaded: %(reason)s", reason=exc.message), "error")
        return redirect(back)
    return zip_response(export)
