"""One SQLite database file shared by every thread and process of the server.

Each thread gets its own connection (sqlite3 connections must not be shared between threads that
use them concurrently); several processes (web, SMTP receiver, worker, an import run) open the
same file at once. WAL lets readers proceed while one writer commits; writers queue on the
database lock for up to ``BUSY_TIMEOUT_MS``. Every write starts with ``BEGIN IMMEDIATE`` so a
transaction takes the write lock up front instead of failing when a read lock cannot be upgraded.

Durability: ``synchronous=FULL``. In WAL mode NORMAL only syncs the WAL at checkpoints, so a
committed batch could vanish on power loss; the ingestion pipeline acknowledges journal mail (SMTP
250) once ``put_messages`` returns, so a commit must be on disk by then. FULL costs one fsync per
commit, and commits are per batch (~500 messages), so the price is small.

``bulk_import`` (``mailarchive import`` only) switches this process's connection to NORMAL and
fsyncs the WAL once at the end: an import is idempotent, so what a crash loses is stored again by
the re-run, and WAL commits are ordered, so a crash never keeps a later commit (the file
checkpoint) without the earlier ones (its messages). Inside the block the importer's writes are
also grouped: one transaction spans many ``put_messages`` (each in a savepoint, so one failing
call still undoes only itself) and commits after ``GROUP_CHANGES`` changed rows (about 10,000
messages) or ``GROUP_SECONDS``, whichever comes first. Why: every commit writes each page it
dirtied to the WAL, and a batch's ~6,000 filter-key rows land on as many scattered leaves of
``message_keys`` (and its random SHA-256 and id inserts on as many index leaves), so with a
commit per 500-message batch the WAL got 2.4 pages for every page of the final file at 20 k, and
more as the archive grows. The price: the write lock is held up to ``GROUP_SECONDS`` at a time
(other writers wait, but a waiting writer makes the import commit after its next write and let it
through: write_turns.py; the SMTP receiver's 250 does not wait, it answers after its spool's fsync) and a
crash or a failed commit loses up to one group, which the re-run stores again. The filter keys of
the import's messages are staged and merged into ``message_keys`` in sorted runs, each in a
transaction of its own after a group's commit (staged_keys.py), and the WAL is checkpointed every
250,000 pages. The mmap window is closed for the import: it
only reads a few index pages per message, and mapped pages count in its RSS. The SMTP receiver's
connections keep FULL whatever an import in another process does (the setting is per connection).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.private_files import private_dir, private_file, restrict_existing
from server.store.protocol import StoreError
from server.store.sqlite.free_pages import drop_fill, fill_free_pages, mark_unzeroed, unzeroed
from server.store.sqlite.pending_text import PendingText
from server.store.sqlite.schema import SCHEMA_VERSION, apply_migrations
from server.store.sqlite.staged_keys import STAGE_ROWS, merge_staged
from server.store.sqlite.write_turns import WriteTurns

BUSY_TIMEOUT_MS = 60_000
CACHE_KIB = 64 * 1024  # page cache per connection
MMAP_BYTES = 256 * 1024 * 1024
STREAM_CACHE_KIB = 2 * 1024  # page cache of a connection in streaming_reads
WAL_LIMIT_BYTES = 64 * 1024 * 1024  # after a checkpoint, shrink a WAL that grew while readers held it

PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA temp_store = MEMORY",
    f"PRAGMA cache_size = -{CACHE_KIB}",
    f"PRAGMA mmap_size = {MMAP_BYTES}",
    f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}",
)
# wal_autocheckpoint: a page changed by several commits is copied into the database file once per
# 1 GB of WAL instead of once per 4 MB. With the grouped commits a commit writes tens of
# thousands of pages, so a checkpoint every 10,000 pages followed each commit and copied every
# page it wrote (bench/wal_pages.py at 100 k: checkpoints copied 554 k pages for 555 k WAL
# frames; one checkpoint per 250 k frames would copy 317 k). With staged filter keys, at 100 k:
# every 100,000 frames 2.87x the database written, every 250,000 2.67x. The price: the WAL file
# grows to ~1 GB during an import (cut back to journal_size_limit after the checkpoint) and its
# index (-shm) to ~2 MB.
BULK_PRAGMAS = ("PRAGMA synchronous = NORMAL", "PRAGMA mmap_size = 0", "PRAGMA wal_autocheckpoint = 250000")
BULK_IMPORTS = "store.bulk_imports"  # counter: bulk imports ended (its commit is the durable one)
UNBULK_PRAGMAS = ("PRAGMA synchronous = FULL", f"PRAGMA mmap_size = {MMAP_BYTES}", "PRAGMA wal_autocheckpoint = 1000")
# secure_delete = FAST for an import (free_pages.py) unless the free list it starts with is larger
# than this: an import reuses free pages first, so it usually ends with few, which it then zeroes;
# a small import into a file with a large free list would zero more pages than it saved.
FAST_MAX_FREE_PAGES = 25_000
GROUP_CHANGES = 200_000  # rows changed per commit of a bulk import (a message changes ~20)
GROUP_SECONDS = 5.0  # the longest a bulk import holds the write lock: a console search, audited, waits at most this


class _Group:
    """The bulk import's open transaction: since when, and the connection's change count then.
    A slots class, not a dataclass: a command-line search would pay ~1 ms of start-up to build it."""

    __slots__ = ("opened", "changes", "staged", "text")

    def __init__(self) -> None:
        self.opened = 0.0
        self.changes = 0
        self.staged = 0  # filter-key rows staged since the last merge (staged_keys.py)
        self.text = PendingText()  # text rows not yet in the FTS table, written before each commit


class ConnectionBase:
    """Per-thread connections to ``path``; the schema is migrated when the store is opened."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        private_dir(self.path.parent)
        private_file(self.path)  # before sqlite creates it with the umask's mode; -wal/-shm copy it
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._bulk = False
        self._secure = 1  # secure_delete outside a bulk import (read when one starts)
        self._turns = WriteTurns(self.path)
        if self._schema_version() != SCHEMA_VERSION:  # a new or older file: migrate under the write lock
            with self._write() as conn:
                apply_migrations(conn)
        restrict_existing(Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))

    def _schema_version(self) -> int:
        """``user_version`` read without the write lock: a store that is up to date (every open but
        the first after an upgrade) neither waits for a running import's batch nor commits (and
        fsyncs) an unchanged header."""
        try:
            return self._conn().execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StoreError(f"store {self.path} is closed")
            conn = self._connect()
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
            for pragma in PRAGMAS + (BULK_PRAGMAS if self._bulk else ()):
                conn.execute(pragma)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
        return conn

    @contextmanager
    def _write(self, *, all_or_group: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database write lock; committed (durably) on exit.
        Inside ``bulk_import``, on the importer's thread: a savepoint of the grouped transaction,
        or with ``all_or_group`` no savepoint: a failure rolls back the whole group (see _grouped)."""
        conn = self._conn()
        group = getattr(self._local, "group", None)
        if group is not None:
            with self._grouped(conn, group, savepoint=not all_or_group):
                yield conn
            return
        with self._turn(conn):
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._commit(conn)

    @contextmanager
    def _turn(self, conn: sqlite3.Connection) -> Iterator[None]:
        """BEGIN IMMEDIATE and the transaction after it. When another connection holds the lock,
        this writer waits as a declared waiter, so that a bulk import commits its group and lets it
        through (write_turns.py) instead of making it wait for the whole group."""
        if self._try_begin(conn):
            yield
            return
        with self._turns.waiting():
            self._begin(conn)
            yield

    def _try_begin(self, conn: sqlite3.Connection) -> bool:
        """BEGIN IMMEDIATE without waiting; False if another connection holds the lock."""
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", sqlite3.SQLITE_BUSY) & 0xFF != sqlite3.SQLITE_BUSY:
                raise StoreError(f"SQLite store {self.path} is not writable: {exc}") from exc
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return True

    def _begin(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path} is not writable: {exc}") from exc

    def _commit(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"commit to SQLite store {self.path} failed: {exc}") from exc

    @contextmanager
    def _grouped(self, conn: sqlite3.Connection, group: _Group, *, savepoint: bool) -> Iterator[None]:
        """One write of a bulk import inside the open group transaction (begun here if none is
        open), which commits once it is large or old enough.

        Small writes (documents, counters) run in a savepoint, so one that fails undoes only
        itself. ``put_messages`` does not: a savepoint keeps, in memory, the prior content of every
        page it changes, and a batch changes thousands of scattered pages (+60 MB of RSS at 250 k
        messages). Its failure is a database failure that stops the import anyway, so the whole
        group is rolled back and the error says so; the re-run stores the group again."""
        if not conn.in_transaction:
            self._turns.let_through()
            self._begin(conn)
            group.opened, group.changes = time.monotonic(), conn.total_changes
        if savepoint:
            conn.execute("SAVEPOINT bulk_write")
        try:
            yield
        except BaseException as exc:
            if conn.in_transaction and savepoint:  # SQLite rolls a whole transaction back itself after some errors
                conn.execute("ROLLBACK TO bulk_write")
                conn.execute("RELEASE bulk_write")
            elif conn.in_transaction:
                conn.execute("ROLLBACK")
            if not conn.in_transaction:  # the group is gone (rolled back here or by SQLite), its held text too
                group.text.clear()
            if not savepoint:
                raise StoreError(f"{exc}; the import's writes since its last commit were rolled back: "
                                 "run the import again") from exc  # fmt: skip
            raise
        if savepoint:
            conn.execute("RELEASE bulk_write")
        merge = group.staged >= STAGE_ROWS
        if (merge or conn.total_changes - group.changes >= GROUP_CHANGES or time.monotonic() - group.opened >= GROUP_SECONDS
                or self._turns.wanted()):  # fmt: skip
            group.text.write(conn)
            self._commit(conn)
        if merge:
            self._merge_staged(conn)
            group.staged = 0

    def _merge_staged(self, conn: sqlite3.Connection) -> None:
        """The staged filter keys into message_keys, in a transaction of their own: the merge
        dirties more pages than the page cache holds, and pages of the group's other writes that
        it pushed out to the WAL mid-transaction would be written again when changed again."""
        self._turns.let_through()
        self._begin(conn)
        try:
            merge_staged(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._commit(conn)

    @contextmanager
    def bulk_import(self) -> Iterator[None]:
        """This thread's connection (and those opened meanwhile) commit without fsync. The block
        ends with one FULL commit (the count of bulk imports): in WAL mode it syncs the WAL file,
        so everything committed inside is durable when the block ends. (Not an fsync of the -wal
        from Python: opening and closing a file SQLite has open drops this process's locks.)"""
        conn = self._conn()
        if unzeroed(conn):  # a killed import's free pages (zeroing clears the mark, so before marking)
            self._zero_free_pages()
        fast = conn.execute("PRAGMA freelist_count").fetchone()[0] <= FAST_MAX_FREE_PAGES
        if fast:
            with self._write() as conn:
                mark_unzeroed(conn)
        self._set_bulk(True, fast=fast)
        group = self._local.group = _Group()
        try:
            yield
        finally:
            self._local.group = None
            conn = self._conn()
            if conn.in_transaction:  # the last group (also when the block failed: what it holds is whole)
                group.text.write(conn)
                self._commit(conn)
            self._merge_staged(conn)  # every staged key, this import's and any a crashed one left
            self._set_bulk(False)
            if fast:
                self._zero_free_pages()
            with self._write() as conn:
                conn.execute("INSERT INTO counters (key, value) VALUES (?, 1) "
                             "ON CONFLICT (key) DO UPDATE SET value = value + 1", (BULK_IMPORTS,))  # fmt: skip

    def _zero_free_pages(self) -> None:
        """Every free page overwritten with zeros, in two transactions (see free_pages.py)."""
        with self._write() as conn:
            fill_free_pages(conn)
        with self._write() as conn:
            drop_fill(conn)

    def _zero_if_unzeroed(self) -> None:
        """After a purge: a killed import may have left free pages holding content."""
        if unzeroed(self._conn()):
            self._zero_free_pages()

    def _held_text(self) -> PendingText | None:
        """The open bulk import's text rows held back on this thread (pending_text.py), if any."""
        group = getattr(self._local, "group", None)
        return None if group is None else group.text

    def _staging(self) -> _Group | None:
        """The open bulk import's group on this thread: its writes stage their filter keys."""
        return getattr(self._local, "group", None)

    def _set_bulk(self, on: bool, *, fast: bool = False) -> None:
        """``fast``: ``secure_delete = FAST`` meanwhile (free_pages.py); restored after."""
        self._bulk = on
        conn = self._conn()
        for pragma in BULK_PRAGMAS if on else UNBULK_PRAGMAS:
            conn.execute(pragma)
        if on:
            self._secure = conn.execute("PRAGMA secure_delete").fetchone()[0]
            if fast:
                conn.execute("PRAGMA secure_delete = FAST")
        else:
            conn.execute(f"PRAGMA secure_delete = {self._secure}")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot for several statements (a count and its page agree)."""
        conn = self._conn()
        if conn.in_transaction:  # a bulk import's open group: read it, writes included
            yield conn
            return
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"reading SQLite store {self.path} failed: {exc}") from exc

    def refresh(self) -> None:
        """Nothing to do: a committed write is visible to every connection."""

    @contextmanager
    def streaming_reads(self) -> Iterator[None]:
        """This thread's connection reads through much of the file once (Export All): no mmap
        window and a small page cache meanwhile. Every mapped page read stays in the process's
        RSS up to the 256 MB window, and the 64 MB cache would fill with pages never read again;
        neither speeds up a single pass. Restored when the block ends."""
        conn = self._conn()
        conn.execute("PRAGMA mmap_size = 0")
        conn.execute(f"PRAGMA cache_size = -{STREAM_CACHE_KIB}")
        try:
            yield
        finally:
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")

    def close(self) -> None:
        """Close every thread's connection (call once, when the process is done with the store)."""
        with self._all_lock:
            conns, self._all = self._all, []
            self._closed = True
        for conn in conns:
            conn.close()
        self._turns.close()
        self._local = threading.local()
