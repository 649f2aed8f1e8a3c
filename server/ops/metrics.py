"""``/metrics``: the Prometheus text exposition, built at scrape time from durable state.

Nothing here counts in memory: counters come from the store (``server.ops.counters``, written by
whichever process did the work), gauges are read when scraped (spool files, the RQ queue, export
task documents, the last reconcile report, readiness). So the drainer, the worker, an import run
and every web process report into the same numbers, and any web node answers a scrape with the
whole archive's figures. The custom collector is registered on a private ``CollectorRegistry`` per
scrape (no process-global default registry, so tests and several apps in one process never clash).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from server.archiving import INTEGRITY_FAILURES, SKIPPED_DISABLED, is_enabled
from server.audit.ledger import LEDGER_FAILURES
from server.config import Config
from server.export.taskcenter import KIND as EXPORT_KIND
from server.jobs.broker import QUEUE_NAME
from server.jobs.embedded_redis import EmbeddedRedis
from server.ops import counters as c
from server.ops.health import check_redis, readiness
from server.ops.sessions import OUTCOMES as SESSION_OUTCOMES
from server.ops.sessions import POP3_RETRIEVED_BYTES, POP3_RETRIEVED_MESSAGES, session_key
from server.store.protocol import Store

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def spool_files(spool_dir: Path, sub: str) -> int:
    """Files waiting in ``new/`` or kept in ``hold/`` (0 when the receiver never ran here)."""
    folder = spool_dir / sub
    try:
        return sum(1 for entry in folder.iterdir() if entry.is_file() and not entry.name.startswith("."))
    except FileNotFoundError:
        return 0


def export_task_counts(store: Store) -> dict[str, int]:
    counts: dict[str, int] = {}
    after = None
    while True:
        page = store.list_docs(EXPORT_KIND, after=after, limit=500)
        for _key, doc in page:
            status = str(doc.get("status", "unknown"))
            counts[status] = counts.get(status, 0) + 1
        if len(page) < 500:
            return counts
        after = page[-1][0]


def queue_depth(config: Config) -> int | None:
    """Jobs waiting in the RQ queue; None when Redis does not answer (``mailarchive_ready`` says why).

    Never starts the embedded Redis: a scrape must not change what it measures."""
    url = config.worker.redis_url or EmbeddedRedis(config.data_dir).url
    try:
        if not check_redis(config)[0]:
            return None
        with contextlib.closing(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)) as client:
            return int(client.llen(f"rq:queue:{QUEUE_NAME}"))
    except redis.RedisError as exc:  # a scrape reports what it can
        log.warning("queue depth not read: %s", exc)
        return None


class ArchiveCollector(Collector):
    def __init__(self, store: Store, config: Config) -> None:
        self.store, self.config = store, config

    def collect(self) -> Iterator[Metric]:
        store = self.store
        ingest = CounterMetricFamily("mailarchive_ingest_messages", "Messages through the ingestion pipeline",
                                     labels=["source", "outcome"])  # fmt: skip
        for source in c.SOURCES:
            for outcome in c.OUTCOMES:
                ingest.add_metric([source, outcome], store.get_counter(c.ingest_key(source, outcome)))
        yield ingest
        yield _counter("mailarchive_parse_errors", "Archived messages with parse error notes", store.get_counter(c.PARSE_ERRORS))
        yield _counter("mailarchive_journal_not_stored", "Journal mail acknowledged while archiving was disabled",
                       store.get_counter(SKIPPED_DISABLED))  # fmt: skip
        yield _counter("mailarchive_integrity_failures", "Reads refused: stored bytes did not match their SHA-256",
                       store.get_counter(INTEGRITY_FAILURES))  # fmt: skip
        yield _counter("mailarchive_ledger_failures", "Ingest batches archived without their ledger entry",
                       store.get_counter(LEDGER_FAILURES))  # fmt: skip
        yield _counter("mailarchive_export_bytes", "Bytes of finished Export All files", store.get_counter(c.EXPORT_BYTES))
        yield from self._sessions()
        yield from self._latency()
        yield _gauge("mailarchive_archived_messages", "Messages in the archive", store.count())
        yield _gauge("mailarchive_archiving_enabled", "1 when journal mail is archived", int(is_enabled(store)))
        yield _gauge("mailarchive_spool_depth", "Spool files waiting for the drainer",
                     spool_files(self.config.spool_dir, "new"))  # fmt: skip
        yield _gauge("mailarchive_spool_held", "Spool files held after repeated ingest failures",
                     spool_files(self.config.spool_dir, "hold"))  # fmt: skip
        depth = queue_depth(self.config)
        if depth is not None:
            yield _gauge("mailarchive_queue_depth", "Jobs waiting in the RQ queue", depth)
        tasks = GaugeMetricFamily("mailarchive_export_tasks", "Export All tasks by status", labels=["status"])
        for status, n in sorted(export_task_counts(store).items()):
            tasks.add_metric([status], n)
        yield tasks
        yield from self._reconcile()
        ready = GaugeMetricFamily("mailarchive_ready", "1 when a readiness check passes", labels=["check"])
        for check in readiness(store, self.config).checks:
            ready.add_metric([check.name], int(check.ok))
        yield ready

    def _sessions(self) -> Iterator[Metric]:
        """Counted by the receivers of every node (server.ops.sessions), a few seconds behind."""
        family = CounterMetricFamily("mailarchive_sessions", "SMTP and POP3 sessions by how they went",
                                     labels=["service", "outcome"])  # fmt: skip
        for service, outcomes in SESSION_OUTCOMES.items():
            for outcome in outcomes:
                family.add_metric([service, outcome], self.store.get_counter(session_key(service, outcome)))
        yield family
        yield _counter("mailarchive_pop3_retrieved_messages", "Messages sent by POP3 RETR",
                       self.store.get_counter(POP3_RETRIEVED_MESSAGES))  # fmt: skip
        yield _counter("mailarchive_pop3_retrieved_bytes", "Octets sent by POP3 RETR", self.store.get_counter(POP3_RETRIEVED_BYTES))

    def _latency(self) -> Iterator[Metric]:
        family = HistogramMetricFamily("mailarchive_store_latency_seconds", "Store call latency", labels=["op"])
        for op in c.LATENCY_OPS:
            running, buckets = 0, []
            for bound in (*c.LATENCY_BOUNDS, "inf"):
                running += self.store.get_counter(c.latency_key(op, str(bound)))
                buckets.append(("+Inf" if bound == "inf" else str(bound), running))
            family.add_metric([op], buckets, self.store.get_counter(c.latency_key(op, "sum_us")) / 1_000_000)
        yield family

    def _reconcile(self) -> Iterator[Metric]:
        report = self.store.get_setting(c.RECONCILE_LAST) or {}
        problems = GaugeMetricFamily("mailarchive_reconcile_problems",
                                     "Problems the last reconcile found, by kind (repaired or not)",
                                     labels=["kind", "state"])  # fmt: skip
        for kind, n in sorted((report.get("found") or {}).items()):
            problems.add_metric([kind, "found"], n)
        for kind, n in sorted((report.get("unrepaired") or {}).items()):
            problems.add_metric([kind, "unrepaired"], n)
        yield problems
        if report.get("finished_at_epoch"):
            yield _gauge("mailarchive_reconcile_last_run_timestamp_seconds", "When the last reconcile finished",
                         report["finished_at_epoch"])  # fmt: skip


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def exposition(store: Store, config: Config) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ArchiveCollector(store, config))
    return generate_latest(registry)
