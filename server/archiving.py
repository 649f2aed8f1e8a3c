"""The archiving switch and the archive-wide settings every component reads.

Settings saved in the store (by the console or the CLI) win over the configuration defaults
(environment / mailarchive.toml), so an administrator's change applies to all services at once.
Archiving is disabled on a fresh install (DESIGN.md §4 rule 12).
"""

from __future__ import annotations

from server.config import Config
from server.model import format_time, now_utc
from server.tuples import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from server.store.protocol import Store

SWITCH_KEY = "archiving"
SKIPPED_DISABLED = "journal_not_stored_disabled"  # counter: journal mail accepted while disabled
INTEGRITY_FAILURES = "integrity_failures"  # counter: reads refused because stored bytes did not match


class ArchiveSettings(NamedTuple):
    internal_domains: tuple[str, ...]
    monitoring_addresses: tuple[str, ...]
    monitoring_header: str | None
    monitoring_secret: str | None  # from the configuration only, never saved in the store
    retention_years: int
    timezone: str


def archive_settings(store: Store, config: Config) -> ArchiveSettings:
    def pick(key: str, default):  # noqa: ANN001, ANN202
        value = store.get_setting(key)
        return default if value is None else value

    return ArchiveSettings(
        internal_domains=tuple(d.lower() for d in pick("internal_domains", config.archiving.internal_domains)),
        monitoring_addresses=tuple(a.lower() for a in pick("monitoring_addresses", config.archiving.monitoring_addresses)),
        monitoring_header=pick("monitoring_header", config.archiving.monitoring_header),
        monitoring_secret=config.archiving.monitoring_secret,
        retention_years=int(pick("retention_years", config.retention.years)),
        timezone=archive_timezone(store, config),
    )


def archive_timezone(store: Store, config: Config) -> str:
    """The archive's time zone alone: one setting read, where every search needs it (on
    Elasticsearch each setting is a round trip to the cluster, and a search needs no other)."""
    value = store.get_setting("timezone")
    return config.timezone if value is None else value


def switch_state(store: Store) -> dict:
    """``{"enabled", "last_enabled_at", "last_disabled_at", "changed_by"}`` (times ISO or None)."""
    state = store.get_setting(SWITCH_KEY) or {}
    return {
        "enabled": bool(state.get("enabled", False)),
        "last_enabled_at": state.get("last_enabled_at"),
        "last_disabled_at": state.get("last_disabled_at"),
        "changed_by": state.get("changed_by"),
    }


def is_enabled(store: Store) -> bool:
    return switch_state(store)["enabled"]


def set_enabled(store: Store, enabled: bool, actor: str) -> dict:
    """Flip the switch (the caller audits it). Returns the new state."""
    state = switch_state(store)
    state["enabled"] = enabled
    state["last_enabled_at" if enabled else "last_disabled_at"] = format_time(now_utc())
    state["changed_by"] = actor
    store.set_setting(SWITCH_KEY, state)
    return state
