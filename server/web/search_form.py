"""The search form's checks, all at once: every field's problem is found in one submit and shown
beside that field in the page's language, with dates written the way the fields show them
(YYYY-MM-DD, the archive's time zone).

The store-side validation (``server.query.criteria.parse_criteria``) stops at the first problem
and speaks to API and command-line users; a person filling a form wants the whole list. So this
module checks each field with the same parsers, one by one, and words the result for the form.
No Flask here: the messages are English keys with ``%(name)s`` values, translated by the view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from server.query.criteria import (
    MAX_LIMIT,
    SORTS,
    CriteriaError,
    parse_address,
    parse_bound,
    parse_keyword_param,
    parse_party,
)
from server.query.keywords import KeywordError

PAGE_SIZES = (25, 50, 100, 200)
DATE_FORMAT = "YYYY-MM-DD"


@dataclass(frozen=True)
class FieldError:
    field: str  # the form field (input name) it belongs beside
    text: str  # English message key (server/web/locales/*/search.json)
    values: dict[str, str] = field(default_factory=dict)
    detail_values: dict[str, str] = field(default_factory=dict)  # placeholders of a translated ``detail`` value


def _date_error(name: str, text: str, tz: str) -> FieldError | None:
    if not text:
        return FieldError(name, "Enter a date (%(format)s).", {"format": DATE_FORMAT})
    try:
        parse_bound(text, tz, end=name == "to")
    except CriteriaError as exc:
        if "out of range" in str(exc):
            return FieldError(name, "%(value)s is out of range: a date must lie within the years 0001 to 9999.", {"value": text})
        return FieldError(name, "Enter the date as %(format)s, for example %(example)s.",
                          {"format": DATE_FORMAT, "example": date.today().isoformat()})  # fmt: skip
    return None


def check_form(params: Mapping[str, str], tz: str) -> list[FieldError]:
    """Every problem of the flat criteria (``criteria_params`` plus ``limit`` and ``sort``), in
    the order of the form's fields; empty when ``parse_criteria`` will accept them."""
    get = lambda key: str(params.get(key) or "").strip()  # noqa: E731
    errors = [e for name in ("from", "to") if (e := _date_error(name, get(name), tz))]
    if not errors:
        start, end = parse_bound(get("from"), tz, end=False), parse_bound(get("to"), tz, end=True)
        if start > end:
            errors.append(FieldError("from", "The start date %(start)s is after the end date %(end)s.",
                                     {"start": get("from")[:10], "end": get("to")[:10]}))  # fmt: skip
    for address in get("mailbox").split(","):
        if address.strip():
            try:
                parse_address(address, "mailbox")
            except CriteriaError:
                errors.append(FieldError("mailbox", "%(value)s is not a full email address such as user@example.com.",
                                         {"value": address.strip()[:200]}))  # fmt: skip
                break
    for name in ("sender", "recipient"):
        if get(name):
            try:
                parse_party(get(name), name)
            except CriteriaError:
                errors.append(FieldError(name, "Enter a full email address such as user@example.com or a whole domain such as @example.com."))
    if get("keyword"):
        try:
            parse_keyword_param(get("keyword"))
        except CriteriaError as exc:
            syntax = exc.__cause__ if isinstance(exc.__cause__, KeywordError) else None
            detail = syntax.template if syntax else str(exc).removeprefix("keyword: ")
            errors.append(FieldError("keyword", "Keyword: %(detail)s", {"detail": detail}, syntax.values if syntax else {}))
    limit = get("limit")
    if limit and not (limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT):
        errors.append(FieldError("limit", "Choose how many results a page shows: %(sizes)s.",
                                 {"sizes": ", ".join(map(str, PAGE_SIZES))}))  # fmt: skip
    if get("sort") and get("sort") not in SORTS:
        errors.append(FieldError("sort", "Choose a sort order from the list."))
    return errors


PRESET_DAYS = (1, 7, 30, 365)  # 1: today; then "last N days" up to and including today


def presets(today: date, bounds: tuple[date, date] | None) -> list[tuple[int, str, str]]:
    """(days, from, to) of the quick picks: today (1), the last 7 / 30 / 365 days, and all time
    (0), kept inside the archive's first and last message dates (``bounds``) where known: no pick
    starts before the first message, and "all time" is exactly the archive's span (to today, or
    to a later-dated message)."""
    first, last = bounds if bounds else (None, None)
    out = []
    for days in PRESET_DAYS:
        start = today - timedelta(days=days - 1)
        out.append((days, max(start, first) if first and first <= today else start, today))
    if first and last:
        out.append((0, first, max(today, last)))
    return [(days, start.isoformat(), stop.isoformat()) for days, start, stop in out]


def local_day(moment: datetime, tz: str) -> date:
    """The calendar day of ``moment`` in the archive's time zone (what the date fields mean)."""
    return moment.astimezone(ZoneInfo(tz)).date()
