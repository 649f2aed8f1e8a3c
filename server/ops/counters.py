"""Durable operational counters, written where things happen and read by ``/metrics`` at scrape time.

Why durable store counters and not prometheus-client's multiprocess mode: the processes that do
the work (the spool drainer, the RQ worker, ``mailarchive import``, the web app) run apart, may run
on different hosts against one Elasticsearch cluster, and are restarted independently. The
multiprocess mode needs one shared, per-host directory that must be wiped on every restart and
loses a dead process's gauges; ``Store.incr_counter`` is atomic across processes and hosts and
survives restarts, so a counter never goes backwards (Prometheus' ``rate()`` assumes that). The
writes are per batch, not per message: one ``incr_counters`` write per batch for all its counters.

Key names are fixed here (the store has no "list counters"); ``server.ops.metrics`` reads them all.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from server.logs import logger
from server.store.protocol import StoreError
from server.tuples import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from server.store.protocol import Store

log = logger(__name__)

SOURCES = ("smtp", "import")
# The pipeline's outcome statuses (server.indexing.pipeline.IngestOutcome.status).
OUTCOMES = ("archived", "merged", "duplicate", "skipped_monitoring", "skipped_disabled", "failed")
PARSE_ERRORS = "ops.parse_errors"  # messages archived with at least one parse_errors note
SPOOL_HELD = "ops.spool_held_total"  # spool files moved to hold/ after repeated failures
EXPORT_BYTES = "ops.export_bytes"
LAST_JOURNALED = "ops.last_journaled_at"  # setting: when the newest journaled message was stored (ISO UTC)
RECONCILE_LAST = "ops.reconcile"  # setting: the last reconcile report (server.ops.reconcile)

# Store latency histogram: upper bounds in seconds; a call increments one bucket, the count and
# the sum (microseconds). Cumulative buckets are summed at scrape time.
LATENCY_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LATENCY_OPS = ("put_messages", "search")


def ingest_key(source: str, outcome: str) -> str:
    return f"ops.ingest.{source}.{outcome}"


def latency_key(op: str, part: str) -> str:
    """``part``: a bucket bound (``"0.05"``, ``"inf"``), ``"count"`` or ``"sum_us"``."""
    return f"ops.latency.{op}.{part}"


def bucket_of(seconds: float) -> str:
    return next((str(b) for b in LATENCY_BOUNDS if seconds <= b), "inf")


class Counted(NamedTuple):
    """One message's outcome as the counters see it."""

    source: str
    status: str
    parse_errors: bool = False
    size: int = 0
    flags: tuple[str, ...] = ()


def day_key(day: str, source: str, what: str) -> str:
    """Messages or bytes archived on one UTC day (``YYYY-MM-DD``) from one source: the dashboard's
    per-day charts (by arrival, which the store's own aggregations by Date cannot give)."""
    return f"ops.day.{day}.{source}.{what}"


def flag_key(flag: str) -> str:
    return f"ops.flag.{flag}"


def count_outcomes(store: Store, counted: Iterable[Counted], day: str) -> None:
    """Add one batch's outcomes to the counters: one write per counter touched, not per message.

    Called after the batch is durable: a counter that cannot be written is logged, never turned
    into a failed batch (the spool would replay mail that is already stored)."""
    by_kind: Counter[str] = Counter()
    for c in counted:
        source = c.source if c.source in SOURCES else "import"
        by_kind[ingest_key(source, c.status)] += 1
        if c.status == "archived":
            by_kind[day_key(day, source, "messages")] += 1
            by_kind[day_key(day, source, "bytes")] += c.size
            for flag in c.flags:
                by_kind[flag_key(flag)] += 1
        if c.parse_errors and c.status in ("archived", "merged"):
            by_kind[PARSE_ERRORS] += 1
    try:
        store.incr_counters(dict(sorted(by_kind.items())))
    except StoreError as exc:
        log.warning("ingest counters not updated: %s", exc)


def note_journaled(store: Store, when: str) -> None:
    """Remember when journal mail was last stored (summary page, dashboard): one write per batch."""
    try:
        store.set_setting(LAST_JOURNALED, when)
    except StoreError as exc:
        log.warning("last journaled time not saved: %s", exc)


def count_export_bytes(store: Store, size: int) -> None:
    """A finished Export All file's size (best effort, after the task is already published)."""
    try:
        store.incr_counter(EXPORT_BYTES, size)
    except StoreError as exc:
        log.warning("export bytes not counted: %s", exc)


# Latency writes collected in this context instead of written at once (``DeferredLatency``).
_DEFERRED: ContextVar[list[tuple[Store, dict[str, int]]] | None] = ContextVar("deferred_latency", default=None)


def record_latency(store: Store, op: str, seconds: float) -> None:
    amounts = {latency_key(op, bucket_of(seconds)): 1, latency_key(op, "count"): 1,
               latency_key(op, "sum_us"): int(seconds * 1_000_000)}  # fmt: skip
    pending = _DEFERRED.get()
    if pending is None:
        store.incr_counters(amounts)
    else:
        pending.append((store, amounts))


class DeferredLatency:
    """Collects this context's latency writes from its creation until ``stop``; ``write`` writes them.

    The web app makes one per request and writes once the response has been sent: the histogram
    is best effort and read at scrape time, so its write need not be part of the request's
    latency — on Elasticsearch it is two round trips (a read and a conditional write, fsync'd) on
    every search. ``stop`` at the end of the request matters: a thread's context outlives the
    request (the same thread runs other work), and a write recorded after it must go out at once,
    not into a list nobody writes. Without one (the command line, the workers) each timed call
    writes its own increments, as before."""

    def __init__(self) -> None:
        self.pending: list[tuple[Store, dict[str, int]]] = []
        _DEFERRED.set(self.pending)

    def stop(self) -> None:
        if _DEFERRED.get() is self.pending:
            _DEFERRED.set(None)

    def write(self) -> None:
        by_store: dict[int, tuple[Store, Counter[str]]] = {}
        for store, amounts in self.pending:
            by_store.setdefault(id(store), (store, Counter()))[1].update(amounts)
        self.pending.clear()
        for store, amounts in by_store.values():
            try:
                store.incr_counters(dict(amounts))
            except StoreError as exc:
                log.warning("store latency not recorded: %s", exc)


@contextmanager
def timed(store: Store, op: str) -> Iterator[None]:
    """Time a store call into the durable histogram; a failing counter write never fails the call."""
    started = time.monotonic()
    try:
        yield
    finally:
        try:
            record_latency(store, op, time.monotonic() - started)
        except StoreError as exc:  # metrics are best effort; the call's own outcome stands
            log.warning("store latency of %s not recorded: %s", op, exc)
