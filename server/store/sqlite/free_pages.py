"""Free pages that hold nothing: zeroed once at the end of a bulk import instead of as they are freed.

Debian builds SQLite with ``SECURE_DELETE``: every page freed is first overwritten with zeros, so
what a purge deletes is gone from the file, not only unlinked. An import frees many pages it wrote
minutes earlier (FTS5 segments merged into larger ones, the staging table's pages after each
merge, the old version of a merged document) and each was zeroed, a write that stores nothing
(4 % of an import's WAL frames at 100 k, bench/wal_pages.py), most of them reused soon after.

So the import's connection runs with ``secure_delete = FAST`` (content removed from b-tree pages
is still overwritten, whole freed pages are not) and zeroes the free list once at its end
(``fill_free_pages``, commit, ``drop_fill``): what an import freed is content the archive still holds (merged segments
carry the same terms; the staging table's keys are in ``message_keys``), so for the time between
the free and the end the file keeps nothing the archive does not. A killed import can leave such
pages: the mark ``UNZEROED`` (a counter) is set when the import starts and cleared with the
zeroing, and the next import or purge zeroes the free list first while it is set.
"""

from __future__ import annotations

import sqlite3

UNZEROED = "store.free_pages_unzeroed"  # counter: 1 while free pages may hold an import's content
SCRATCH = "free_page_scrub"
CHUNK_PAGES = 256  # zero blobs of at most 1 MB: SQLite builds each one in memory


def fill_free_pages(conn: sqlite3.Connection) -> int:
    """Take every page of the free list into a scratch table of zero blobs (caller holds a write
    transaction, and commits it before ``drop_fill``); the pages taken. SQLite allocates from the
    free list first, and the commit writes them: a page freed in the transaction that wrote it is
    never written at all (free-list leaves are "don't write" pages), so the drop must come after."""
    conn.execute(f"DROP TABLE IF EXISTS {SCRATCH}")  # left by a crash between the two steps
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    conn.execute(f"CREATE TABLE {SCRATCH} (b BLOB)")
    usable = conn.execute("PRAGMA page_size").fetchone()[0] - 4  # an overflow page's payload
    chunks = [(min(CHUNK_PAGES, free - start) * usable,) for start in range(0, free, CHUNK_PAGES)]
    conn.executemany(f"INSERT INTO {SCRATCH} (b) VALUES (zeroblob(?))", chunks)
    return free


def drop_fill(conn: sqlite3.Connection) -> None:
    """The scratch table's pages back to the free list, holding their zeros: with ``secure_delete
    = FAST`` the drop writes nothing into them (trunk pages get only their list of page numbers)."""
    secure = conn.execute("PRAGMA secure_delete").fetchone()[0]
    conn.execute("PRAGMA secure_delete = FAST")
    try:
        conn.execute(f"DROP TABLE {SCRATCH}")
    finally:
        conn.execute(f"PRAGMA secure_delete = {secure}")
    conn.execute("DELETE FROM counters WHERE key = ?", (UNZEROED,))


def mark_unzeroed(conn: sqlite3.Connection) -> None:
    """Free pages may hold content from now on (caller holds a write transaction)."""
    conn.execute("INSERT OR REPLACE INTO counters (key, value) VALUES (?, 1)", (UNZEROED,))


def unzeroed(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM counters WHERE key = ?", (UNZEROED,)).fetchone() is not None
