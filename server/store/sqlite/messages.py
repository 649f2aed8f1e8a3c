"""Writing and reading archived messages: idempotent batched puts, merges, raw bytes.

Checking, tokenizing and compressing happen before the write lock is taken, so several
processes ingesting at once overlap that work and serialize only on the SQL. Measured with
batches of 500 messages of ~2 KB text (300 words + 60 CJK characters), 2 cores shared with other
jobs (load 3-8): 450-730 messages/s through ``put_messages``; FTS5 insertion is about two thirds
of it (~0.45 ms a message), the other statements ~0.1 ms together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence

from server.model import Message
from server.store.common import codec
from server.store.common.documents import MERGED_FIELDS, Rejected, check_message, merge_into, message_document
from server.store.common.prepared import put_messages
from server.store.common.times import to_ms, to_ms_or_none
from server.store.protocol import PutResult, StoreError
from server.store.sqlite.fts_text import DELETE_TEXT, INSERT_TEXT, document_text, index_columns, key_text
from server.store.sqlite.keys import (
    ARRAY_KINDS,
    RECIPIENT_DOMAIN,
    SENDER,
    SENDER_DOMAIN,
    domain_of,
    first_rid,
    key,
    last_rid,
)
from server.store.sqlite.pending_text import PENDING_BYTES, PendingText
from server.store.sqlite.schema import mistyped_fields, unknown_fields
from server.store.sqlite.staged_keys import add_keys
from server.tuples import NamedTuple

_ADDRESS_KINDS = {"mailboxes", "recipients"}

class PreparedRow(NamedTuple):
    """One message's rows, made with no database (``prepare_message``): in an import, by the
    parser process that has just read and parsed the bytes, so the writing process only runs the
    statements (``put_prepared``)."""

    id: str
    sha256: str
    date_ms: int
    date: str  # ISO text, for the one refusal only the write can find (a full millisecond)
    doc: bytes  # the document, compressed
    merged: dict[str, list[str]]  # its merged fields (MERGED_FIELDS): what it adds to a stored copy
    keys: tuple[str, ...]  # message_keys rows
    mailboxes: tuple[str, ...]  # lower-case, for mailbox_names
    text: tuple[str, str, str, str]  # subject, body, attachment names: pre-tokenized; department keys
    raw: bytes  # compressed
    raw_size: int
    archived_ms: int
    received_ms: int | None
    retention_ms: int | None
    holds: tuple[str, ...]


def prepare_message(message: Message, raw: bytes, *, raw_sha256: str | None = None) -> PreparedRow:
    """``Store.prepare_message`` of this backend: the schema checks, the document, its keys and
    tokens, the compressed bytes. Raises ``Rejected`` for what the schema cannot hold."""
    doc = message_document(message)
    doc["archive_seq"] = 0  # the seq lives in message_meta (assigned at commit), filled in on read
    extra = unknown_fields(doc)
    if extra:
        raise Rejected(f"unknown field(s) {', '.join(extra)}: not in the archive schema")
    mistyped = mistyped_fields(doc)
    if mistyped:
        raise Rejected(f"field(s) {', '.join(mistyped)} have the wrong type for the archive schema")
    check_message(message, raw, raw_sha256=raw_sha256)
    return PreparedRow(
        message.id, message.sha256, to_ms(message.date), message.date.isoformat(), codec.pack_doc(doc),
        {name: doc[name] for name in MERGED_FIELDS}, tuple(sorted(message_keys(doc))),
        tuple(m.lower() for m in doc["mailboxes"]),
        index_columns(doc), codec.compress(raw), len(raw),
        to_ms(message.archived_at), to_ms_or_none(message.received_at), to_ms_or_none(message.retention_until),
        tuple(dict.fromkeys(message.legal_holds)),
    )  # fmt: skip


def message_keys(doc: dict) -> set[str]:
    """The filter keys of a document (message_keys rows), with the sender's and the recipients'
    domains (a whole-domain criterion is then one index range, like a full address)."""
    keys = {key(SENDER, doc["sender"].lower())} if doc.get("sender") else set()
    for field, kind in ARRAY_KINDS.items():
        for value in doc.get(field) or []:
            keys.add(key(kind, value.lower() if field in _ADDRESS_KINDS else value))
    domains = [(SENDER_DOMAIN, doc.get("sender") or "")] + [(RECIPIENT_DOMAIN, r) for r in doc.get("recipients") or []]
    keys.update(key(kind, d) for kind, address in domains if (d := domain_of(address.lower())))
    return keys


class MessagesMixin:
    prepare_message = staticmethod(prepare_message)

    def put_messages(self, items: Sequence[tuple[Message, bytes]]) -> list[PutResult]:
        return put_messages(self, items)  # type: ignore[arg-type]

    def put_prepared(self, rows: Sequence[PreparedRow]) -> list[PutResult]:
        """One write transaction per batch: when this returns, every non-failed result is durable.

        A failure of the database itself (disk full, lock held past the busy timeout) raises
        StoreError and nothing of the batch is stored. Copies of one id in the batch: the later
        ones find the first in the same transaction and merge.
        """
        if not rows:
            return []
        group = self._staging()
        try:
            with self._write(all_or_group=True) as conn:  # a failure stops an import: no savepoint
                held = self._held_text()  # a bulk import's, written at the latest when its group commits
                pending = PendingText() if held is None else held  # see pending_text.py
                results = [_put_one(conn, row, pending, staged=group is not None) for row in rows]
                if held is None or pending.size >= PENDING_BYTES:
                    pending.write(conn)
                if group is not None:  # merged into message_keys once STAGE_ROWS are staged (see _grouped)
                    group.staged += sum(len(row.keys) for row in rows)
                return results
        except sqlite3.Error as exc:
            raise StoreError(f"storing {len(rows)} messages in {self.path} failed: {exc}") from exc

    def get_message(self, message_id: str) -> Message | None:
        found = self.get_messages([message_id])
        return found[0] if found else None

    def get_messages(self, ids: Sequence[str]) -> list[Message]:
        wanted = list(dict.fromkeys(ids))
        docs: dict[str, bytes] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), 500):  # stay well under SQLite's bound-parameter limit
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                sql = (f"SELECT m.id, d.doc, a.seq FROM messages m JOIN message_docs d ON d.rid = m.rid "
                       f"JOIN message_meta a ON a.rid = m.rid WHERE m.id IN ({marks})")  # fmt: skip
                docs.update((i, (doc, seq)) for i, doc, seq in conn.execute(sql, chunk))
        return [unpack_message(*docs[i]) for i in wanted if i in docs]

    def get_raw(self, sha256: str) -> bytes | None:
        with self._read() as conn:
            row = conn.execute("SELECT data FROM raws WHERE sha256 = ?", (sha256,)).fetchone()
        return codec.decompress(row[0]) if row else None

    def get_raws(self, sha256s: Sequence[str]) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(sha256s))
        found: dict[str, bytes] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), 500):  # stay well under SQLite's bound-parameter limit
                chunk = wanted[start : start + 500]
                sql = f"SELECT sha256, data FROM raws WHERE sha256 IN ({','.join('?' * len(chunk))})"
                found.update((key, codec.decompress(data)) for key, data in conn.execute(sql, chunk))
        return found

    def raw_keys(self, *, batch_size: int = 1000) -> Iterator[str]:
        """By key, one short read per batch (a writer is never blocked for the whole walk)."""
        after = ""
        while True:
            with self._read() as conn:
                rows = conn.execute("SELECT sha256 FROM raws WHERE sha256 > ? ORDER BY sha256 LIMIT ?",
                                    (after, batch_size)).fetchall()  # fmt: skip
            yield from (row[0] for row in rows)
            if len(rows) < batch_size:
                return
            after = rows[-1][0]


def _put_one(conn: sqlite3.Connection, row: PreparedRow, pending: PendingText, *, staged: bool = False) -> PutResult:
    """``staged``: inside a bulk import, the filter keys go to the staging table (staged_keys.py).
    A new message's text row goes to ``pending``, written in rid order later (pending_text.py)."""
    found = conn.execute("SELECT rid FROM messages WHERE id = ?", (row.id,)).fetchone()
    if found:
        return _merge(conn, found[0], row, pending, staged=staged)
    date_ms = row.date_ms
    top = conn.execute("SELECT max(rid) FROM messages WHERE rid BETWEEN ? AND ?", (first_rid(date_ms), last_rid(date_ms))).fetchone()[0]
    if top == last_rid(date_ms):
        return PutResult(row.id, "failed", f"more than {last_rid(0) + 1} messages dated {row.date}")
    rid = first_rid(date_ms) if top is None else top + 1
    conn.execute("INSERT INTO messages (rid, id, date_ms) VALUES (?, ?, ?)", (rid, row.id, date_ms))
    conn.execute("INSERT INTO message_docs (rid, doc) VALUES (?, ?)", (rid, row.doc))
    pending.add(rid, row.text)
    conn.execute("INSERT INTO raws (sha256, size, data) VALUES (?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET refs = refs + 1",
                 (row.sha256, row.raw_size, row.raw))  # a blob shared by several messages: one more reference
    meta = conn.execute(
        "INSERT INTO message_meta (rid, sha256, archived_ms, received_ms, retention_ms) VALUES (?, ?, ?, ?, ?)",
        (rid, row.sha256, row.archived_ms, row.received_ms, row.retention_ms),
    )
    conn.executemany("INSERT INTO message_holds (hold_id, rid) VALUES (?, ?)", [(h, rid) for h in row.holds])
    _add_keys(conn, rid, list(row.keys), row.mailboxes, staged=staged)
    return PutResult(row.id, "created", archive_seq=meta.lastrowid or 0)  # seq is the table's rowid


def _merge(conn: sqlite3.Connection, rid: int, row: PreparedRow, pending: PendingText, *, staged: bool) -> PutResult:
    """Another copy of a stored message: keep the union of the merged fields, nothing else. Only
    the keys the union adds are written: the stored ones may be in either key table (a row in
    both would be counted twice by a read of the two).

    A copy that adds a department changes the text index's ``keys`` column (fts_text.py): a
    contentless row cannot be updated, so it is deleted with its old values (the text from the
    stored document, as the put indexed it) and inserted again. Any other merge does no FTS work."""
    (blob,) = conn.execute("SELECT doc FROM message_docs WHERE rid = ?", (rid,)).fetchone()
    doc = codec.unpack_doc(blob)
    before, old_keys = message_keys(doc), key_text(doc)
    if not merge_into(doc, row.merged):
        return PutResult(row.id, "unchanged")
    conn.execute("UPDATE message_docs SET doc = ? WHERE rid = ?", (codec.pack_doc(doc), rid))
    new_keys = key_text(doc)
    if new_keys != old_keys and not pending.set_keys(rid, new_keys):  # a held row is not in the index yet
        text = document_text(doc)
        conn.execute(DELETE_TEXT, (rid, *text, old_keys))
        conn.execute(INSERT_TEXT, (rid, *text, new_keys))
    added = sorted(message_keys(doc) - before)
    _add_keys(conn, rid, added, [m.lower() for m in doc.get("mailboxes") or []], staged=staged)
    return PutResult(row.id, "merged")


def _add_keys(conn: sqlite3.Connection, rid: int, keys: list[str], mailboxes: Iterable[str], *, staged: bool) -> None:
    """``mailboxes``: lower-case already."""
    add_keys(conn, rid, keys, staged=staged)
    conn.executemany("INSERT OR IGNORE INTO mailbox_names (address) VALUES (?)", [(m,) for m in mailboxes])


def unpack_message(blob: bytes, seq: int) -> Message:
    """A stored document as a Message, with its arrival sequence from message_meta."""
    doc = codec.unpack_doc(blob)
    doc["archive_seq"] = seq
    return Message.from_dict(doc)
