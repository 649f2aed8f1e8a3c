"""The arrival sequence (``archive_seq``) and its stable watermark on Elasticsearch.

Numbers come in blocks from one document, ``_sequence/archive`` in ``<prefix>-docs``: a writer
reads it (GETs are real-time) and writes it back with ``if_seq_no``/``if_primary_term``, so two
writers can never take the same block (the loser's write is a conflict and it reads again). No
scripts (osmem-server has none). One block per ``put_messages`` batch: two small requests per
batch, none per message.

The same document carries the *leases*: the blocks whose messages are being written. Allocation
and lease are one conditional write, so there is no moment at which a block is taken but not
leased. The writer removes its lease after its bulk request returned with ``refresh=true``
(its messages are searchable) or failed (the numbers are abandoned: harmless gaps). The stable
watermark is then

    min(lo of every live lease) - 1, or the highest number handed out when no lease is live,

so nothing at or below it can still appear: a POP3 client acknowledging up to the watermark
never skips a message whose write was in flight. A writer that crashes leaves its lease behind;
it stops counting after ``LEASE_SECONDS`` (the next allocation also drops it), so a crash holds
the watermark back for at most that long. The lease time must exceed the longest batch write
(bulk retries included, a few minutes at worst); expiry is judged by each reader's clock, so the
hosts' clocks must agree to well within it (NTP).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from server.store.elasticsearch.connection import ERRORS
from server.store.protocol import StoreError

LEASE_SECONDS = 900
MAX_RETRIES = 200
DOC_ID = "_sequence/archive"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lease:
    id: str
    lo: int
    hi: int  # inclusive; lo > hi for an empty block


def _live(leases: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    return [lease for lease in leases if lease["expires"] > now]


class ArchiveSequence:
    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es, self.index = es, index

    def _read(self) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
        """(highest number handed out, leases, write guard for a conditional update)."""
        try:
            found = self.es.get(index=self.index, id=DOC_ID)
        except NotFoundError:
            return 0, [], {"op_type": "create"}
        except ERRORS as exc:
            raise StoreError(f"reading the archive sequence from {self.index} failed: {exc}") from exc
        source = found["_source"]
        guard = {"if_seq_no": found["_seq_no"], "if_primary_term": found["_primary_term"]}
        return source.get("value", 0), source.get("body", {}).get("leases", []), guard

    def _write(self, value: int, leases: list[dict[str, Any]], guard: dict[str, Any]) -> bool:
        """Conditional write; False when another writer got there first."""
        document = {"kind": "_sequence", "key": "archive", "value": value, "body": {"leases": leases}}
        try:
            self.es.index(index=self.index, id=DOC_ID, document=document, **guard)
        except ConflictError:
            return False
        except ERRORS as exc:
            raise StoreError(f"writing the archive sequence to {self.index} failed: {exc}") from exc
        return True

    def allocate(self, count: int) -> Lease:
        """A leased block of ``count`` numbers (expired leases are dropped on the way)."""
        for _ in range(MAX_RETRIES):
            value, leases, guard = self._read()
            lease = Lease(uuid.uuid4().hex, value + 1, value + count)
            now = time.time()
            entry = {"id": lease.id, "lo": lease.lo, "hi": lease.hi, "expires": now + LEASE_SECONDS}
            if self._write(value + count, [*_live(leases, now), entry], guard):
                return lease
        raise StoreError("archive sequence: too many concurrent writers")

    def release(self, lease: Lease) -> None:
        """Drop the lease: its numbers are now either written (and searchable) or abandoned."""
        for _ in range(MAX_RETRIES):
            value, leases, guard = self._read()
            if not any(entry["id"] == lease.id for entry in leases):
                log.warning("archive sequence lease %d-%d had expired before its write finished; readers may "
                            "have passed those numbers", lease.lo, lease.hi)  # fmt: skip
                return
            now = time.time()
            if self._write(value, [e for e in _live(leases, now) if e["id"] != lease.id], guard):
                return
        raise StoreError("archive sequence: too many concurrent writers")

    def start_after(self, value: int) -> None:
        """Set the highest number handed out (a migration that numbered ``value`` messages)."""
        document = {"kind": "_sequence", "key": "archive", "value": value, "body": {"leases": []}}
        try:
            self.es.index(index=self.index, id=DOC_ID, document=document, refresh="wait_for")
        except ERRORS as exc:
            raise StoreError(f"writing the archive sequence to {self.index} failed: {exc}") from exc

    def watermark(self) -> int:
        value, leases, _ = self._read()
        live = _live(leases, time.time())
        return min(entry["lo"] for entry in live) - 1 if live else value
