"""Archive Mail Management: the figures of the archive summary.

Shared (through ``server.services.archiving``) by the console page, ``/api/v1/summary`` and
``mailarchive archiving status`` so that all three report the same figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from server.archiving import INTEGRITY_FAILURES, SKIPPED_DISABLED, archive_settings, switch_state
from server.config import Config
from server.model import AccountStatus
from server.store.protocol import Store
from server.users import Role, UserService


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
    )

