"""The database schema and its migrations, applied when a store is opened.

``PRAGMA user_version`` holds how many entries of ``MIGRATIONS`` the file has. Opening applies
the missing ones in order, inside the write transaction the caller holds, so several processes
starting at once migrate exactly once. Never edit a migration that has been released: append a
new one at the end (the audit log's table comes as its own migration, say).

Messages live in four tables so that the hot paths touch only what they need:

* ``messages`` is narrow (rid, id, date_ms) so counting a time range walks few pages. ``rid`` is
  the date-ordered row key of ``keys.py``: ordering by rid is ordering by date, and a time range
  is a rid range, which FTS5 and the side table seek to directly.
* ``message_docs`` holds the full document (zstd-compressed JSON), read only for result pages.
* ``message_keys`` is the side table for the filters: one row per (kind:value, rid), e.g.
  ``m:alice@example.com`` for a mailbox; its primary key answers "this mailbox, this time range,
  newest first" from the index alone.
* ``message_keys_staged`` holds the filter keys of the messages a running ``mailarchive import``
  stored since its last sorted merge into ``message_keys`` (see staged_keys.py); reads include it.
* ``message_meta`` holds what the archive itself decides about a message, as indexed columns:
  ``seq`` (the arrival sequence, ``AUTOINCREMENT`` so a number is never handed out twice even
  after the newest message is purged), the raw blob's ``sha256`` (not indexed: ``raws.refs``
  counts the messages referring to a blob), ``archived_ms``, ``received_ms``, ``retention_ms``.
  One row per message, keyed by rid.
* ``message_holds`` has one row per (legal hold, message) for the holds active on a message.
* ``message_text`` is a contentless FTS5 table over the pre-tokenized text (server.query.tokenize);
  the ``ascii`` tokenizer treats every non-ASCII character as part of a token, so on that input it
  only splits on spaces, exactly like Elasticsearch's whitespace tokenizer. Its fourth column
  ``keys`` holds the departments as tokens no keyword can match (fts_text.py).
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable

from server.model import parse_time
from server.store.common import codec
from server.store.common.times import to_ms
from server.store.sqlite.audit import AUDIT_V1_SQL
from server.store.sqlite.keys import (
    RECIPIENT,
    RECIPIENT_DOMAIN,
    SENDER,
    SENDER_DOMAIN,
    domain_of,
    prefix_bounds,
)
from server.store.sqlite.staged_keys import STAGED_SQL
from server.tuples import NamedTuple


class Migration(NamedTuple):
    """SQL statements, then (for a step that must read existing rows) a Python function."""

    name: str
    sql: str
    run: Callable[[sqlite3.Connection], None] | None = None


# The text table as rebuild_text_index re-creates it: MESSAGES_V1's three text columns and the
# department keys (fts_text.py), which DEPARTMENT_TOKENS_V1 added.
MESSAGE_TEXT_SQL = ("CREATE VIRTUAL TABLE message_text USING fts5(subject, body, attachment, keys, content='', columnsize=0, "
                    "tokenize='ascii')")  # fmt: skip

MESSAGES_V1 = Migration(
    "messages, raw bytes, settings, documents, directory",
    """
    CREATE TABLE messages (
        rid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        date_ms INTEGER NOT NULL
    );
    CREATE TABLE message_docs (rid INTEGER PRIMARY KEY, doc BLOB NOT NULL);
    CREATE TABLE message_keys (
        key TEXT NOT NULL,
        rid INTEGER NOT NULL,
        PRIMARY KEY (key, rid)
    ) WITHOUT ROWID;
    CREATE TABLE mailbox_names (address TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE VIRTUAL TABLE message_text USING fts5(
        subject, body, attachment, content='', columnsize=0, tokenize='ascii'
    );
    CREATE TABLE raws (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE docs (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE TABLE accounts (
        address TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        department TEXT NOT NULL,
        status TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
)

# FTS5 merges its index segments 4 at a time by default; merging 8 at a time makes ingestion ~30%
# faster (measured: 4.7k -> 6.2k rows/s of 360 tokens) for a few more segments to read per query.
FTS_MERGE_V1 = Migration(
    "text index: merge 8 segments at a time",
    "INSERT INTO message_text (message_text, rank) VALUES ('automerge', 8);",
)

ARCHIVE_META_SQL = """
    CREATE TABLE message_meta (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        rid INTEGER NOT NULL UNIQUE,
        sha256 TEXT NOT NULL,
        archived_ms INTEGER NOT NULL,
        received_ms INTEGER,
        retention_ms INTEGER
    );
    CREATE INDEX message_meta_sha256 ON message_meta (sha256);
    CREATE INDEX message_meta_archived ON message_meta (archived_ms);
    CREATE INDEX message_meta_received ON message_meta (received_ms);
    CREATE INDEX message_meta_retention ON message_meta (retention_ms);
    CREATE TABLE message_holds (
        hold_id TEXT NOT NULL,
        rid INTEGER NOT NULL,
        PRIMARY KEY (hold_id, rid)
    ) WITHOUT ROWID;
    CREATE INDEX message_holds_rid ON message_holds (rid);
    ALTER TABLE docs ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
"""


def _ms(doc: dict, name: str) -> int | None:
    value = doc.get(name)
    return None if value is None else to_ms(parse_time(value))


def backfill_archive_meta(conn: sqlite3.Connection) -> None:
    """Give every message of an existing archive its row: sequence numbers in the order the
    messages were archived (``archived_at``, then rid), times from the documents.

    One pass over the documents into a temporary table, then one ordered INSERT, so memory stays
    flat however large the archive (about a minute per million messages).
    """
    conn.execute("CREATE TEMP TABLE meta_load (rid INTEGER, sha256 TEXT, archived_ms INTEGER, received_ms INTEGER, "
                 "retention_ms INTEGER)")  # fmt: skip
    holds: list[tuple[str, int]] = []
    cursor = conn.execute("SELECT rid, doc FROM message_docs")
    while rows := cursor.fetchmany(1000):
        batch = []
        for rid, blob in rows:
            doc = codec.unpack_doc(blob)
            batch.append((rid, doc["sha256"], _ms(doc, "archived_at"), _ms(doc, "received_at"), _ms(doc, "retention_until")))
            holds += [(hold, rid) for hold in doc.get("legal_holds") or []]
        conn.executemany("INSERT INTO meta_load VALUES (?, ?, ?, ?, ?)", batch)
    conn.execute("INSERT INTO message_meta (rid, sha256, archived_ms, received_ms, retention_ms) "
                 "SELECT rid, sha256, archived_ms, received_ms, retention_ms FROM meta_load ORDER BY archived_ms, rid")  # fmt: skip
    conn.executemany("INSERT OR IGNORE INTO message_holds (hold_id, rid) VALUES (?, ?)", holds)
    conn.execute("DROP TABLE meta_load")


ARCHIVE_META_V1 = Migration(
    "arrival sequence, archive times, legal holds; document versions", ARCHIVE_META_SQL, backfill_archive_meta
)



def backfill_domains(conn: sqlite3.Connection) -> None:
    """Domain keys (``sd:``/``rd:``) for the sender and recipient keys already there: one
    INSERT ... SELECT over the index range of each kind (SQLite reads it fully before writing)."""
    conn.create_function("mail_domain", 1, domain_of, deterministic=True)
    for kind, domain_kind in ((SENDER, SENDER_DOMAIN), (RECIPIENT, RECIPIENT_DOMAIN)):
        lo, hi = prefix_bounds(kind)
        conn.execute(
            "INSERT OR IGNORE INTO message_keys (key, rid) SELECT ? || mail_domain(substr(key, ?)), rid FROM message_keys "
            "WHERE key >= ? AND key < ? AND mail_domain(substr(key, ?)) IS NOT NULL",
            (f"{domain_kind}:", len(lo) + 1, lo, hi, len(lo) + 1),
        )


DOMAIN_KEYS_V1 = Migration("sender and recipient domains as filter keys", "", backfill_domains)

REINDEX_PROGRESS_ROWS = 20_000  # archives above this many messages print their re-index progress
REINDEX_BATCH = 1000


def rebuild_text_index(conn: sqlite3.Connection, why: str = "bigram index for CJK search") -> None:
    """Re-index every message in the current form of ``fts_text.index_columns`` (CJK runs as
    bigrams, department keys), from the stored documents: the table is contentless, so its old
    tokens cannot be read back. The table is dropped first, so the new index reuses the old one's
    pages. ``why``: for the progress message.

    Runs in the opening write transaction like every step (other processes wait for it). About
    0.6 CPU ms a message (tokenizing and FTS5 insertion, as at import): minutes for a million,
    so archives above REINDEX_PROGRESS_ROWS print their progress on stderr.
    """
    # the tokenizer modules: imported only when a rebuild runs
    from server.store.sqlite.fts_text import INSERT_TEXT, index_columns

    # Debian's SQLite zeroes every freed page (SECURE_DELETE): the old index's pages hold the same
    # tokens the new one is built from (a purged message's were zeroed when it was purged), so
    # they are freed without writing gigabytes of zeros into the WAL first.
    secure = conn.execute("PRAGMA secure_delete").fetchone()[0]
    conn.execute("PRAGMA secure_delete = 0")
    conn.execute("DROP TABLE message_text")
    conn.execute(f"PRAGMA secure_delete = {int(secure)}")
    conn.execute(MESSAGE_TEXT_SQL)
    conn.execute(FTS_MERGE_V1.sql)
    for statement in [FTS_HASH_V1.sql, *_statements(FTS_MERGE_V2.sql)]:  # harmless before their own steps
        conn.execute(statement)
    total = conn.execute("SELECT count(*) FROM messages").fetchone()[0]  # the narrow table: few pages
    report = total > REINDEX_PROGRESS_ROWS
    if report:
        print(f"mailarchive: re-indexing the text of {total:,} messages ({why})",
              file=sys.stderr, flush=True)  # fmt: skip
    started, done, step = time.monotonic(), 0, max(total // 20, 1)
    cursor = conn.execute("SELECT rid, doc FROM message_docs ORDER BY rid")
    while rows := cursor.fetchmany(REINDEX_BATCH):
        batch = [(rid, *index_columns(codec.unpack_doc(blob))) for rid, blob in rows]
        conn.executemany(INSERT_TEXT, batch)
        if report and (done + len(rows)) // step > done // step:
            print(f"mailarchive: re-indexed {done + len(rows):,} of {total:,} messages "
                  f"({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)  # fmt: skip
        done += len(rows)


CJK_BIGRAMS_V1 = Migration("text index: CJK runs as bigrams", "", rebuild_text_index)

# FTS5 writes the terms it holds in memory out as a segment once they pass ``hashsize`` (1 MB by
# default). A bulk import holds ~8 MB of text back (pending_text.py) so that each segment is that
# much larger and merged fewer times; FTS5 must then hold it, too. The memory is the writer's,
# for the rows of one transaction, and only that large while an import runs.
FTS_HASH_V1 = Migration(
    "text index: 16 MB of terms in memory before a segment is written",
    "INSERT INTO message_text (message_text, rank) VALUES ('hashsize', 16777216);",
)

# FTS5 merges a level's segments once it has ``automerge`` of them. Each merge level rewrites
# every posting once, and with 8 at a time a 250 k import's index passed through ~2.3 levels
# (segments of ~8 MB held back, pending_text.py, to a ~900 MB index): the largest share of the
# import's disk writes left (its freed pages reused by the blobs and documents: 1.63 WAL frames a
# final page of each, bench/wal_pages.py). 16 at a time: ~1.7 levels. Measured at 250 k
# (bench/import_ab.py, one run each, load 3-4): 3.20x -> 2.98x the database written; every search
# of the bench mix answered identically, store CPU p95 per kind unchanged (keyword 22.3 -> 21.9 ms,
# CJK 16.7 -> 16.6, combined 15.2 -> 13.9; bench/search_ab.py, 3 rounds). ``crisismerge`` (a
# level merged at once, whatever the work budget) moves up with it, from 16 to 32.
FTS_MERGE_V2 = Migration(
    "text index: merge 16 segments at a time",
    "INSERT INTO message_text (message_text, rank) VALUES ('automerge', 16);\n"
    "INSERT INTO message_text (message_text, rank) VALUES ('crisismerge', 32);",
)
STAGED_KEYS_V1 = Migration("filter keys staged during bulk imports", STAGED_SQL)


def count_raw_references(conn: sqlite3.Connection) -> None:
    """``raws.refs``: how many messages refer to each blob, replacing the ``message_meta_sha256``
    index, whose only use was the purge's "is this blob still referred to?". Why: that index
    holds random digests, so each group commit of an import wrote most of its leaves again
    (12 WAL frames per final page at 100 k messages, bench/wal_pages.py).

    The new column's default is 1, what almost every blob has: only shared and unreferenced blobs
    are updated (updating any other row would rewrite its whole blob), found through the index
    before it is dropped. Idempotent (a test re-runs the later steps on a migrated file)."""
    if "refs" not in {row[1] for row in conn.execute("PRAGMA table_info(raws)")}:
        conn.execute("ALTER TABLE raws ADD COLUMN refs INTEGER NOT NULL DEFAULT 1")
    conn.execute("UPDATE raws SET refs = c.n FROM (SELECT sha256, count(*) AS n FROM message_meta GROUP BY sha256 "
                 "HAVING n > 1) c WHERE raws.sha256 = c.sha256 AND raws.refs != c.n")  # fmt: skip
    conn.execute("UPDATE raws SET refs = 0 WHERE sha256 IN (SELECT sha256 FROM raws "
                 "WHERE sha256 NOT IN (SELECT sha256 FROM message_meta))")  # both from their indexes alone  # fmt: skip
    conn.execute("DROP INDEX IF EXISTS message_meta_sha256")


RAW_REFS_V1 = Migration("reference counts on raw blobs instead of the message_meta sha256 index", "", count_raw_references)


def index_department_keys(conn: sqlite3.Connection) -> None:
    """The text index with its ``keys`` column (fts_text.py: a keyword AND a department is one
    MATCH). Skipped when the table has it already: an archive from before the CJK bigrams was
    just rebuilt in the current form by that step, and is not re-indexed twice."""
    if "keys" not in {row[1] for row in conn.execute("PRAGMA table_info(message_text)")}:
        rebuild_text_index(conn, "department keys in the text index")


DEPARTMENT_TOKENS_V1 = Migration("text index: department keys as tokens", "", index_department_keys)

# Append only.
MIGRATIONS: list[Migration] = [
    MESSAGES_V1, Migration("append-only audit log", AUDIT_V1_SQL), FTS_MERGE_V1, ARCHIVE_META_V1, DOMAIN_KEYS_V1,
    CJK_BIGRAMS_V1, STAGED_KEYS_V1, RAW_REFS_V1, DEPARTMENT_TOKENS_V1, FTS_HASH_V1, FTS_MERGE_V2,
]  # fmt: skip

# The document fields this schema knows. Listed here, not taken from the dataclass, so that a field
# added to the model is refused (as Elasticsearch's strict mapping refuses it) until the store is
# taught about it.
MESSAGE_FIELDS = frozenset(
    ("id", "sha256", "date", "archived_at", "size", "message_id", "subject", "sender", "sender_name", "recipients",
     "to", "cc", "bcc", "body_text", "attachment_names", "attachments", "mailboxes", "departments",
     "department_paths", "flags", "retention_until", "legal_hold", "parse_errors", "archive_seq", "received_at",
     "legal_holds")
)  # fmt: skip
ATTACHMENT_FIELDS = frozenset(("name", "type", "size", "sha256"))
SCHEMA_VERSION = len(MIGRATIONS)


def apply_migrations(conn: sqlite3.Connection) -> int:
    """Bring the open database up to date (caller holds a write transaction); returns the version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise sqlite3.DatabaseError(
            f"database schema version {version} is newer than this program ({len(MIGRATIONS)}): upgrade mailarchive"
        )
    for migration in MIGRATIONS[version:]:
        for statement in _statements(migration.sql):
            conn.execute(statement)
        if migration.run is not None:
            migration.run(conn)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    return len(MIGRATIONS)


def _statements(sql: str) -> list[str]:
    """Split a migration script (``executescript`` would commit the caller's transaction)."""
    parts, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            parts.append(current.strip())
            current = ""
    if current.strip():
        parts.append(current.strip())
    return parts


def unknown_fields(doc: dict) -> list[str]:
    """Fields of a message document the schema does not know (the strict-mapping check)."""
    extra = sorted(set(doc) - MESSAGE_FIELDS)
    for attachment in doc.get("attachments") or []:
        extra += [f"attachments.{k}" for k in sorted(set(attachment) - ATTACHMENT_FIELDS)]
    return extra


_STRINGS = ("id", "sha256", "message_id", "subject", "sender", "sender_name", "body_text")
_STRING_LISTS = ("recipients", "to", "cc", "bcc", "attachment_names", "mailboxes", "departments", "department_paths",
                 "flags", "parse_errors", "legal_holds")  # fmt: skip


def mistyped_fields(doc: dict) -> list[str]:
    """Fields whose values the schema cannot hold (Elasticsearch would refuse them at indexing)."""
    bad = [f for f in _STRINGS if not isinstance(doc.get(f), str)]
    bad += [f for f in _STRING_LISTS if not isinstance(doc.get(f), list) or not all(isinstance(v, str) for v in doc[f])]
    bad += [f for f in ("size", "archive_seq") if not isinstance(doc.get(f), int) or isinstance(doc.get(f), bool)]
    return bad
