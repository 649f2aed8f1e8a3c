"""Arrival order, retention and legal holds: the ``message_meta`` / ``message_holds`` tables.

The arrival sequence is ``message_meta.seq`` (``AUTOINCREMENT``): assigned inside the write
transaction that stores the message, so two writers never share a number (SQLite has one writer
at a time), and ``sqlite_sequence`` remembers the highest number ever committed, so a purged
newest message never gives its number to the next one. A number assigned in a transaction that
rolls back is handed out again, but it was never visible to anyone.

Watermark: a reader's snapshot only ever contains committed transactions, and a transaction
assigns all its numbers above every committed one, so the committed ``sqlite_sequence`` value is
already stable (nothing at or below it can still appear).

Purge (``delete_messages``) removes every row of a message: the contentless FTS5 table needs the
indexed text again to delete its entry, recomputed from the stored document by the same function
that produced it at put time (``fts_text.index_columns``: the text and the department keys). A
change to the tokenizer or to the key tokens therefore needs a schema migration that rebuilds
the text index. The other rewrites of a stored document (``_rewrite``: legal holds, retention)
never touch an indexed field.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from server.model import ArrivalHead, Message, format_time
from server.store.common import codec
from server.store.common.documents import set_holds
from server.store.common.times import to_ms
from server.store.protocol import PartitionMember, StoreError
from server.store.sqlite.fts_text import DELETE_TEXT, index_columns
from server.store.sqlite.keys import MAILBOX, key
from server.store.sqlite.messages import message_keys, unpack_message
from server.store.sqlite.staged_keys import KEYS, keys_table, merge_staged

CHUNK = 500  # ids per statement batch (SQLite's bound-parameter limit)

_SELECT_META = "SELECT a.seq, d.doc FROM message_meta a JOIN message_docs d ON d.rid = a.rid"
# An arrival head from three key lookups, no document: the size is the raw blob's length (as
# ``total_size`` reads it; ``Message.size`` is that length), NULL only where the blob is missing.
_SELECT_HEADS = ("SELECT a.seq, m.id, a.sha256, r.size, a.rid FROM message_meta a JOIN messages m ON m.rid = a.rid "
                 "LEFT JOIN raws r ON r.sha256 = a.sha256 WHERE a.seq > ? ORDER BY a.seq LIMIT ?")


def _found(conn: sqlite3.Connection, ids: Sequence[str]) -> list[tuple[int, int, dict]]:
    """(rid, seq, document) of those ``ids`` that exist."""
    out = []
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT m.rid, a.seq, d.doc FROM messages m JOIN message_docs d ON d.rid = m.rid "
            f"JOIN message_meta a ON a.rid = m.rid WHERE m.id IN ({marks})",
            chunk,
        )
        out += [(rid, seq, codec.unpack_doc(doc)) for rid, seq, doc in rows]
    return out


def _document_size(conn: sqlite3.Connection, rid: int) -> int:
    """``size`` as the stored document of ``rid`` records it."""
    (blob,) = conn.execute("SELECT doc FROM message_docs WHERE rid = ?", (rid,)).fetchone()
    return codec.unpack_doc(blob)["size"]


def _delete_one(conn: sqlite3.Connection, rid: int, doc: dict) -> None:
    conn.execute(DELETE_TEXT, (rid, *index_columns(doc)))
    conn.executemany("DELETE FROM message_keys WHERE key = ? AND rid = ?", [(k, rid) for k in message_keys(doc)])
    for table in ("message_holds", "message_meta", "message_docs", "messages"):
        conn.execute(f"DELETE FROM {table} WHERE rid = ?", (rid,))


class ArchiveMixin:
    def max_archive_seq(self) -> int:
        row = self._conn().execute("SELECT seq FROM sqlite_sequence WHERE name = 'message_meta'").fetchone()
        return row[0] if row else 0

    def scan_archived(self, after_seq: int, limit: int) -> list[Message]:
        rows = self._conn().execute(f"{_SELECT_META} WHERE a.seq > ? ORDER BY a.seq LIMIT ?", (after_seq, limit))
        return [unpack_message(doc, seq) for seq, doc in rows]

    def scan_archived_heads(self, after_seq: int, limit: int) -> list[ArrivalHead]:
        """A message whose blob is missing (a damaged archive) keeps its place in the window with the
        size its document records, so RETR can report it unavailable rather than the window skip it."""
        with self._read() as conn:
            rows = conn.execute(_SELECT_HEADS, (after_seq, limit)).fetchall()
            return [ArrivalHead(seq, id_, sha256, _document_size(conn, rid) if size is None else size)
                    for seq, id_, sha256, size, rid in rows]  # fmt: skip

    def scan_expired(self, now: datetime, limit: int, after_seq: int = 0) -> list[Message]:
        """Walks the seq order from ``after_seq``: old mail arrived first, so the expired messages
        are mostly the lowest seqs and a page is found quickly."""
        rows = self._conn().execute(
            f"{_SELECT_META} WHERE a.seq > ? AND a.retention_ms < ? "
            "AND NOT EXISTS (SELECT 1 FROM message_holds h WHERE h.rid = a.rid) ORDER BY a.seq LIMIT ?",
            (after_seq, to_ms(now), limit),
        )
        return [unpack_message(doc, seq) for seq, doc in rows]

    def delete_messages(self, ids: Sequence[str]) -> int:
        """One transaction: the messages, their rows everywhere, then each blob and mailbox name
        that nothing refers to any more. Filter keys an import staged are merged first (a purge
        during an import is rare, and it then deletes from one table as always)."""
        try:
            with self._write() as conn:
                if keys_table(conn) != KEYS:  # an import's staged keys: merged first, so the purge sees one table
                    merge_staged(conn)
                found = _found(conn, ids)
                for rid, _, doc in found:
                    _delete_one(conn, rid, doc)
                for sha256, gone in Counter(doc["sha256"] for _, _, doc in found).items():  # raws.refs: who still refers
                    conn.execute("DELETE FROM raws WHERE sha256 = ? AND refs <= ?", (sha256, gone))
                    conn.execute("UPDATE raws SET refs = refs - ? WHERE sha256 = ?", (gone, sha256))
                for mailbox in {m.lower() for _, _, doc in found for m in doc.get("mailboxes") or []}:
                    lo = key(MAILBOX, mailbox)
                    if not conn.execute("SELECT 1 FROM message_keys WHERE key = ? LIMIT 1", (lo,)).fetchone():
                        conn.execute("DELETE FROM mailbox_names WHERE address = ?", (mailbox,))
            self._zero_if_unzeroed()
        except sqlite3.Error as exc:
            raise StoreError(f"deleting {len(ids)} messages from {self.path} failed: {exc}") from exc
        return len(found)

    def expired_partitions(self, now: datetime, max_seq: int) -> list[str]:
        """One file, no partitions: the purge deletes message by message."""
        return []

    def drop_partition(self, name: str, now: datetime, max_seq: int,
                       before_drop: Callable[[list[PartitionMember]], None]) -> int:  # fmt: skip
        raise StoreError(f"the SQLite store has no partitions to drop ({name!r})")

    def set_legal_hold(self, ids: Sequence[str], hold_id: str, on: bool) -> int:
        if not hold_id:
            raise StoreError("a legal hold needs an id")

        def change(conn: sqlite3.Connection, rid: int, doc: dict) -> bool:
            if not set_holds(doc, hold_id, on):
                return False
            sql = "INSERT OR IGNORE INTO message_holds (hold_id, rid) VALUES (?, ?)" if on else \
                "DELETE FROM message_holds WHERE hold_id = ? AND rid = ?"  # fmt: skip
            conn.execute(sql, (hold_id, rid))
            return True

        return self._rewrite(ids, change, "legal hold")

    def set_retention(self, updates: Mapping[str, datetime]) -> int:
        def change(conn: sqlite3.Connection, rid: int, doc: dict) -> bool:
            until = updates[doc["id"]]
            doc["retention_until"] = format_time(until)
            conn.execute("UPDATE message_meta SET retention_ms = ? WHERE rid = ?", (to_ms(until), rid))
            return True

        return self._rewrite(list(updates), change, "retention")

    def _rewrite(self, ids: Sequence[str], change: Callable[[sqlite3.Connection, int, dict], bool], what: str) -> int:
        """Apply ``change`` to each stored document of ``ids`` in one transaction, saving the changed ones."""
        changed = 0
        try:
            with self._write() as conn:
                for rid, _, doc in _found(conn, ids):
                    if change(conn, rid, doc):
                        conn.execute("UPDATE message_docs SET doc = ? WHERE rid = ?", (codec.pack_doc(doc), rid))
                        changed += 1
        except sqlite3.Error as exc:
            raise StoreError(f"{what} update of {len(ids)} messages in {self.path} failed: {exc}") from exc
        return changed
