"""The archive's time zone as a ``tzinfo``, loading the zone database only for a named zone.

``zoneinfo`` costs ~10 ms to import (it reads ``sysconfig`` to find the tz path) and more to read
a zone file: a noticeable part of a command-line search's start-up. The default zone, UTC, needs
neither: ``datetime.UTC`` converts and formats the same as ``ZoneInfo("UTC")``.
"""

from __future__ import annotations

from datetime import UTC, tzinfo

_UTC_NAMES = frozenset(("UTC", "Etc/UTC"))


def zone(name: str) -> tzinfo:
    """The zone called ``name`` (an IANA name such as ``Asia/Shanghai``); ``ValueError`` when unknown."""
    if name in _UTC_NAMES:
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
