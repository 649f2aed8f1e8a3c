"""Operations use cases: readiness, the Prometheus scrape, the ops dashboard and reconcile.

Readiness and scrapes are not audited: a load balancer polls every few seconds and Prometheus
every 15, which would bury the audit trail in entries that reveal no archived mail (counts only).
Reconcile is audited like any operation that may change the store.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from server.ops.health import Readiness, readiness
from server.services.actor import Actor
from server.services.errors import Forbidden
from server.users import Role

if TYPE_CHECKING:
    from server.services.context import Services

OPS_VIEWERS = (Role.ARCHIVE_ADMIN, Role.EMAIL_ADMIN)


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
