"""The ingestion pipeline: parse -> rules -> enrich -> dedupe -> store, for SMTP and for imports.

``Ingestor.ingest`` archives one message (the SMTP receiver calls it after spooling);
``ingest_many`` archives a stream in batches, one ``put_messages`` per batch, optionally parsing in
a process pool while this process writes the previous batch. A message is durable when its outcome
says archived, merged or duplicate; a store failure of the whole batch raises ``StoreError`` (nothing
of that batch is acknowledged), one bad document is a "failed" outcome.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.pool import AsyncResult, Pool
from typing import Any

from server.archiving import SKIPPED_DISABLED, archive_settings, is_enabled
from server.audit.ledger import LEDGER_FAILURES, Ledger, LedgerUnavailable
from server.config import Config
from server.indexing import dates
from server.indexing.enrich import Enricher
from server.indexing.parse import ParsedMail, attachment_names, parse
from server.indexing.rules import is_monitoring_copy
from server.model import Message, format_time, now_utc
from server.ops.counters import Counted, count_outcomes, note_journaled, timed
from server.store.protocol import Store

# Messages per put_messages: each commit rewrites the index pages its batch touched, so larger
# batches write less (2,000 bench messages: 2.64x the database size written with 200, 2.23x with
# 500) for ~15 MB more memory. Two batches are in memory at once (one parsing, one storing).
BATCH_SIZE = 500
BATCH_BYTES = 32 * 1024 * 1024
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
        """Outcomes in input order. With ``pool``, batch N+1 is parsed while batch N is written,
        and the pool also does the store's ``offline_prepare`` (compressing, tokenizing), so this
        process, the one that cannot be parallelised, only enriches and writes."""
        batches = _batches(items, batch_size, BATCH_BYTES)
        if pool is None:
            for batch in batches:
                yield from self.store_batch([(item, parse(item.raw)) for item in batch])
            return
        work = functools.partial(parse_and_prepare, self.store.offline_prepare)
        pending: deque = deque()
        for batch in batches:
            pending.append((batch, pool.map_async(work, [item.raw for item in batch], chunksize=8)))
            if len(pending) > 1:
                yield from self._store_parsed(*pending.popleft())
        while pending:
            yield from self._store_parsed(*pending.popleft())

    def _store_parsed(self, batch: list[RawItem], result: AsyncResult) -> list[IngestOutcome]:
        parsed = result.get()
        return self.store_batch(list(zip(batch, [mail for mail, _ in parsed], strict=True)),
                                prepared=[pre for _, pre in parsed])  # fmt: skip

    def store_batch(self, pairs: Sequence[tuple[RawItem, ParsedMail]],
                    prepared: Sequence[Any] | None = None) -> list[IngestOutcome]:
        """Apply the rules to parsed messages and write the archivable ones in one ``put_messages``
        (copies of one message in the batch included: the store merges them in order).
        ``prepared``: the store's ``offline_prepare`` result per pair, from the parser pool."""
        settings = archive_settings(self.store, self.config)
        enabled = is_enabled(self.store) if any(item.source == "smtp" for item, _ in pairs) else True
        outcomes: list[IngestOutcome | None] = [None] * len(pairs)
        todo: list[int] = []
        for n, (item, mail) in enumerate(pairs):
            if item.source == "smtp" and not enabled:
                outcomes[n] = IngestOutcome("skipped_disabled", None, parse_errors=mail.parse_errors)
            elif is_monitoring_copy(mail, item.envelope_to, settings, journaled=item.source == "smtp"):
                outcomes[n] = IngestOutcome("skipped_monitoring", None, parse_errors=mail.parse_errors)
            else:
                todo.append(n)
        skipped = sum(o is not None and o.status == "skipped_disabled" for o in outcomes)
        if skipped:
            self.store.incr_counter(SKIPPED_DISABLED, skipped)
        enricher = Enricher(self.store, settings, [(pairs[n][1], pairs[n][0].envelope_to) for n in todo],
                            self.extra_mailboxes)
        arrival = now_utc()
        docs = [(n, enricher.message(pairs[n][1], arrival=arrival, received_at=received_at(*pairs[n], arrival),
                                     envelope_from=pairs[n][0].envelope_from, envelope_to=pairs[n][0].envelope_to))
                for n in todo]
        if docs:  # one store call for the batch: copies of one message in it are merged by the store
            with timed(self.store, "put_messages"):
                results = self.store.put_messages([(msg, pairs[n][0].raw) for n, msg in docs],
                                                  prepared=None if prepared is None else [prepared[n] for n, _ in docs])
            for (n, msg), result in zip(docs, results, strict=True):
                outcomes[n] = IngestOutcome(_STATUS[result.status], msg.id, result.error, msg.parse_errors)
            self._ledger_created([(msg, r.archive_seq) for (_, msg), r in zip(docs, results, strict=True)
                                  if r.status == "created"], pairs[docs[0][0]][0].source)  # fmt: skip
        done = [o for o in outcomes if o is not None]
        flags = {msg.id: tuple(msg.flags) for _, msg in docs}
        counted = [Counted(item.source, o.status, bool(o.parse_errors), len(item.raw), flags.get(o.id or "", ()))
                   for (item, _), o in zip(pairs, done, strict=True)]  # fmt: skip
        count_outcomes(self.store, counted, arrival.strftime("%Y-%m-%d"))
        if any(c.source == "smtp" and c.status in STORED for c in counted):
            note_journaled(self.store, format_time(arrival))
        return done

    def _ledger_created(self, created: list[tuple[Message, int]], source: str) -> None:
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


def parse_and_prepare(prepare: Callable[[bytes, str, str, str, Sequence[str]], Any] | None,
                      raw: bytes) -> tuple[ParsedMail, Any]:
    """What a parser process does for one message: parse, then the store's database-free share."""
    mail = parse(raw)
    if prepare is None:
        return mail, None
    return mail, prepare(raw, mail.sha256, mail.subject, mail.body_text, attachment_names(mail))


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
