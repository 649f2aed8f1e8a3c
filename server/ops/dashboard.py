"""The figures of the ops dashboard, read from durable state (the same sources as ``/metrics``).

Per-day series come from the per-day arrival counters the pipeline writes (``counters.day_key``);
top departments and mailboxes from the store's aggregations over the same window; gauges are read
now. Everything is counts: no message content reaches the page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from server.archive_admin import archive_summary, last_received
from server.archiving import is_enabled
from server.config import Config
from server.ops import counters as c
from server.ops.health import readiness
from server.ops.metrics import export_task_counts, queue_depth, spool_files
from server.ops.sessions import OUTCOMES as SESSION_OUTCOMES
from server.ops.sessions import session_key
from server.query.criteria import Criteria
from server.store.protocol import Store

FLAGS = ("spam", "auto_reply", "bounce", "auto_forward")
TOP = 10


@dataclass
class Dashboard:
    days: list[str]
    messages_per_day: dict[str, list[int]]  # source -> count per day
    bytes_per_day: dict[str, list[int]]
    outcomes: dict[str, dict[str, int]]  # source -> outcome -> total
    top_departments: dict[str, int]
    top_mailboxes: dict[str, int]
    flags: dict[str, int]
    gauges: dict[str, Any]
    health: list[dict[str, Any]]
    export_tasks: dict[str, int]
    reconcile: dict[str, Any] | None
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def window(now: datetime, days: int) -> list[str]:
    first = now.date() - timedelta(days=days - 1)
    return [(first + timedelta(days=n)).isoformat() for n in range(days)]


def build(store: Store, config: Config, *, now: datetime, days: int = 30, pop3_last: Any = None) -> Dashboard:
    day_names = window(now, days)
    series = {what: {source: [store.get_counter(c.day_key(day, source, what)) for day in day_names]
                     for source in c.SOURCES} for what in ("messages", "bytes")}  # fmt: skip
    start = datetime.combine(datetime.fromisoformat(day_names[0]).date(), time.min, UTC)
    recent = Criteria(start=start, end=now)
    summary = archive_summary(store, config)
    checks = readiness(store, config).checks
    return Dashboard(
        days=day_names,
        messages_per_day=series["messages"],
        bytes_per_day=series["bytes"],
        outcomes={source: {o: store.get_counter(c.ingest_key(source, o)) for o in c.OUTCOMES} for source in c.SOURCES},
        top_departments=store.aggregate(recent, "department", size=TOP).buckets,
        top_mailboxes=store.aggregate(recent, "mailbox", size=TOP).buckets,
        flags={flag: store.get_counter(c.flag_key(flag)) for flag in FLAGS},
        gauges={
            "archived_messages": summary.archived_messages,
            "storage_bytes": summary.storage_bytes,
            "archiving_enabled": is_enabled(store),
            "parse_errors": store.get_counter(c.PARSE_ERRORS),
            "spool_depth": spool_files(config.spool_dir, "new"),
            "spool_held": spool_files(config.spool_dir, "hold"),
            "queue_depth": queue_depth(config),
            "integrity_failures": summary.integrity_failures,
            "export_bytes": store.get_counter(c.EXPORT_BYTES),
            "last_received_at": last_received(store),
            "last_journaled_at": summary.last_journaled_at,
            "pop3_last_session": pop3_last,
            # the same durable counters /metrics reads: every node's receivers add to them
            "sessions": {service: {o: store.get_counter(session_key(service, o)) for o in outcomes}
                         for service, outcomes in SESSION_OUTCOMES.items()},
        },
        health=[asdict(check) for check in checks],
        export_tasks=export_task_counts(store),
        reconcile=store.get_setting(c.RECONCILE_LAST),
    )
