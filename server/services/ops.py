"""Operations use cases: readiness, the Prometheus scrape, the ops dashboard and reconcile.

Readiness and scrapes are not audited: a load balancer polls every few seconds and Prometheus
every 15, which would bury the audit trail in entries that reveal no archived mail (counts only).
Reconcile is audited like any operation that may change the store.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from server.audit.operations import Op
from server.model import format_time, now_utc, parse_time
from server.ops.counters import RECONCILE_LAST
from server.ops.health import Readiness, readiness
from server.ops.reconcile import Reconciler, ReconcileReport
from server.services.actor import Actor
from server.services.errors import Forbidden
from server.store.protocol import VersionConflict
from server.users import Role

if TYPE_CHECKING:
    from server.ops.dashboard import Dashboard
    from server.services.context import Services

OPS_VIEWERS = (Role.ARCHIVE_ADMIN, Role.EMAIL_ADMIN)
SCHEDULE_KIND, SCHEDULE_KEY = "ops", "reconcile_schedule"
DAILY = timedelta(days=1)


class Ops:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def readiness(self) -> Readiness:
        return readiness(self.svc.store, self.svc.config)

    def scrape_token_matches(self, token: str) -> bool:
        """The configured scrape token (``MAILARCHIVE_METRICS_TOKEN``), compared in constant time."""
        configured = self.svc.config.ops.metrics_token
        return bool(configured) and hmac.compare_digest(token.encode(), str(configured).encode())

    def metrics(self, actor: Actor | None) -> bytes:
        """The exposition; ``actor`` None means the caller presented the scrape token."""
        if actor is not None and not actor.may(*OPS_VIEWERS):
            raise Forbidden("metrics are for archive and email administrators (or the scrape token)")
        from server.ops.metrics import exposition  # prometheus_client only where scraped

        return exposition(self.svc.store, self.svc.config)

    # --- reconcile ---------------------------------------------------------------------------
    def reconcile(self, actor: Actor, *, repair: bool, progress: Callable[[str], None] | None = None
                  ) -> ReconcileReport:  # fmt: skip
        """Check the index against the raw store (and re-index what the bytes allow when ``repair``).

        Audited before it runs; the report is saved (``last_reconcile``) for the dashboard and
        ``/metrics``, so a daily run's findings are visible without reading logs."""
        with self.svc.audited(actor, Op.RECONCILE, "archive", details={"repair": repair}) as entry:
            if not actor.may(*OPS_VIEWERS):
                raise Forbidden("reconcile is for archive and email administrators")
            entry.done()
            report = Reconciler(self.svc.store, self.svc.config, progress=progress).run(repair=repair)
        self.svc.store.set_setting(RECONCILE_LAST, report.to_dict())
        return report

    def last_reconcile(self) -> dict[str, Any] | None:
        return self.svc.store.get_setting(RECONCILE_LAST)

    def reconcile_due(self, now: datetime, every: timedelta = DAILY) -> bool:
        """Claim the daily run (compare-and-set: of several workers, one enqueues it).

        The first worker of an archive only starts the clock: the first run comes a day later, not
        in the middle of an installation's first import."""
        found = self.svc.store.get_doc_versioned(SCHEDULE_KIND, SCHEDULE_KEY)
        doc, version = found if found else ({}, 0)
        last = doc.get("enqueued_at")
        if last and now - parse_time(last) < every:
            return False
        try:
            self.svc.store.put_doc(SCHEDULE_KIND, SCHEDULE_KEY, {"enqueued_at": format_time(now)}, if_version=version)
        except VersionConflict:
            return False
        return last is not None

    # --- the dashboard -------------------------------------------------------------------------
    def dashboard(self, actor: Actor, *, days: int = 30) -> Dashboard:
        """Counts only (like the summary), so not audited; archive and email administrators."""
        if not actor.may(*OPS_VIEWERS):
            raise Forbidden("the ops dashboard is for archive and email administrators")
        from server.ops.dashboard import build
        from server.services.pop3 import KIND as POP3_KIND
        from server.services.pop3 import LAST_SESSION_KEY

        return build(self.svc.store, self.svc.config, now=now_utc(), days=days,
                     pop3_last=self.svc.store.get_doc(POP3_KIND, LAST_SESSION_KEY))  # fmt: skip
