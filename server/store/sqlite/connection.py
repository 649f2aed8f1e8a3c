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
checkpoint) without the earlier ones (its messages). The mmap window is closed for the import: it
only reads a few index pages per message, and mapped pages count in its RSS. The SMTP receiver's
connections keep FULL whatever an import in another process does (the setting is per connection).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.private_files import private_dir, private_file, restrict_existing
from server.store.protocol import StoreError
from server.store.sqlite.schema import SCHEMA_VERSION, apply_migrations

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
# wal_autocheckpoint: a page changed by several batches is copied into the database file once per
# 40 MB of WAL instead of once per 4 MB (measured on 2,000 bench messages: 2.98x -> 2.64x the
# database size written; with batches of 500 instead of 200, 2.23x).
BULK_PRAGMAS = ("PRAGMA synchronous = NORMAL", "PRAGMA mmap_size = 0", "PRAGMA wal_autocheckpoint = 10000")
BULK_IMPORTS = "store.bulk_imports"  # counter: bulk imports ended (its commit is the durable one)
UNBULK_PRAGMAS = ("PRAGMA synchronous = FULL", f"PRAGMA mmap_size = {MMAP_BYTES}", "PRAGMA wal_autocheckpoint = 1000")


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
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database write lock; committed (durably) on exit."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path} is not writable: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"commit to SQLite store {self.path} failed: {exc}") from exc

    @contextmanager
    def bulk_import(self) -> Iterator[None]:
        """This thread's connection (and those opened meanwhile) commit without fsync. The block
        ends with one FULL commit (the count of bulk imports): in WAL mode it syncs the WAL file,
        so everything committed inside is durable when the block ends. (Not an fsync of the -wal
        from Python: opening and closing a file SQLite has open drops this process's locks.)"""
        self._set_bulk(True)
        try:
            yield
        finally:
            self._set_bulk(False)
            with self._write() as conn:
                conn.execute("INSERT INTO counters (key, value) VALUES (?, 1) "
                             "ON CONFLICT (key) DO UPDATE SET value = value + 1", (BULK_IMPORTS,))  # fmt: skip

    def _set_bulk(self, on: bool) -> None:
        self._bulk = on
        conn = self._conn()
        for pragma in BULK_PRAGMAS if on else UNBULK_PRAGMAS:
            conn.execute(pragma)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot for several statements (a count and its page agree)."""
        conn = self._conn()
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
        self._local = threading.local()
