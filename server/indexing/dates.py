"""Which times of a message the archive trusts: ``received_at`` from the archive's side, the search date
checked against it.

The Date header is written by the sender, so it can say anything: year 800, year 3609, 1981 for
mail sent today. Searches, paging and retention must not depend on it. Each message therefore gets a
``received_at`` the archive can vouch for, and the Date header is used as the search date only when
it is plausible next to it:

- ``received_at``: journaled mail: the SMTP arrival time the spool recorded when it answered 250.
  Imports: the date of the topmost (newest) Received header, written by the last server that
  delivered it, when plausible (1970 or later, not after the import); else the delivery time of the
  mailbox file (mbox From_ line, Maildir file name), under the same condition; else the import time.
- ``date`` (what searches and the result list use): the Date header when it lies between
  1970-01-01 and one day after ``received_at`` (clocks and time zones of real senders are off by
  hours, not days); else ``received_at``, with a ``parse_errors`` note saying why. The header stays
  in the raw message as sent.
- ``retention_until``: ``received_at`` + the retention period (``enrich.retention_until``).
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

from eml_parser.decode import robust_string2date

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DATE_SLACK = timedelta(days=1)  # how far a Date header may lie after received_at


def header_date(value: str, errors: list[str]) -> datetime | None:
    """The Date header as aware UTC, any year; None (and a note in ``errors``) when unreadable."""
    value = value.strip()
    try:
        parsed = robust_string2date(value)  # RFC 5322, then dateutil; the epoch means unreadable
    except (ValueError, OverflowError, TypeError):  # it raises on offsets of 24 hours or more ("+9999")
        parsed = None
    if parsed is None or (parsed == EPOCH and "1970" not in value):
        errors.append(f"date: unreadable {value[:80]!r}, received time used")
        return None
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 or 9999 shifted out of range by its UTC offset
        errors.append(f"date: out of range {value[:80]!r}, received time used")
        return None


def received_header_date(value: str) -> datetime | None:
    """The time stamp of one Received field (after its last ``;``, RFC 5321 §4.4); None if unreadable."""
    _, sep, stamp = value.rpartition(";")
    if not sep:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(stamp.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # "-0000": the time is UTC, the zone unknown (RFC 5322 §3.3)
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def plausible(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and EPOCH <= moment <= now


def imported_received_at(received_header: datetime | None, delivered: datetime | None, now: datetime) -> datetime:
    """``received_at`` of an imported message: topmost Received, else the mailbox's delivery time, else now."""
    for candidate in (received_header, delivered):
        if plausible(candidate, now):
            return candidate  # type: ignore[return-value]
    return now


def search_date(header: datetime | None, received_at: datetime, errors: list[str]) -> datetime:
    """The Date header when plausible next to ``received_at``, else ``received_at`` (with a note why)."""
    if header is None:
        return received_at  # missing or unreadable (already noted by header_date)
    if header < EPOCH:
        errors.append(f"date: header {_iso(header)} is before 1970, received time {_iso(received_at)} used")
        return received_at
    if header > received_at + DATE_SLACK:
        errors.append(f"date: header {_iso(header)} is more than a day after the received time "
                      f"{_iso(received_at)}, which is used")
        return received_at
    return header


def _iso(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment:%m-%dT%H:%MZ}"
