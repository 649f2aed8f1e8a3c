"""RQ job of the daily reconcile (enqueued by the worker's maintenance, see ``schedule_reconcile``)."""

from __future__ import annotations

import logging

from server.config import load_config
from server.model import now_utc
from server.services.actor import OPERATOR, Actor
from server.services.context import Services

log = logging.getLogger(__name__)
JOB_TIMEOUT = 24 * 3600  # a full walk of a large archive reads every blob once
SYSTEM = Actor("reconcile-daily", OPERATOR)  # the scheduler acts with the operator's rights


def run_reconcile(repair: bool = True) -> str:
    with Services.open(load_config()) as svc:
        report = svc.ops.reconcile(SYSTEM, repair=repair)
    summary = ", ".join(f"{k} {n}" for k, n in sorted(report.found.items())) or "no problems"
    return f"reconcile: {report.messages_checked} messages, {report.blobs_checked} blobs; {summary}"


def schedule_reconcile(svc: Services, queue) -> bool:  # noqa: ANN001 - an rq.Queue
    """Enqueue the daily run when it is due (one worker of many wins the claim)."""
    if not svc.ops.reconcile_due(now_utc()):
        return False
    queue.enqueue(run_reconcile, kwargs={"repair": True}, job_timeout=JOB_TIMEOUT)
    log.info("daily reconcile enqueued")
    return True
