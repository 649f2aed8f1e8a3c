"""Filter keys staged during a bulk import, and merged into ``message_keys`` in sorted runs.

Why: ``message_keys`` is ordered by (key, rid), so the ~12 keys of one message land on as many
scattered leaves (one per mailbox, recipient, department...), and every commit of an import wrote
each leaf it touched to the WAL, and each checkpoint copied it again. At 100 k messages that index
had 8.7 WAL frames for every page of its final size, at 250 k more (bench/wal_pages.py): the
largest excess of an import's disk writes. During ``mailarchive import`` the keys of the messages
it stores go to ``message_keys_staged`` instead, ordered by (rid, key): an import reads mail in
roughly date order and rids are date-ordered, so it appends to that small tree's last leaves.
Every ``STAGE_ROWS`` staged rows, and when the import ends, the staged rows are copied into
``message_keys`` in key order within one transaction and deleted, so a leaf of ``message_keys`` is
written once per run of ~30,000 messages instead of once per group commit.

Visibility is unchanged: every read of the filter keys reads both tables (``keys_table``) while
the staging table has rows, so a search sees an import's messages group by group as before, with
the same results. When it is empty (no import running, the usual case) reads are the statements
they always were. A crash leaves staged rows behind; they stay visible and are merged when the
next import ends (or a purge needs them merged). The staging tree's primary key (rid, key) also
answers a filter's row-by-row probe (``EXISTS ... rid = ?``) as ``message_keys`` does.
"""

from __future__ import annotations

import sqlite3

STAGE_ROWS = 400_000  # staged rows per run (~30,000 messages; the merge's sort holds them in memory)
STAGED_SQL = """
    CREATE TABLE IF NOT EXISTS message_keys_staged (
        rid INTEGER NOT NULL,
        key TEXT NOT NULL,
        PRIMARY KEY (rid, key)
    ) WITHOUT ROWID;
"""
KEYS = "message_keys"
# Both tables as one (a row is in one or the other, never both: see add_keys).
KEYS_AND_STAGED = "(SELECT key, rid FROM message_keys UNION ALL SELECT key, rid FROM message_keys_staged)"


def keys_table(conn: sqlite3.Connection) -> str:
    """The table expression a read of the filter keys uses in this snapshot (one page read)."""
    return KEYS_AND_STAGED if conn.execute("SELECT 1 FROM message_keys_staged LIMIT 1").fetchone() else KEYS


def add_keys(conn: sqlite3.Connection, rid: int, keys: list[str], *, staged: bool) -> None:
    """``keys`` of ``rid`` that neither table has yet (a new message's, or those a merged copy adds)."""
    table = "message_keys_staged" if staged else "message_keys"
    conn.executemany(f"INSERT OR IGNORE INTO {table} (key, rid) VALUES (?, ?)", [(k, rid) for k in keys])


def merge_staged(conn: sqlite3.Connection) -> int:
    """Move every staged row into ``message_keys`` (caller holds a write transaction); the rows moved.

    Sorted by (key, rid), the insert visits each leaf of ``message_keys`` once, so the
    transaction dirties each at most once."""
    moved = conn.execute("INSERT OR IGNORE INTO message_keys (key, rid) "
                         "SELECT key, rid FROM message_keys_staged ORDER BY key, rid").rowcount  # fmt: skip
    conn.execute("DELETE FROM message_keys_staged")
    return moved
