"""The ingestion pipeline: parse -> rules -> enrich -> dedupe -> store, for SMTP and for imports.

``Ingestor.ingest`` archives one message (the SMTP receiver calls it after spooling);
``ingest_many`` archives a stream in batches, one store write per batch, optionally preparing in a
process pool (parse, rules, enrichment, the store's rows) while this process writes the previous batch. A message is durable when its outcome
says archived, merged or duplicate; a store failure of the whole batch raises ``StoreError`` (nothing
of that batch is acknowledged), one bad document is a "failed" outcome.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.pool import AsyncResult, Pool
from typing import Any, NamedTuple

from server.archiving import SKIPPED_DISABLED, ArchiveSettings, archive_settings, is_enabled
from server.audit.ledger import LEDGER_FAILURES, Leaf, Ledger, LedgerUnavailable, document_digest
from server.config import Config
from server.indexing import dates
from server.indexing.enrich import Enricher
from server.indexing.parse import ParsedMail, parse
from server.indexing.rules import is_monitoring_copy
from server.model import format_time, now_utc
from server.ops.counters import Counted, count_outcomes, note_journaled, timed
from server.store.common.prepared import prepare_or_failure, put_all
from server.store.protocol import Store

# Messages per put_messages: each commit rewrites the index pages its batch touched, so larger
# batches write less (2,000 bench messages: 2.64x the database size written with 200, 2.23x with
# 500) for ~15 MB more memory. Two batches are in memory at once (one parsing, one storing).
BATCH_SIZE = 500
BATCH_BYTES = 32 * 1024 * 1024
WORKER_CHUNK = 50  # messages per task of the parser pool: one directory read per chunk
STORED = frozenset({"archived", "merged", "duplicate"})  # durable outcomes (the mail is in the archive)
_STATUS = {"created": "archived", "merged": "merged", "unchanged": "duplicate", "failed": "failed"}


@dataclass
class IngestOutcome:
    status: str  # "archived" | "merged" | "duplicate" | "skipped_monitoring" | "skipped_disabled" | "failed"
    id: str | None
    error: str | None = None
    parse_errors: list[str] = field(default_factory=list)


@dataclass
class RawItem:
    raw: bytes
    envelope_from: str | None = None
    envelope_to: tuple[str, ...] = ()
    source: str = "import"  # "smtp" obeys the archiving switch, "import" archives regardless
    origin: str = ""  # file path / spool name, for messages and summaries
    # smtp: the arrival time the spool recorded (trusted); import: the delivery time the mailbox file
    # recorded (mbox From_ line, Maildir name), a fallback after the topmost Received header
    received_at: datetime | None = None


class BatchContext(NamedTuple):
    """What every message of a batch is prepared with, read once per batch by the writing process
    (settings and the switch as they are when the batch is handed out)."""

    settings: ArchiveSettings
    enabled: bool  # the archiving switch (it governs journal mail only)
    arrival: datetime  # archived_at of the batch's messages
    extra_mailboxes: tuple[str, ...]


class Ready(NamedTuple):
    """One message as the writer needs it: its store row, or the rule that skips it."""

    skipped: str | None  # "skipped_disabled" | "skipped_monitoring"; None: ``row`` is to be written
    id: str | None
    parse_errors: list[str]
    flags: tuple[str, ...] = ()
    row: Any = None  # the store's ``prepare_message`` row, or the "failed" PutResult of a refused message
    sha256: str = ""
    digest: str = ""  # the ingest ledger's document digest


class Ingestor:
    def __init__(self, store: Store, config: Config, *, extra_mailboxes: Sequence[str] = ()) -> None:
        """``extra_mailboxes``: mailboxes every message gets (``import --mailbox``: the import is that user's mail)."""
        self.store = store
        self.config = config
        self.extra_mailboxes = tuple(extra_mailboxes)
        self._ledger: Ledger | None = None

    def ingest(self, raw: bytes, *, envelope_from: str | None = None, envelope_to: Sequence[str] = (),
               source: str = "smtp") -> IngestOutcome:
        item = RawItem(raw, envelope_from, tuple(envelope_to), source)
        return self.store_batch([(item, parse(raw))])[0]

    def ingest_many(self, items: Iterable[RawItem], *, pool: Pool | None = None,
                    batch_size: int = BATCH_SIZE) -> Iterator[IngestOutcome]:
        """Outcomes in input order. With ``pool``, batch N+1 is prepared while batch N is written:
        the pool parses, applies the rules, enriches and makes the store's rows
        (``prepare_in_worker``), so this process, the one that cannot be parallelised, only
        writes them (``write_batch``)."""
        batches = _batches(items, batch_size, BATCH_BYTES)
        if pool is None:
            for batch in batches:
                yield from self.store_batch([(item, parse(item.raw)) for item in batch])
            return
        pending: deque = deque()
        for batch in batches:
            context = self.batch_context(batch)
            work = functools.partial(prepare_in_worker, context)
            chunks = [batch[i : i + WORKER_CHUNK] for i in range(0, len(batch), WORKER_CHUNK)]
            pending.append((batch, context, pool.map_async(work, chunks, chunksize=1)))
            if len(pending) > 1:
                yield from self._write_pending(*pending.popleft())
        while pending:
            yield from self._write_pending(*pending.popleft())

    def _write_pending(self, batch: list[RawItem], context: BatchContext, result: AsyncResult) -> list[IngestOutcome]:
        return self.write_batch(batch, context, [ready for chunk in result.get() for ready in chunk])

    def batch_context(self, items: Sequence[RawItem]) -> BatchContext:
        enabled = is_enabled(self.store) if any(item.source == "smtp" for item in items) else True
        return BatchContext(archive_settings(self.store, self.config), enabled, now_utc(), self.extra_mailboxes)

    def store_batch(self, pairs: Sequence[tuple[RawItem, ParsedMail]]) -> list[IngestOutcome]:
        """Apply the rules to parsed messages and write the archivable ones in one ``put_prepared``
        (copies of one message in the batch included: the store merges them in order)."""
        items = [item for item, _ in pairs]
        context = self.batch_context(items)
        return self.write_batch(items, context, prepare_batch(self.store, context, pairs))

    def write_batch(self, items: Sequence[RawItem], context: BatchContext, ready: Sequence[Ready]) -> list[IngestOutcome]:
        """Write a prepared batch: the store's rows, the ledger, the counters."""
        skipped = sum(r.skipped == "skipped_disabled" for r in ready)
        if skipped:
            self.store.incr_counter(SKIPPED_DISABLED, skipped)
        outcomes = [IngestOutcome(r.skipped, None, parse_errors=r.parse_errors) if r.skipped else None for r in ready]
        todo = [n for n, r in enumerate(ready) if not r.skipped]
        if todo:  # one store call for the batch: copies of one message in it are merged by the store
            with timed(self.store, "put_messages"):
                results = put_all(self.store, [ready[n].row for n in todo])
            for n, result in zip(todo, results, strict=True):
                outcomes[n] = IngestOutcome(_STATUS[result.status], ready[n].id, result.error, ready[n].parse_errors)
            self._ledger_created([Leaf(r.archive_seq, ready[n].id or "", ready[n].sha256, ready[n].digest)
                                  for n, r in zip(todo, results, strict=True) if r.status == "created"],
                                 items[todo[0]].source)  # fmt: skip
        done = [o for o in outcomes if o is not None]
        counted = [Counted(item.source, o.status, bool(o.parse_errors), len(item.raw), r.flags)
                   for item, o, r in zip(items, done, ready, strict=True)]  # fmt: skip
        count_outcomes(self.store, counted, context.arrival.strftime("%Y-%m-%d"))
        if any(c.source == "smtp" and c.status in STORED for c in counted):
            note_journaled(self.store, format_time(context.arrival))
        return done

    def _ledger_created(self, created: list[Leaf], source: str) -> None:
        """Enter the new messages in the hash chain (``server.audit.ledger``). They are durable
        already: if the entry cannot be written they stay archived (refusing now would make the
        sender's retry a duplicate that is never ledgered) and ``mailarchive verify`` reports them."""
        if not created:
            return
        if self._ledger is None:
            self._ledger = Ledger(self.store, self.config)
        try:
            self._ledger.record_ingested(created, source=source)
        except LedgerUnavailable:
            self.store.incr_counter(LEDGER_FAILURES)


def prepare_batch(store: Store, context: BatchContext, pairs: Sequence[tuple[RawItem, ParsedMail]]) -> list[Ready]:
    """Rules, enrichment (``store``: the directory, read once for the batch) and the store's rows:
    everything about a parsed batch that is not the write. Runs in the parser processes of an
    import (``prepare_in_worker``) and in the writing process for SMTP and one-off ingests."""
    ready: list[Ready | None] = [None] * len(pairs)
    todo: list[int] = []
    for n, (item, mail) in enumerate(pairs):
        if item.source == "smtp" and not context.enabled:
            ready[n] = Ready("skipped_disabled", None, mail.parse_errors)
        elif is_monitoring_copy(mail, item.envelope_to, context.settings, journaled=item.source == "smtp"):
            ready[n] = Ready("skipped_monitoring", None, mail.parse_errors)
        else:
            todo.append(n)
    enricher = Enricher(store, context.settings, [(pairs[n][1], pairs[n][0].envelope_to) for n in todo],
                        context.extra_mailboxes)  # fmt: skip
    arrival = context.arrival
    for n in todo:
        item, mail = pairs[n]
        msg = enricher.message(mail, arrival=arrival, received_at=received_at(item, mail, arrival),
                               envelope_from=item.envelope_from, envelope_to=item.envelope_to)  # fmt: skip
        row = prepare_or_failure(store.prepare_message, msg, item.raw, raw_sha256=mail.sha256)
        ready[n] = Ready(None, msg.id, msg.parse_errors, tuple(msg.flags), row, msg.sha256, document_digest(msg))
    return ready  # type: ignore[return-value]


_worker_store: Store | None = None  # a parser process's own handle on the store (start_worker)


def start_worker(store: Store) -> None:
    """The initializer of an import's (forked) parser processes: a handle of their own on the
    store, whose connection the parent process goes on using."""
    global _worker_store
    _worker_store = store.reopen()


def prepare_in_worker(context: BatchContext, items: Sequence[RawItem]) -> list[Ready]:
    """What a parser process does for a chunk of a batch: parse, then ``prepare_batch``."""
    if _worker_store is None:
        raise RuntimeError("prepare_in_worker runs in a pool started with start_worker")
    return prepare_batch(_worker_store, context, [(item, parse(item.raw)) for item in items])


def received_at(item: RawItem, mail: ParsedMail, now: datetime) -> datetime:
    """The archive-side arrival time (``dates``): the SMTP receiver's own clock for journaled mail,
    the newest Received header or the mailbox's delivery time for imports."""
    if item.source == "smtp":
        return item.received_at or now
    return dates.imported_received_at(mail.received_date, item.received_at, now)


def _batches(items: Iterable[RawItem], size: int, max_bytes: int) -> Iterator[list[RawItem]]:
    """At most ``size`` messages and about ``max_bytes`` per batch: memory stays bounded with huge mail."""
    batch: list[RawItem] = []
    total = 0
    for item in items:
        batch.append(item)
        total += len(item.raw)
        if len(batch) >= size or total >= max_bytes:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch
