"""The RQ worker of ``mailarchive worker`` (and of ``mailarchive serve``, which starts one).

A plain RQ ``Worker`` (one forked work horse per job, so the memory of one export is returned to
the system when it ends) with the archive's maintenance added to RQ's own: about once a minute,
and at once when a work horse was killed, ``Exports.maintain`` re-queues dead runs, expires files
older than 30 days and removes leftovers; the first pass of each UTC day queues the retention
purge (``Retention.schedule``). The blocking wait for a job is shortened to match
(``worker_ttl``), since RQ only runs maintenance between jobs.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

from rq import Worker

from server.config import Config
from server.jobs.broker import QUEUE_NAME, Broker

log = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 60


class ArchiveWorker(Worker):
    def __init__(self, config: Config, broker: Broker, **kwargs: Any) -> None:
        super().__init__([QUEUE_NAME], connection=broker.connection(), maintenance_interval=MAINTENANCE_SECONDS,
                         worker_ttl=MAINTENANCE_SECONDS + 15, work_horse_killed_handler=self._horse_killed,
                         **kwargs)  # fmt: skip
        self.archive_config = config
        self.broker = broker

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        self.maintain()

    def maintain(self) -> None:
        """The archive's maintenance; a failure is logged and tried again next time, never fatal.

        SIGINT/SIGTERM wait until it is done: RQ's handler raises ``StopRequested`` wherever the
        worker is, and inside a compare-and-set or an audit append that would leave half a step."""
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self._maintain()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _maintain(self) -> None:
        try:
            from server.ops.jobs import schedule_reconcile
            from server.services.context import Services
            from server.services.exports import Exports

            with Services.open(self.archive_config) as svc:
                report = Exports(svc, self.broker).maintain()
                if schedule_reconcile(svc, self.broker.queue()):
                    report["reconcile enqueued"] = 1
                if purge_job := svc.retention.schedule(self.broker.queue()):  # the daily retention purge
                    report["queued " + purge_job] = 1
        except Exception:  # noqa: BLE001 - the worker must outlive a failing maintenance run
            log.exception("maintenance failed; trying again in %s s", MAINTENANCE_SECONDS)
            return
        if report:
            log.info("maintenance: %s", ", ".join(f"{k} {v}" for k, v in sorted(report.items())))

    def _horse_killed(self, job: Any, pid: int, status: int, rusage: Any) -> None:
        log.warning("work horse %s running %s was killed (status %s); recovering its task", pid, job.id, status)
        self.maintain()
