"""The on-disk spool between the SMTP journal receiver and the store.

The receiver may answer ``250`` only when the message can no longer be lost (DESIGN.md §1). Storing
synchronously would tie the SMTP reply latency to parsing and indexing; instead each message is
written to ``tmp/``, fsynced, renamed into ``new/`` and the directory fsynced — from then on a crash
(even SIGKILL or power loss) cannot lose it. The directory fsync is a group commit (``DirectorySync``):
with several connections delivering at once, one fsync of ``new/`` covers every rename that finished
before it began, and each writer still returns only once a fsync covering its own rename is done. The drainer (``SpoolDrainer``) hands the spooled files
to the ingestion pipeline in batches and deletes a file only after the store holds it durably; it runs
in a process of its own (``DrainerProcess``), so parsing and indexing never take the receiver's GIL or
delay a ``250``. After a crash, whatever is still in ``new/`` is simply ingested again: the store's
``put_messages`` is idempotent by message id, so a message replayed after it was stored is not
archived twice. (A message counted as "not stored, archiving disabled" may be counted again.)

File format (one file per message): the line ``MAILARCHIVE-SPOOL 1``, one line of JSON with the
envelope, then the raw message bytes exactly as received. ``hold/`` keeps files that failed to ingest
repeatedly, so one poisonous message never blocks the queue and is never dropped.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from server.model import format_time, now_utc
from server.private_files import private_dir

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


def _write_all(fd: int, pieces: list[bytes | bytearray]) -> None:
    """One ``writev`` for the usual case (a regular file takes it all); the rest written if it did not."""
    written = os.writev(fd, pieces)
    rest = b"".join(pieces)[written:] if written < sum(len(p) for p in pieces) else b""
    while rest:
        rest = rest[os.write(fd, rest) :]


class DirectorySync:
    """Group commit of a directory's entries: ``sync()`` returns once a fsync of the directory that
    began after the caller's rename has finished.

    Why: every spooled message needs its directory entry durable before its ``250``, and with ten
    connections writing at once ten back-to-back fsyncs of the same directory mostly redo each
    other's work while holding its lock. Here one caller (the leader) fsyncs for everyone who
    arrived before it started; those who arrive meanwhile wait and the next leader covers them.
    A failed fsync raises in the leader; each waiter it would have covered then fsyncs itself.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._changed = threading.Condition()
        self._requested = 0  # tickets handed out: one per caller, taken after its rename
        self._covered = 0  # every ticket up to this one is durable
        self._running = False
        self.fsyncs = 0

    def sync(self) -> None:
        with self._changed:
            self._requested += 1
            ticket = self._requested
            while self._running and self._covered < ticket:
                self._changed.wait()
            if self._covered >= ticket:
                return
            self._running = True
            covers = self._requested  # renames of all these tickets finished before this fsync starts
        try:
            self._fsync()
        except BaseException:
            self._finish(None)
            raise
        self._finish(covers)

    def _fsync(self) -> None:
        _fsync_dir(self.path)

    def _finish(self, covers: int | None) -> None:
        """The leader is done: hand the lead on, and wake those it covered (none when it failed)."""
        with self._changed:
            self._running = False
            if covers is not None:
                self._covered = max(self._covered, covers)
                self.fsyncs += 1
            self._changed.notify_all()


class Spool:
    """A directory of durably written messages waiting to be stored. Thread-safe."""

    def __init__(self, root: Path, *, recover: bool = True) -> None:
        """``recover``: drop what a crashed writer left in ``tmp/`` — only the writer may do this, at its start."""
        self.root = root
        self.tmp, self.new, self.hold_dir = root / "tmp", root / "new", root / "hold"
        for path in (root, self.tmp, self.new, self.hold_dir):
            private_dir(path)
        # Files left in tmp/ were never acknowledged (the crash came before the rename): drop them.
        for leftover in self.tmp.iterdir() if recover else ():
            leftover.unlink(missing_ok=True)
        self._seq = itertools.count()
        self._new_entries = DirectorySync(self.new)

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
            _write_all(fd, [MAGIC, json.dumps(header).encode("ascii") + b"\n", raw])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp_path, self.new / name)
        self._new_entries.sync()
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


class Signal(Protocol):
    """``threading.Event`` or ``multiprocessing.Event``: the drainer may run in a thread or a process."""

    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class SpoolDrainer:
    """Spool → pipeline in batches; a file is deleted only once the store holds it durably.

    ``run`` loops until ``stopping`` is set; ``wake`` is set by the receiver after each ``put`` so
    a new message is picked up at once (the drainer also looks every ``idle_wait`` seconds).
    """

    def __init__(
        self,
        spool: Spool,
        ingest_batch: IngestBatch,
        *,
        wake: Signal | None = None,
        stopping: Signal | None = None,
        batch_size: int = 200,
        max_attempts: int = 5,
        idle_wait: float = 1.0,
    ) -> None:
        self.spool = spool
        self.ingest_batch = ingest_batch
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.idle_wait = idle_wait
        self.stats = DrainStats()
        self._attempts: dict[str, int] = {}
        self._wake = wake or threading.Event()
        self._stopping = stopping or threading.Event()
        self._backoff = 0.0

    def notify(self) -> None:
        """A new file is in the spool."""
        self._wake.set()

    def request_stop(self) -> None:
        """Finish the batch in hand and return from ``run``; the rest stays spooled for the next start."""
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        self._loop()

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
        except Exception:  # the store is down or refusing: not the messages' fault, so none is held back
            self._backoff = min(max(self._backoff * 2, 0.5), 30.0)
            self.stats.failed_attempts += len(messages)
            log.exception("ingesting %d spooled messages failed; they stay in the spool, next try in %.1f s",
                          len(messages), self._backoff)
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


class DrainerProcess:
    """A ``SpoolDrainer`` in a separate, lower-priority process (``python -c`` + pickled arguments).

    ``make_sink`` (picklable, called in the child) builds the ingest callable; its ``close()``, if
    any, runs when the drainer exits. The child's stdin is the only link: a byte wakes it up, end of
    file stops it — so it also stops by itself when the receiver dies, even by SIGKILL. Killing it at
    any moment is safe, as files are deleted only after the store has them. (Not ``multiprocessing``:
    its spawn start method re-runs the parent's ``__main__``, and fork is unsafe in a threaded server.)
    """

    RESTART_AFTER = 10.0  # seconds between restarts of a drainer that died

    def __init__(self, spool_root: Path, make_sink: Callable[[], IngestBatch], *, niceness: int = 10) -> None:
        self.args = (spool_root, make_sink, niceness)
        self.process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._started_at = 0.0
        self._stopped = False

    def start(self) -> None:
        self._started_at = time.monotonic()
        payload = pickle.dumps(self.args)
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from server.indexing.spool import drainer_main; drainer_main()"],
            stdin=subprocess.PIPE,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(len(payload).to_bytes(8, "big") + payload)
        self.process.stdin.flush()
        os.set_blocking(self.process.stdin.fileno(), False)

    def notify(self) -> None:
        self._restart_if_dead()
        # Full pipe: a wake-up is pending already; closed: the drainer is gone (it polls the spool anyway).
        with contextlib.suppress(OSError, AttributeError, ValueError):
            os.write(self.process.stdin.fileno(), b"w")  # type: ignore[union-attr]

    def _restart_if_dead(self) -> None:
        """A drainer that died (killed, out of memory...) is started again; the spool waits meanwhile."""
        if self.process is None or self.process.poll() is None or self._stopped:
            return
        with self._lock:
            if self.process.poll() is not None and time.monotonic() - self._started_at > self.RESTART_AFTER:
                log.error("spool drainer exited with %s; starting it again", self.process.returncode)
                self.process.stdin.close()  # type: ignore[union-attr]
                self.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopped = True
        if self.process is None:
            return
        with self._lock:
            self.process.stdin.close()  # type: ignore[union-attr]
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(5)


def drainer_main() -> None:
    """Entry point of the drainer process (see ``DrainerProcess``)."""
    stdin = sys.stdin.buffer
    spool_root, make_sink, niceness = pickle.loads(stdin.read(int.from_bytes(stdin.read(8), "big")))
    os.nice(niceness)  # a burst of journal mail goes to the spool first; storing it may lag behind
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole group: the receiver stops us
    logging.basicConfig(level=logging.INFO, format="spool-drainer: %(levelname)s %(message)s")
    wake, stopping = threading.Event(), threading.Event()
    threading.Thread(target=_listen, args=(stdin, wake, stopping), daemon=True).start()
    sink = make_sink()
    try:
        SpoolDrainer(Spool(spool_root, recover=False), sink, wake=wake, stopping=stopping, idle_wait=0.2).run()
    finally:
        close = getattr(sink, "close", None)
        if close is not None:
            close()


def _listen(stdin: BinaryIO, wake: threading.Event, stopping: threading.Event) -> None:
    while stdin.read1(4096):
        wake.set()
    stopping.set()  # end of file: the receiver asked us to stop, or died
    wake.set()
