"""Archive Mail Management: the figures of the archive summary.

Shared (through ``server.services.archiving``) by the console page, ``/api/v1/summary`` and
``mailarchive archiving status`` so that all three report the same figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from server.archiving import INTEGRITY_FAILURES, SKIPPED_DISABLED, archive_settings, switch_state
from server.config import Config
from server.model import AccountStatus, format_time
from server.ops.counters import LAST_JOURNALED
from server.query.criteria import Criteria
from server.store.protocol import Store
from server.users import Role, UserService

EARLIEST = datetime(1, 1, 1, tzinfo=UTC)  # the whole range a Date header can have (four-digit years)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


@dataclass
class ArchiveSummary:
    status: str  # "enabled" | "disabled"
    archivable_mailboxes: int  # active directory accounts on internal domains
    archived_mailboxes: int  # mailboxes that have archived mail
    archived_messages: int
    retention_years: int
    last_enabled_at: str | None  # ISO UTC
    last_disabled_at: str | None
    archive_admins: list[str]
    journal_not_stored: int  # journal mail acknowledged while archiving was disabled
    timezone: str
    integrity_failures: int = 0  # reads refused: stored bytes did not match their SHA-256 (audit log has each)
    storage_bytes: int | None = None  # on disk: the SQLite file, or the cluster's primary store size
    oldest_message: str | None = None  # Date of the oldest / newest archived message (ISO UTC)
    newest_message: str | None = None
    last_received_at: str | None = None  # archive-side arrival of the newest message by arrival order
    last_journaled_at: str | None = None  # when journal (SMTP) mail was last stored

    def to_dict(self) -> dict:
        return asdict(self)


def archivable_mailboxes(store: Store, internal_domains: tuple[str, ...]) -> int:
    """Active accounts on an internal domain (or a subdomain of one, as ingestion counts them);
    every active account when no internal domain is configured."""
    accounts = store.list_accounts(status=AccountStatus.ACTIVE)
    if not internal_domains:
        return len(accounts)
    suffixes = tuple("." + d for d in internal_domains)
    domains = (a.address.rpartition("@")[2].lower() for a in accounts)
    return sum(1 for d in domains if d in internal_domains or d.endswith(suffixes))


def archive_summary(store: Store, config: Config) -> ArchiveSummary:
    settings = archive_settings(store, config)
    state = switch_state(store)
    return ArchiveSummary(
        status="enabled" if state["enabled"] else "disabled",
        archivable_mailboxes=archivable_mailboxes(store, settings.internal_domains),
        archived_mailboxes=store.distinct_mailboxes(),
        archived_messages=store.count(),
        retention_years=settings.retention_years,
        last_enabled_at=state["last_enabled_at"],
        last_disabled_at=state["last_disabled_at"],
        archive_admins=UserService(store).with_role(Role.ARCHIVE_ADMIN),
        journal_not_stored=store.get_counter(SKIPPED_DISABLED),
        timezone=settings.timezone,
        integrity_failures=store.get_counter(INTEGRITY_FAILURES),
        storage_bytes=store.storage_bytes(),
        oldest_message=format_time(oldest) if (oldest := oldest_date(store)) else None,
        newest_message=format_time(newest) if (newest := newest_date(store)) else None,
        last_received_at=last_received(store),
        last_journaled_at=store.get_setting(LAST_JOURNALED),
    )


def _all_time(start: datetime, end: datetime) -> Criteria:
    return Criteria(start=start, end=end)


def newest_date(store: Store) -> datetime | None:
    page = store.search(_all_time(EARLIEST, LATEST), limit=1)
    return page.results[0].date if page.results else None


def oldest_date(store: Store) -> datetime | None:
    """The first page of the oldest-first order: as cheap as the newest (the store walks its date
    index from the other end)."""
    page = store.search(_all_time(EARLIEST, LATEST), limit=1, sort="date")
    return page.results[0].date if page.results else None


def last_received(store: Store) -> str | None:
    """``received_at`` of the newest message in arrival order (a purged newest one is skipped)."""
    top = store.max_archive_seq()
    newest = store.scan_archived(max(0, top - 100), 100)[-1:]
    if not newest:
        return None
    when = newest[0].received_at or newest[0].archived_at
    return format_time(when) if when else None

