"""Search criteria (DESIGN.md §5): one validated value object for the CLI, the API and both backends.

``parse_criteria`` takes the flat string form used by the command line and ``/api/v1`` and raises
``CriteriaError`` with a message that tells the user what to fix.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from server.model import normalize_department, utc_ms
from server.query.frozen import Frozen
from server.query.keywords import KeywordError, Node, parse_keyword, positive_terms
from server.timezones import zone

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any

SCOPES = ("subject", "body", "attachment")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
# patterns compiled (and cached by ``re``) on first use: ~1.5 M instructions a search without an
# address criterion need not pay at start-up
_DOMAIN = r"^[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)+$"  # labels of letters, digits, - and _
_ADDRESS = r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$"


class CriteriaError(ValueError):
    """Bad search input; ``str(error)`` is a one-line message for the user."""


class Criteria(Frozen):
    """Compared, hashed and shown like the frozen dataclass it was (a ``Frozen`` slots class: the
    dataclass cost every command-line search start-up to build)."""

    __slots__ = ("start", "end", "mailboxes", "sender", "recipient", "keyword", "query", "phrases", "scope",
                 "department", "include_subdepartments")  # fmt: skip
    start: datetime  # inclusive, aware UTC
    end: datetime  # inclusive, aware UTC
    mailboxes: tuple[str, ...]  # any of these (lower-case addresses)
    sender: str | None  # a full address, or "@example.com" for a whole domain
    recipient: str | None  # the same
    keyword: str  # as typed, for display and audit
    query: Node | None  # the parsed keyword (server.query.keywords), what the backends translate
    phrases: tuple[tuple[str, ...], ...]  # tokens of the query's positive terms (what may be highlighted)
    scope: frozenset[str]
    department: str | None
    include_subdepartments: bool

    def __init__(self, start: datetime, end: datetime, mailboxes: tuple[str, ...] = (), sender: str | None = None,
                 recipient: str | None = None, keyword: str = "", query: Node | None = None,
                 phrases: tuple[tuple[str, ...], ...] = (), scope: frozenset[str] = frozenset(SCOPES),
                 department: str | None = None, include_subdepartments: bool = False) -> None:  # fmt: skip
        super().__init__(start, end, mailboxes, sender, recipient, keyword, query, phrases, scope, department,
                         include_subdepartments)  # fmt: skip

    def as_params(self) -> dict[str, str]:
        """The flat form again (for URLs, audit details and Export All tasks)."""
        params = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.mailboxes:
            params["mailbox"] = ",".join(self.mailboxes)
        for key in ("sender", "recipient", "department"):
            if getattr(self, key):
                params[key] = getattr(self, key)
        if self.keyword:
            params["keyword"] = self.keyword
            params["scope"] = ",".join(s for s in SCOPES if s in self.scope)
        if self.include_subdepartments:
            params["include_subdepartments"] = "true"
        return params


def _zone(tz: str) -> tzinfo:
    try:
        return zone(tz)
    except ValueError as exc:
        raise CriteriaError(str(exc)) from None


def parse_bound(text: str, tz: str, *, end: bool) -> datetime:
    """A date (whole day, in ``tz``) or an ISO datetime (naive = in ``tz``) to aware UTC.

    Bounds that fall outside the years 1-9999 once converted to UTC (``0001-01-01`` east of
    Greenwich, ``9999-12-31T23:59-01:00``) are refused: Python cannot hold them.
    """
    text = text.strip()
    name = "to" if end else "from"
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time.max if end else time.min)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise CriteriaError(f"'{name}' must be a date YYYY-MM-DD or a datetime YYYY-MM-DDTHH:MM[:SS], got {text!r}") from None
    zone = ""
    if moment.tzinfo is None:
        moment, zone = moment.replace(tzinfo=_zone(tz)), f" (time zone {tz})"
    try:
        return utc_ms(moment.astimezone(UTC))
    except OverflowError:
        raise CriteriaError(f"'{name}' {text!r}{zone} is out of range: in UTC it must lie within the years 0001 to 9999") from None


MAX_ADDRESS = 254  # RFC 5321 path limit; also keeps every term under Elasticsearch's 32 KB term limit
MAX_DEPARTMENT = 1000


def parse_address(text: str, name: str) -> str:
    address = text.strip().lower()
    if len(address) > MAX_ADDRESS or not re.match(_ADDRESS, address):
        raise CriteriaError(f"'{name}' must be a full email address such as user@example.com, got {text!r}")
    return address


def parse_party(text: str, name: str) -> str:
    """A sender/recipient criterion: a full address, or ``@example.com`` for every address of that
    domain (exactly that domain, not its subdomains); lower-cased."""
    value = text.strip().lower()
    if len(value) > MAX_ADDRESS:
        raise CriteriaError(f"'{name}' is longer than {MAX_ADDRESS} characters, which no address is")
    if value.startswith("@") and re.match(_DOMAIN, value[1:]):
        return value
    if not re.match(_ADDRESS, value):
        raise CriteriaError(
            f"'{name}' must be a full email address such as user@example.com or a whole domain such as @example.com, "
            f"got {text!r}"
        )
    return value


def parse_keyword_param(keyword: str) -> Node | None:
    """The keyword's query tree (None for no keyword); ``CriteriaError`` naming the unsupported part."""
    try:
        query = parse_keyword(keyword)
    except KeywordError as exc:
        raise CriteriaError(f"keyword: {exc}") from exc  # the cause carries the translatable template
    if keyword and query is None:
        raise CriteriaError(f"keyword {keyword[:100]!r} has no letters or digits to search for")
    return query


def _truthy(value: str | bool | None) -> bool:
    if isinstance(value, bool):
        return value
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def parse_criteria(params: Mapping[str, str | bool | None], tz: str = "UTC") -> Criteria:
    """Validate the flat criteria (``from``, ``to``, ``mailbox``, ``sender``, ``recipient``,
    ``keyword``, ``scope``, ``department``, ``include_subdepartments``)."""
    get = lambda key: (str(params.get(key) or "")).strip()  # noqa: E731
    for key in params:  # a command line's invalid UTF-8 arrives as lone surrogates, which nothing can store
        if any("\ud800" <= ch <= "\udfff" for ch in get(key)):
            raise CriteriaError(f"'{key}' is not valid text (invalid UTF-8): type it again or leave it out")
    if not get("from") or not get("to"):
        raise CriteriaError("a time range is required: give both 'from' and 'to' (YYYY-MM-DD)")
    start = parse_bound(get("from"), tz, end=False)
    end = parse_bound(get("to"), tz, end=True)
    if start > end:
        raise CriteriaError(f"'from' ({get('from')}) is after 'to' ({get('to')})")
    mailboxes = tuple(dict.fromkeys(parse_address(a, "mailbox") for a in get("mailbox").split(",") if a.strip()))
    sender = parse_party(get("sender"), "sender") if get("sender") else None
    recipient = parse_party(get("recipient"), "recipient") if get("recipient") else None
    keyword = get("keyword")
    query = parse_keyword_param(keyword)
    scope_items = [s.strip().lower() for s in get("scope").split(",") if s.strip()]
    unknown = [s for s in scope_items if s not in SCOPES]
    if unknown:
        raise CriteriaError(f"unknown scope {unknown[0]!r}: use one or more of subject, body, attachment")
    scope = frozenset(scope_items or SCOPES)
    if len(get("department")) > MAX_DEPARTMENT:
        raise CriteriaError(f"'department' must be at most {MAX_DEPARTMENT} characters")
    department = normalize_department(get("department")) or None
    return Criteria(
        start=start,
        end=end,
        mailboxes=mailboxes,
        sender=sender,
        recipient=recipient,
        keyword=keyword,
        query=query,
        phrases=tuple(t.tokens for t in positive_terms(query)),
        scope=scope,
        department=department,
        include_subdepartments=_truthy(params.get("include_subdepartments")),
    )


def parse_limit(value: str | int | None, default: int = DEFAULT_LIMIT) -> int:
    if value in (None, ""):
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise CriteriaError(f"'limit' must be a whole number from 1 to {MAX_LIMIT}, got {value!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise CriteriaError(f"'limit' must be from 1 to {MAX_LIMIT}, got {limit}")
    return limit


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Paging: results are ordered by (date desc, id desc); a cursor is the last (date, id) seen.
def encode_cursor(moment: datetime, message_id: str) -> str:
    return encode_key_cursor((utc_ms(moment) - _EPOCH) // timedelta(milliseconds=1), message_id)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    ms, message_id = decode_key_cursor(cursor)
    try:
        return _EPOCH + timedelta(milliseconds=ms), message_id
    except OverflowError:  # beyond the years 1-9999
        raise CriteriaError("'cursor' is not valid: pass the next_cursor of the previous page unchanged") from None


# Sort orders of a result list (``search(..., sort=...)``): the field and whether it is descending.
# Ties are broken by id in the same direction, so every order is total and a keyset cursor
# (sort value, id) resumes exactly; for dates the value is milliseconds since 1970, the same
# cursor as the default order's.
SORTS = {"-date": ("date", True), "date": ("date", False), "-size": ("size", True), "size": ("size", False)}
DEFAULT_SORT = "-date"


def parse_sort(value: str | None) -> str:
    """A sort order name (``-date`` newest first, ``date``, ``-size`` largest first, ``size``)."""
    if value in (None, ""):
        return DEFAULT_SORT
    if value not in SORTS:
        raise CriteriaError(f"'sort' must be one of {', '.join(SORTS)}, got {value!r}")
    return value


def sort_value(sort: str, message: Any) -> int:
    """The integer a message sorts by under ``sort`` (what its cursor carries)."""
    if SORTS[sort][0] == "size":
        return int(message.size)
    return (utc_ms(message.date) - _EPOCH) // timedelta(milliseconds=1)


def decode_sort_cursor(cursor: str, sort: str) -> tuple[int, str]:
    """(sort value, id) of a cursor of the order ``sort``; a date must lie in the years 1-9999
    (the backends' row keys and Python's datetimes hold no more)."""
    if SORTS[sort][0] == "date":
        moment, message_id = decode_cursor(cursor)
        return (utc_ms(moment) - _EPOCH) // timedelta(milliseconds=1), message_id
    return decode_key_cursor(cursor)


def reverse_sort(sort: str) -> str:
    """The same order the other way round (``-date`` <-> ``date``): walking it from a page's first
    row gives the page before, so "previous page" needs no offsets either."""
    return sort[1:] if sort.startswith("-") else f"-{sort}"


def cursor_of(sort: str, message: Any) -> str:
    """The cursor that resumes ``sort`` just after ``message``."""
    return encode_key_cursor(sort_value(sort, message), message.id)


def encode_key_cursor(value: int, message_id: str) -> str:
    return base64.urlsafe_b64encode(f"{value}:{message_id}".encode()).decode().rstrip("=")


def decode_key_cursor(cursor: str) -> tuple[int, str]:
    """(sort value, id) of a cursor; ``CriteriaError`` for anything not made by ``encode_key_cursor``."""
    invalid = CriteriaError("'cursor' is not valid: pass the next_cursor of the previous page unchanged")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        value, message_id = raw.split(":", 1)
        number = int(value)
    except (ValueError, UnicodeDecodeError):
        raise invalid from None
    if not -(1 << 63) <= number < (1 << 63):  # what both backends hold as a 64-bit integer
        raise invalid
    return number, message_id


def day_span(criteria: Criteria) -> float:
    """Length of the time range in days (Export All limits)."""
    return (criteria.end - criteria.start) / timedelta(days=1)
