"""The on-disk spool between the SMTP journal receiver and the store.

The receiver may answer ``250`` only when the message can no longer be lost (DESIGN.md §1). Storing
synchronously would tie the SMTP reply latency to parsing and indexing; instead each message is
written to ``tmp/``, fsynced, renamed into ``new/`` and the directory fsynced — from then on a crash
(even SIGKILL or power loss) cannot lose it. A background thread (``SpoolDrainer``) hands the
spooled files to the ingestion pipeline in batches and deletes a file only after the store holds it
durably. After a crash, whatever is still in ``new/`` is simply ingested again: the store's
``put_messages`` is idempotent by message id, so a message replayed after it was stored is not
archived twice.

File format (one file per message): the line ``MAILARCHIVE-SPOOL 1``, one line of JSON with the
envelope, then the raw message bytes exactly as received. ``hold/`` keeps files that failed to ingest
repeatedly, so one poisonous message never blocks the queue and is never dropped.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from server.model import format_time, now_utc

log = logging.getLogger(__name__)

MAGIC = b"MAILARCHIVE-SPOOL 1\n"


class SpoolError(RuntimeError):
    """A spool file is unreadable or truncated; the message names the file."""


@dataclass(frozen=True)
class SpooledMessage:
    name: str
    raw: bytes
    envelope_from: str | None
    envelope_to: tuple[str, ...]
    peer: str = ""
    received_at: str = ""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """A directory of durably written messages waiting to be stored. Thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp, self.new, self.hold_dir = root / "tmp", root / "new", root / "hold"
        for path in (self.tmp, self.new, self.hold_dir):
            path.mkdir(parents=True, exist_ok=True)
        # Files left in tmp/ were never acknowledged (the crash came before the rename): drop them.
        for leftover in self.tmp.iterdir():
            leftover.unlink(missing_ok=True)
        self._seq = itertools.count()

    def _next_name(self) -> str:
        # Time first so that a sorted listing is arrival order; pid + counter make it unique.
        return f"{time.time_ns():020d}.{os.getpid()}.{next(self._seq):08d}.msg"

    def put(
        self, raw: bytes | bytearray, envelope_from: str | None, envelope_to: Sequence[str], *, peer: str = ""
    ) -> str:
        """Write one message durably; when this returns the caller may acknowledge it."""
        name = self._next_name()
        header = {
            "from": envelope_from,
            "to": list(envelope_to),
            "size": len(raw),
            "peer": peer,
            "received_at": format_time(now_utc()),
        }
        tmp_path = self.tmp / name
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb", closefd=False) as fh:
                fh.write(MAGIC)
                fh.write(json.dumps(header).encode("ascii") + b"\n")
                fh.write(raw)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp_path, self.new / name)
        _fsync_dir(self.new)
        return name

    def pending(self) -> list[str]:
        """Names in ``new/``, oldest first."""
        return sorted(e.name for e in os.scandir(self.new) if e.name.endswith(".msg"))

    def load(self, name: str) -> SpooledMessage:
        data = (self.new / name).read_bytes()
        magic, _, rest = data.partition(b"\n")
        header_line, sep, raw = rest.partition(b"\n")
        try:
            if magic + b"\n" != MAGIC or not sep:
                raise ValueError("not a spool file")
            header = json.loads(header_line)
        except ValueError as exc:
            raise SpoolError(f"spool file {name}: {exc}") from None
        if len(raw) != header.get("size"):
            raise SpoolError(f"spool file {name}: {len(raw)} bytes, header says {header.get('size')}")
        return SpooledMessage(
            name=name,
            raw=raw,
            envelope_from=header.get("from"),
            envelope_to=tuple(header.get("to") or ()),
            peer=header.get("peer", ""),
            received_at=header.get("received_at", ""),
        )

    def remove(self, name: str) -> None:
        """Forget a stored message. Not fsynced: if the removal is lost, the replay is harmless."""
        (self.new / name).unlink(missing_ok=True)

    def hold(self, name: str) -> None:
        """Park a message that keeps failing; an operator moves it back to ``new/`` to retry."""
        os.replace(self.new / name, self.hold_dir / name)
        _fsync_dir(self.hold_dir)

    def held(self) -> list[str]:
        return sorted(e.name for e in os.scandir(self.hold_dir))


# What the drainer calls: one outcome per spooled message, in order. The status strings are those
# of ``server.indexing.pipeline.IngestOutcome``; only "failed" keeps a file in the spool.
IngestBatch = Callable[[list[SpooledMessage]], Iterable[object]]


@dataclass
class DrainStats:
    ingested: int = 0
    failed_attempts: int = 0
    held: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


class SpoolDrainer(threading.Thread):
    """Background thread: spool → pipeline in batches, delete only what the store holds durably."""

    def __init__(
        self,
        spool: Spool,
        ingest_batch: IngestBatch,
        *,
        batch_size: int = 200,
        max_attempts: int = 5,
        idle_wait: float = 1.0,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name="spool-drainer", daemon=True)
        self.spool = spool
        self.ingest_batch = ingest_batch
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.idle_wait = idle_wait
        self.on_exit = on_exit  # runs on this thread (closes a store opened here)
        self.stats = DrainStats()
        self._attempts: dict[str, int] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._backoff = 0.0

    def notify(self) -> None:
        """A new file is in the spool (called by the receiver after each ``put``)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand and exit; the rest stays spooled for the next start."""
        self._stopping.set()
        self._wake.set()
        self.join(timeout)

    def run(self) -> None:
        try:
            self._loop()
        finally:
            if self.on_exit is not None:
                self.on_exit()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            names = self.spool.pending()
            if not names:
                self._wake.wait(self.idle_wait)
                continue
            for start in range(0, len(names), self.batch_size):
                if self._stopping.is_set():
                    return
                self.drain(names[start : start + self.batch_size])
            if self._backoff:
                self._stopping.wait(self._backoff)

    def drain(self, names: Sequence[str]) -> None:
        """Ingest one batch of spool files; any error leaves the files where they are."""
        messages = []
        for name in names:
            try:
                messages.append(self.spool.load(name))
            except FileNotFoundError:
                continue  # already removed (another drainer finished it)
            except SpoolError as exc:
                log.error("%s; moved to %s", exc, self.spool.hold_dir)
                self._hold(name)
        if not messages:
            return
        try:
            outcomes = list(self.ingest_batch(messages))
        except Exception:
            log.exception("ingesting %d spooled messages failed; they stay in the spool", len(messages))
            self._failed([m.name for m in messages])
            return
        self._settle(messages, outcomes)

    def _settle(self, messages: list[SpooledMessage], outcomes: list[object]) -> None:
        failed = []
        for i, message in enumerate(messages):
            outcome = outcomes[i] if i < len(outcomes) else None  # a missing outcome counts as failed
            status = getattr(outcome, "status", "failed")
            if status == "failed":
                log.warning("spooled %s not stored: %s", message.name, getattr(outcome, "error", "no outcome"))
                failed.append(message.name)
                continue
            self.spool.remove(message.name)
            self._attempts.pop(message.name, None)
            self.stats.ingested += 1
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        if failed:
            self._failed(failed)
        else:
            self._backoff = 0.0

    def _failed(self, names: list[str]) -> None:
        self._backoff = min(max(self._backoff * 2, 0.5), 30.0)
        for name in names:
            self.stats.failed_attempts += 1
            self._attempts[name] = self._attempts.get(name, 0) + 1
            if self._attempts[name] >= self.max_attempts:
                log.error("spooled %s failed %d times; moved to %s", name, self.max_attempts, self.spool.hold_dir)
                self._hold(name)

    def _hold(self, name: str) -> None:
        try:
            self.spool.hold(name)
        except FileNotFoundError:
            return
        self._attempts.pop(name, None)
        self.stats.held += 1
