"""``mailarchive import``: archive .eml files, mbox files and Maildir folders from disk.

Parsing runs in a process pool (one worker per core) while this process reads files and writes
batches to the store, so both cores work. Idempotent and resumable by construction: every message
is keyed by its dedupe id and each batch is written in one durable ``put_messages``, so a re-run
after a kill archives what was missing and reports the rest as duplicates — no journal of progress
is needed, and nothing half-written can exist.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import TextIO

from server.config import Config
from server.indexing.checkpoints import FileTracker
from server.indexing.mailreaders import Source, discover, read_messages
from server.indexing.pipeline import Ingestor, IngestOutcome, RawItem, start_worker
from server.store.protocol import Store

log = logging.getLogger(__name__)
_COUNTED = {"archived": "archived", "merged": "merged", "duplicate": "duplicates",
            "skipped_monitoring": "skipped_by_rule", "skipped_disabled": "skipped_by_rule", "failed": "failed"}


@dataclass
class ImportSummary:
    """Counts of one import run. ``malformed`` overlaps the others: archived messages with parse errors."""

    files: int = 0
    skipped_files: int = 0  # files under the given directories that are not mail (README, manifest...)
    read: int = 0
    bytes: int = 0
    archived: int = 0  # new in the archive
    merged: int = 0  # already archived; this copy added mailboxes or recipients
    duplicates: int = 0  # already archived, nothing new
    skipped_by_rule: int = 0  # monitoring copies
    malformed: int = 0
    failed: int = 0
    unreadable_files: int = 0  # vanished or became unreadable during the import (exit code 1)
    already_imported_files: int = 0  # mbox files stored completely by an earlier run: not read again
    already_imported_messages: int = 0
    seconds: float = 0.0

    def count(self, outcome: IngestOutcome) -> None:
        field = _COUNTED[outcome.status]
        setattr(self, field, getattr(self, field) + 1)
        self.malformed += bool(outcome.parse_errors)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["messages_per_second"] = round(self.read / self.seconds, 1) if self.seconds else 0.0
        return data


class Progress:
    """One self-rewriting status line on a terminal: messages, MB, rate, ETA (by bytes). Silent otherwise."""

    def __init__(self, stream: TextIO | None, total_bytes: int) -> None:
        self.stream = stream if stream is not None and stream.isatty() else None
        self.total = max(total_bytes, 1)
        self.started = time.monotonic()
        self.shown = 0.0

    def update(self, summary: ImportSummary, *, final: bool = False) -> None:
        now = time.monotonic()
        if self.stream is None or (not final and now - self.shown < 0.2):
            return
        self.shown = now
        elapsed = max(now - self.started, 1e-6)
        rate = summary.read / elapsed
        left = (self.total - summary.bytes) / (summary.bytes / elapsed) if summary.bytes else 0
        eta = "done" if final else f"ETA {int(left) // 60}:{int(left) % 60:02d}"
        self.stream.write(
            f"\r  {summary.read:,} messages  {summary.bytes / 1e6:,.1f}/{self.total / 1e6:,.1f} MB"
            f"  {rate:,.0f} msg/s  {eta}   " + ("\n" if final else "")
        )
        self.stream.flush()


def run_import(paths: Sequence[str], store: Store, config: Config, *, mailbox: str | None = None,
               workers: int | None = None, progress: TextIO | None = None) -> ImportSummary:
    """Import everything under ``paths``; raises ImportPathError (before writing anything) for a bad path."""
    sources, skipped = discover(paths)
    summary = ImportSummary(files=len(sources), skipped_files=skipped)
    tracker = FileTracker(store, sources, mailbox)
    bar = Progress(progress, sum(s.size for s in sources))
    ingestor = Ingestor(store, config, extra_mailboxes=[mailbox] if mailbox else ())
    workers = workers if workers is not None else (os.cpu_count() or 1)
    started = time.monotonic()
    with store.bulk_import(), _pool(workers, store) as pool:
        for outcome in ingestor.ingest_many(_items(sources, summary, tracker, bar), pool=pool):
            summary.count(outcome)
            tracker.outcome(outcome)
            bar.update(summary)
    summary.seconds = time.monotonic() - started
    bar.update(summary, final=True)
    return summary


def _pool(workers: int, store: Store):  # noqa: ANN202 - a Pool or nullcontext(None)
    """The parser processes, each with its own handle on ``store`` (``start_worker``)."""
    if workers < 2:
        return nullcontext(None)
    return multiprocessing.get_context("fork").Pool(workers, initializer=start_worker, initargs=(store,))


def _items(sources: list[Source], summary: ImportSummary, tracker: FileTracker, bar: Progress) -> Iterator[RawItem]:
    for index, source in enumerate(sources):
        earlier = tracker.completed_before(index)
        if earlier is not None:
            summary.already_imported_files += 1
            summary.already_imported_messages += earlier
            bar.total -= source.size
            continue
        count = 0
        try:
            for count, (raw, delivered) in enumerate(read_messages(source), start=1):
                summary.read += 1
                summary.bytes += len(raw)
                origin = f"{source.path}#{count}" if source.kind == "mbox" else str(source.path)
                tracker.message_read(index)
                yield RawItem(raw, source="import", origin=origin, received_at=delivered)
        except OSError as exc:  # removed or made unreadable since discovery: report, go on with the rest
            summary.unreadable_files += 1
            log.warning("cannot read %s: %s", source.path, exc.strerror or exc)
            continue
        tracker.file_read(index, count)


def print_summary(summary: ImportSummary, stream: TextIO | None = None) -> None:
    """Write the import's one-paragraph summary (to ``sys.stdout`` as it is at call time, not import time)."""
    data = summary.to_dict()
    (stream or sys.stdout).write(
        f"read {data['read']:,} messages ({data['bytes'] / 1e6:,.1f} MB from {data['files']:,} files) "
        f"in {data['seconds']:.1f} s, {data['messages_per_second']:,.0f} msg/s\n"
        f"  archived {data['archived']:,}, merged into existing {data['merged']:,}, duplicates {data['duplicates']:,}, "
        f"skipped by rule {data['skipped_by_rule']:,}, malformed (archived with parse errors) {data['malformed']:,}, "
        f"failed {data['failed']:,}; files skipped as not mail {data['skipped_files']:,}"
        + (f", unreadable {data['unreadable_files']:,}" if data["unreadable_files"] else "")
        + (f"; {data['already_imported_files']:,} mbox files ({data['already_imported_messages']:,} messages)"
           " already imported earlier, not read again" if data["already_imported_files"] else "") + "\n"
    )
