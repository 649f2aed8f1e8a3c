"""The "Query archived mail" page: criteria form, results, paging, bulk download of selected mail.

Every criterion lives in the query string, so a search is a URL an administrator can bookmark or
send to a colleague; paging carries the store's cursor in the URL too (no offsets: page 500 costs
what page 1 costs; "previous" walks the same order backwards from the page's first row). The
form is checked field by field first (``search_form``), so one submit shows every problem beside
its field, in the page's language.
"""

from __future__ import annotations

import math
import re
import threading
import time
from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from server.archive_admin import newest_date, oldest_date
from server.query.criteria import DEFAULT_LIMIT, DEFAULT_SORT, SCOPES
from server.query.highlight import highlight_message
from server.query.keywords import MAX_KEYWORD_CHARS, MAX_TERMS
from server.services.errors import InvalidInput
from server.web.context import actor, services
from server.web.i18n import _
from server.web.mail_access import criteria_params, run_search, timezone, zip_response
from server.web.render import criteria_summary, department_options, human_size, near_match, today_in
from server.web.roles import Role, require_role
from server.web.search_form import PAGE_SIZES, FieldError, check_form, local_day, presets

bp = Blueprint("search", __name__)
DEFAULT_DAYS = 30
BOUNDS_TTL = 60.0  # seconds the archive's first/last dates are reused between page views
_FIELD = re.compile(r"'(from|to|mailbox|sender|recipient|keyword|scope|department|limit|cursor|before|sort)'")
_bounds_cache: dict[int, tuple[float, tuple[date, date] | None]] = {}
_bounds_lock = threading.Lock()


def error_field(message: str) -> str:
    """Which form field an error message is about (``'sender' must be ...`` -> sender)."""
    match = _FIELD.search(message)
    if match:
        return "cursor" if match.group(1) == "before" else match.group(1)
    return "keyword" if message.startswith("keyword") else ("scope" if "scope" in message else "from")


def archive_bounds(tz: str) -> tuple[date, date] | None:
    """The days (in ``tz``) of the oldest and newest archived message, or None for an empty
    archive; kept a minute per store so paging through results does not ask again."""
    store = services().store
    now = time.monotonic()
    with _bounds_lock:
        cached = _bounds_cache.get(id(store))
    if cached and now - cached[0] < BOUNDS_TTL:
        return cached[1]
    oldest, newest = oldest_date(store), newest_date(store)
    bounds = (local_day(oldest, tz), local_day(newest, tz)) if oldest and newest else None
    with _bounds_lock:
        _bounds_cache[id(store)] = (now, bounds)
    return bounds


def _form(args: Any, tz: str, picks: list[tuple[int, str, str]]) -> dict[str, Any]:
    """The form's values: what the URL says, or a last-30-days range on a fresh page."""
    values = criteria_params(args)
    if not args:
        _, values["from"], values["to"] = next(p for p in picks if p[0] == DEFAULT_DAYS)
    values["scopes"] = [s for s in values["scope"].split(",") if s] or list(SCOPES)
    return values


def _page_url(**changes: Any) -> str:
    """This search with some parameters changed (None: removed)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = [value]
    return url_for("search.search", **args)


def _translated(errors: list[FieldError]) -> dict[str, str]:
    """field -> message in the page's language (the first problem of each field)."""
    out: dict[str, str] = {}
    for error in errors:
        values = {k: _(v, **error.detail_values) if k == "detail" else v for k, v in error.values.items()}  # a parser's wording
        out.setdefault(error.field, _(error.text, **values))
    return out


def _paging(page: Any, limit: int) -> dict[str, Any]:
    """Page x of y, previous/next links, the rows shown ("21–40")."""
    number = request.args.get("page", "1")
    current = int(number) if number.isdigit() and int(number) > 0 else 1
    pages = max(1, math.ceil(page.total / limit))
    if page.previous_cursor is None:
        current = 1  # whatever the URL said: nothing comes before this page
    current = min(current, pages)
    previous_url = None
    if page.previous_cursor:
        previous_url = (_page_url(cursor=None, before=None, page=None) if current <= 2
                        else _page_url(before=page.previous_cursor, cursor=None, page=str(current - 1)))  # fmt: skip
    next_url = _page_url(cursor=page.next_cursor, before=None, page=str(current + 1)) if page.next_cursor else None
    first = (current - 1) * limit + 1
    return {"page_number": current, "page_count": pages, "previous_url": previous_url, "next_url": next_url,
            "first_url": _page_url(cursor=None, before=None, page=None) if current > 1 else None,
            "first_row": first, "last_row": first + len(page.results) - 1}  # fmt: skip


@bp.get("/search")
@require_role(Role.ARCHIVE_ADMIN)
def search() -> ResponseReturnValue:
    tz = timezone()
    bounds = archive_bounds(tz)
    picks = presets(today_in(tz), bounds)
    form = _form(request.args, tz, picks)
    limit_text = request.args.get("limit", "")
    limit = int(limit_text) if limit_text.isdigit() and 0 < int(limit_text) <= 1000 else DEFAULT_LIMIT
    sort = request.args.get("sort") or DEFAULT_SORT
    context: dict[str, Any] = {
        "form": form, "presets": picks, "bounds": bounds, "scopes": SCOPES,
        "departments": department_options(services().store.list_departments()), "errors": {},
        "page": None, "criteria": None, "human_size": human_size, "near_match": near_match, "keyword_limits": (MAX_KEYWORD_CHARS, MAX_TERMS),
        "archiving_enabled": services().archiving.state()["enabled"],  # the banner when journal mail is dropped
        "limit": limit, "page_sizes": sorted({*PAGE_SIZES, limit}), "sort": sort,
        "summary": criteria_summary(form), "page_url": _page_url,
    }  # fmt: skip
    if request.args:
        context["errors"] = _translated(check_form({**criteria_params(request.args), "limit": limit_text, "sort": sort}, tz))
        if not context["errors"]:
            try:
                context["criteria"], context["page"] = run_search(request.args)
            except InvalidInput as exc:
                context["errors"] = {error_field(exc.message): exc.message}
    if context["page"] is not None:
        criteria = context["criteria"]
        context.update(_paging(context["page"], limit))
        context["highlights"] = {m.id: highlight_message(m, criteria) for m in context["page"].results}
        # the message view marks the same keyword (and scope) in the body and attachment names
        context["view_args"] = ({"keyword": criteria.keyword, "scope": ",".join(s for s in SCOPES if s in criteria.scope)}
                                if criteria.keyword else {})  # fmt: skip
    return render_template("search/search.html", **context), 400 if context["errors"] else 200


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
