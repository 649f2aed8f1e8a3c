"""SMTP and POP3 session counts for ``/metrics``: kept in memory briefly, then added to the store's
durable counters, which every web node reads at scrape time like the ingest counters.

The receivers run in their own processes (``serve`` on each node) and sessions can be many (an MTA
opening one connection per journal message), so a store write per session would put a durable
commit (an fsync on SQLite) in the way of every connection. ``SessionCounter`` adds in memory and
writes the sums every ``FLUSH_SECONDS`` from a background thread, and once more when the daemon
stops: a crash loses at most that many seconds of counts, never a message. A failed write keeps
the sums for the next try (metrics are best effort; the sessions themselves never wait on them).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable

from server.store.protocol import Store, StoreError

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
# How a session counted: the label values ``mailarchive_sessions_total`` shows for each service.
OUTCOMES = {
    "smtp": ("opened", "refused_client"),
    "pop3": ("logged_in", "login_failed", "no_login", "refused_busy"),
}
POP3_RETRIEVED_BYTES = "ops.pop3.retrieved_bytes"
POP3_RETRIEVED_MESSAGES = "ops.pop3.retrieved_messages"


def session_key(service: str, outcome: str) -> str:
    return f"ops.sessions.{service}.{outcome}"


class SessionCounter:
    def __init__(self, store: Callable[[], Store], *, close_store: bool = False, every: float = FLUSH_SECONDS) -> None:
        """``store``: returns the store to write to (opened on first use by the caller's choice);
        ``close_store``: the counter owns it and closes it when closed."""
        self._store_of = store
        self._store: Store | None = None
        self._close_store = close_store
        self.every = every
        self._pending: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def session(self, service: str, outcome: str) -> None:
        if outcome not in OUTCOMES[service]:
            raise ValueError(f"unknown {service} session outcome {outcome!r}")
        self.add(session_key(service, outcome))

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._pending[key] += n
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="session-counter", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return
        try:
            if self._store is None:
                self._store = self._store_of()
            for key, n in sorted(pending.items()):
                self._store.incr_counter(key, n)
                del pending[key]
        except StoreError as exc:
            log.warning("session counters not written (kept for the next try): %s", exc)
            with self._lock:
                self._pending.update(pending)

    def close(self) -> None:
        """Stop the thread and write what is left (the daemon is stopping)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self.every + 5)
        self.flush()
        if self._close_store and self._store is not None:
            self._store.close()
            self._store = None

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.flush()
