"""The audit log writer: every archive operation goes through ``AuditLog.record``.

Fail closed: when an entry cannot be written durably, ``record`` raises ``AuditUnavailable`` and the
caller must fail the operation (not perform it, not return the content). An operation that
happened without its entry would be worse than one refused.

Several processes (web, SMTP, CLI, worker) append at once. Each entry takes ``seq`` = last + 1 and
chains to the last hash; the store refuses a seq that is not last + 1, so the loser of a race
re-reads the head and tries again. Within one process a lock avoids needless races.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from server.audit.anchors import AnchorFile
from server.audit.chain import GENESIS, entry_hash, plain_details
from server.audit.operations import Op, Result
from server.config import Config
from server.logs import logger
from server.model import now_utc
from server.store.protocol import AuditRecord

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from server.store.protocol import Store

log = logger(__name__)

ANCHOR_DIR_NAME = "audit-anchors"
MAX_RACES = 50  # re-tries after losing the seq to another writer
MAX_FAILURES = 3  # re-tries after the store failed outright
ANCHOR_SYNC_EVERY = 100  # fsync the anchor file at every N-th entry (see anchors.py)


class AuditUnavailable(RuntimeError):
    """The audit entry could not be written; the operation it describes must not happen."""


class AuditLog:
    def __init__(self, store: Store, anchor_dir: Path, *, anchor_every: int = 1) -> None:
        """``anchor_every``: write an anchor after every N-th entry (1: after each, the default;
        the newest entries since the last anchor are the ones whose deletion goes unnoticed)."""
        self.store = store
        self.anchors = AnchorFile(anchor_dir)
        self.anchor_every = max(1, int(anchor_every))
        self._lock = threading.Lock()
        self._head: tuple[int, str] | None = None  # (seq, hash) last written or read here

    @classmethod
    def for_config(cls, store: Store, config: Config) -> AuditLog:
        return cls(store, config.data_dir / ANCHOR_DIR_NAME, anchor_every=config.security.audit_anchor_every)

    def record(
        self,
        *,
        actor: str,
        role: str,
        operation: str | Op,
        target: str = "",
        details: dict | None = None,
        result: str = "success",
        source_ip: str = "",
    ) -> AuditRecord:
        """Append one entry durably and return it; raise ``AuditUnavailable`` if that is impossible."""
        try:
            content = plain_details(details)
        except (TypeError, ValueError) as exc:
            raise AuditUnavailable(f"audit details are not JSON: {exc}") from exc
        draft = AuditRecord(
            seq=0, time=now_utc(), actor=actor, role=str(role), source_ip=source_ip or "",
            operation=str(operation), target=target or "", details=content, result=str(result or Result.SUCCESS),
            prev_hash="", hash="",
        )  # fmt: skip
        with self._lock:
            written = self._append(draft)
        if written.seq % self.anchor_every == 0:
            self._anchor(written)
        return written

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest entry in the store; (0, GENESIS) when the log is empty."""
        last = self.store.audit_last()
        return (last.seq, last.hash) if last else (0, GENESIS)

    def anchor_now(self) -> tuple[int, str]:
        """Anchor the current head (``audit verify`` does after a clean check)."""
        seq, digest = self.head()
        if seq:
            self.anchors.append(seq, digest)
        return seq, digest

    def _append(self, draft: AuditRecord) -> AuditRecord:
        races = failures = 0
        last_error: Exception | None = None
        while True:
            try:
                seq, prev = self._head or self.head()
                draft.seq, draft.prev_hash = seq + 1, prev
                draft.hash = entry_hash(draft)
                self.store.audit_append(draft)
            except Exception as exc:  # any failure at all must refuse the operation, not escape it
                last_error = exc
                self._head = None
                if self._landed(draft):  # the write committed but its reply was lost: do not write it again
                    self._head = (draft.seq, draft.hash)
                    return draft
                if self._lost_race(draft.seq):
                    races += 1
                else:
                    failures += 1
                if races > MAX_RACES or failures > MAX_FAILURES:
                    log.error("audit entry not written (%s %s): %s", draft.operation, draft.target, exc)
                    raise AuditUnavailable(f"audit log unavailable: {last_error}") from last_error
                import random  # here: only a lost race waits, and random is ~2 ms of a command's start-up

                time.sleep(random.uniform(0, 0.005 * (races + failures)))
                continue
            self._head = (draft.seq, draft.hash)
            return draft

    def _landed(self, draft: AuditRecord) -> bool:
        """Whether the entry at ``draft.seq`` is this very draft: its hash covers the time (to the
        microsecond), the content and the previous hash, so it names the attempt like a client-chosen
        entry id. A store that committed the entry and then failed to say so (a timeout after the
        write, a lost connection, an interrupted commit) would otherwise see seq taken, take it for a
        lost race, and append the same entry a second time."""
        try:
            found = next(iter(self.store.audit_scan(from_seq=draft.seq)), None)
        except Exception:  # noqa: BLE001 - unknown: the retry then finds out through the seq check
            return False
        return found is not None and found.seq == draft.seq and found.hash == draft.hash

    def _lost_race(self, seq: int) -> bool:
        """Did another writer take ``seq`` (retry at once) rather than the store failing?"""
        try:
            return self.head()[0] >= seq
        except Exception:
            return False

    def _anchor(self, record: AuditRecord) -> None:
        """The entry is durable already; a failed anchor only narrows truncation detection."""
        try:
            self.anchors.append(record.seq, record.hash, sync=record.seq % ANCHOR_SYNC_EVERY == 0)
        except OSError as exc:
            log.error("audit anchor for seq %d not written to %s: %s", record.seq, self.anchors.path, exc)
