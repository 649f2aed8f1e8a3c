"""Archives in the layout of the releases before the arrival sequence (schema version 3 on SQLite,
unversioned index names on Elasticsearch) and before ``@timestamp`` (Elasticsearch messages-v2),
written the way that code wrote them, so the migration tests start from what an existing
installation really has on disk."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from server.model import Message
from server.query.tokenize import index_text
from server.store.common import codec
from server.store.common.times import to_ms
from server.store.elasticsearch.connection import load_mapping
from server.store.sqlite.fts_text import NAME_GAP
from server.store.sqlite.keys import first_rid
from server.store.sqlite.messages import message_keys
from server.store.sqlite.schema import MIGRATIONS, _statements

NEW_FIELDS = ("archive_seq", "received_at", "legal_holds")
V2_FIXED = {"raw": 1, "directory": 1, "docs": 2, "audit": 2}  # the fixed indices' versions beside messages-v2
SQLITE_V3 = 3


def legacy_doc(message: Message) -> dict[str, Any]:
    """The document as the old code stored it: no arrival sequence, arrival time or hold ids."""
    doc = message.to_dict()
    for name in NEW_FIELDS:
        doc.pop(name)
    return doc


def sqlite_v3(path: Path, items: Sequence[tuple[Message, bytes]], docs: Sequence[tuple[str, str, str]] = ()) -> None:
    """A schema-version-3 SQLite file holding ``items`` and ``docs`` (kind, key, JSON text)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for migration in MIGRATIONS[:SQLITE_V3]:
        for statement in _statements(migration.sql):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SQLITE_V3}")
    for slot, (message, raw) in enumerate(items):
        doc = legacy_doc(message)
        rid = first_rid(to_ms(message.date)) + slot
        conn.execute("INSERT INTO messages (rid, id, date_ms) VALUES (?, ?, ?)", (rid, message.id, to_ms(message.date)))
        conn.execute("INSERT INTO message_docs (rid, doc) VALUES (?, ?)", (rid, codec.pack_doc(doc)))
        names = NAME_GAP.join(index_text(n) for n in message.attachment_names)
        text = (index_text(message.subject), index_text(message.body_text), names)  # one token per CJK character
        conn.execute("INSERT INTO message_text (rowid, subject, body, attachment) VALUES (?, ?, ?, ?)", (rid, *text))
        conn.execute("INSERT OR IGNORE INTO raws (sha256, size, data) VALUES (?, ?, ?)",
                     (message.sha256, len(raw), codec.compress(raw)))  # fmt: skip
        conn.executemany("INSERT OR IGNORE INTO message_keys (key, rid) VALUES (?, ?)", [(k, rid) for k in message_keys(doc)])
        conn.executemany("INSERT OR IGNORE INTO mailbox_names (address) VALUES (?)", [(m.lower(),) for m in message.mailboxes])
    conn.executemany("INSERT INTO docs (kind, key, doc) VALUES (?, ?, ?)", docs)
    conn.execute("COMMIT")
    conn.close()


def elasticsearch_v1(es: Elasticsearch, prefix: str, items: Sequence[tuple[Message, bytes]],
                     docs: Sequence[tuple[str, str, dict[str, Any]]] = ()) -> None:  # fmt: skip
    """The unversioned layout: template ``<prefix>-messages`` over ``<prefix>-messages-YYYY.MM``
    (read alias ``<prefix>-messages``) and concrete ``<prefix>-raw/-directory/-docs/-audit``."""
    template = load_mapping("messages-v1.json")
    template["template"]["aliases"] = {f"{prefix}-messages": {}}
    es.indices.put_index_template(name=f"{prefix}-messages", index_patterns=[f"{prefix}-messages-*"], **template)
    for name in ("raw", "directory", "docs", "audit"):
        es.indices.create(index=f"{prefix}-{name}", **load_mapping(f"{name}-v1.json"))
    for message, raw in items:
        doc = legacy_doc(message)
        doc.update(subject_tokens=index_text(message.subject), body_tokens=index_text(message.body_text),
                   attachment_tokens=[index_text(n) for n in message.attachment_names])  # fmt: skip
        index = f"{prefix}-messages-{message.date.year:04d}.{message.date.month:02d}"
        es.index(index=index, id=message.id, document=doc)
        data = base64.b64encode(codec.compress(raw)).decode("ascii")
        es.index(index=f"{prefix}-raw", id=message.sha256, document={"size": len(raw), "compression": "zstd", "data": data})
    for kind, key, body in docs:
        es.index(index=f"{prefix}-docs", id=f"{kind}/{key}", document={"kind": kind, "key": key, "body": body})
    es.indices.refresh(index=f"{prefix}-*")


def elasticsearch_v2(es: Elasticsearch, prefix: str, items: Sequence[tuple[Message, bytes]]) -> None:
    """The layout of the release before ``@timestamp``: template ``<prefix>-messages`` over
    ``<prefix>-messages-v2-YYYY.MM`` (read alias ``<prefix>-messages``), the fixed indices behind
    their aliases, messages numbered 1.. in the order given and the sequence document after them."""
    from server.store.elasticsearch.documents import TIMESTAMP, to_document
    from server.store.elasticsearch.sequence import DOC_ID

    template = load_mapping("messages-v2.json")
    template["template"]["aliases"] = {f"{prefix}-messages": {}}
    es.indices.put_index_template(name=f"{prefix}-messages", index_patterns=[f"{prefix}-messages-v2-*"], **template)
    for kind, version in V2_FIXED.items():
        body = load_mapping(f"{kind}-v{version}.json")
        es.indices.create(index=f"{prefix}-{kind}-v{version}", aliases={f"{prefix}-{kind}": {}}, **body)
    for seq, (message, raw) in enumerate(items, start=1):
        doc = to_document(message, raw)
        del doc[TIMESTAMP]
        doc["archive_seq"] = seq
        es.index(index=f"{prefix}-messages-v2-{message.date.year:04d}.{message.date.month:02d}", id=message.id, document=doc)
        data = base64.b64encode(codec.compress(raw)).decode("ascii")
        es.index(index=f"{prefix}-raw", id=message.sha256, document={"size": len(raw), "compression": "zstd", "data": data})
    es.index(index=f"{prefix}-docs", id=DOC_ID, document={"kind": "_sequence", "key": "archive", "value": len(items),
                                                         "body": {"leases": []}})  # fmt: skip
    es.indices.refresh(index=f"{prefix}-*")
