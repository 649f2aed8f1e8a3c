"""Row keys and filter keys.

``rid`` (the rowid of ``messages`` and of the FTS table) is ``date_ms * SLOTS + slot``: the
message date in milliseconds since 1970, then a slot number for messages sharing that millisecond.
So rid order is date order, a time range is one rid range, and FTS5 can restrict a MATCH to that
range by itself (it seeks in its doclists by rowid) instead of matching the whole archive and
filtering dates afterwards. With 2**15 slots every datetime Python can hold (years 1-9999) fits in
a signed 64-bit rid. Within one millisecond the slot order is arrival order, not id order, so the
search sorts each same-millisecond group by id (see search.py).

Filter keys in ``message_keys`` are ``kind + ":" + value``.
"""

from __future__ import annotations

from datetime import datetime

from server.store.common.times import to_ms

SLOT_BITS = 15
SLOTS = 1 << SLOT_BITS

MAILBOX, SENDER, RECIPIENT, DEPARTMENT, DEPARTMENT_PATH = "m", "s", "r", "d", "p"
SENDER_DOMAIN, RECIPIENT_DOMAIN = "sd", "rd"  # the part after the last '@' (criteria "@example.com")
# message field -> key kind, for the fields that are arrays (merged as unions)
ARRAY_KINDS = {"mailboxes": MAILBOX, "recipients": RECIPIENT, "departments": DEPARTMENT, "department_paths": DEPARTMENT_PATH}


def group_of(rid: int) -> int:
    """The date (ms) part of a rid (floor division, also for dates before 1970)."""
    return rid >> SLOT_BITS


def first_rid(date_ms: int) -> int:
    return date_ms << SLOT_BITS


def last_rid(date_ms: int) -> int:
    return (date_ms << SLOT_BITS) + SLOTS - 1


def rid_range(start: datetime, end: datetime) -> tuple[int, int]:
    """Inclusive rid bounds of an inclusive time range."""
    return first_rid(to_ms(start)), last_rid(to_ms(end))


def key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def prefix_bounds(kind: str) -> tuple[str, str]:
    """``key >= lo AND key < hi`` selects every key of one kind (';' sorts right after ':')."""
    return f"{kind}:", f"{kind};"


def domain_of(address: str) -> str | None:
    """The domain of a (lower-case) address: what follows its last '@'; None without one."""
    local, at, domain = address.rpartition("@")
    return domain if at and local and domain else None


def address_key(kind: str, domain_kind: str, value: str) -> str:
    """The filter key of a sender/recipient criterion: a full address, or ``@domain`` for a domain."""
    return key(domain_kind, value[1:]) if value.startswith("@") else key(kind, value)

