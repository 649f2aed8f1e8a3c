"""Check the whole archive against the audit chain and its ledgers (``mailarchive verify``).

What is checked, in order:

1. the audit chain (``verify.py``: links, hashes, anchors, an external head), collecting the
   ``ingest_batch`` and ``retention_purge`` entries it vouches for;
2. each ingest ledger document against the Merkle root in its entry (an edited ledger is caught
   here), and the purge ledger (written by the retention purge) against its runs' entries: a
   purge batch counts only inside a run with a ``retention_purge`` entry, within its seq range
   and its count, so a forged purge document cannot explain a deletion away;
3. every message in arrival order: it is in the ledger at its seq with the same id, SHA-256 and
   document digest, and its raw blob is present and hashes to that SHA-256;
4. every ledgered message was seen (or purged, per the purge ledger), and the search index
   counts as many messages as were read.

Resumable: the expected leaves and the scan position live in a checkpoint (a SQLite file in
the data directory, whatever the store backend), committed after every page of messages. A run
that is interrupted continues where it stopped; a finished run removes the checkpoint. Steps 1
and 2 are repeated on resume (they are cheap next to hashing every blob) and add only new
batches.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.audit.ledger import INGEST_KIND, PURGE_KIND, Leaf, batch_root, document_digest
from server.audit.operations import Op, Result
from server.audit.verify import Verdict
from server.model import Message
from server.store.protocol import AuditRecord, Store

PAGE = 200
SHOWN = 20  # problems kept with their text; beyond that only counted
PURGE_PAGE = 100  # purge ledger documents read at a time (each lists up to a purge batch of ids)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS expected (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, sha256 TEXT NOT NULL,
                                     digest TEXT NOT NULL, seen INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS purged (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, run TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (kind TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS problems (kind TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass
class Report:
    messages: int = 0  # messages read and checked (this run and the runs it resumed)
    batches: int = 0  # ingest ledger batches vouched for by the chain
    audit_entries: int = 0
    resumed_from: int = 0  # seq the message scan resumed after (0: a fresh run)
    counts: dict[str, int] = field(default_factory=dict)  # problem kind -> how many
    problems: list[tuple[str, str]] = field(default_factory=list)  # the first SHOWN (kind, text)

    @property
    def ok(self) -> bool:
        return not self.counts

    @property
    def total_problems(self) -> int:
        return sum(self.counts.values())


class Checkpoint:
    """The state of one verification run (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path)
        self.conn.executescript(_SCHEMA)

    def get(self, key: str) -> int:
        row = self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def put(self, key: str, value: int) -> None:
        self.conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    def problem(self, kind: str, text: str) -> None:
        self.conn.execute("INSERT INTO problems (kind, text) VALUES (?, ?)", (kind, text))

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class ArchiveCheck:
    """One run; ``progress(done, total)`` is called after every page of messages."""

    def __init__(self, store: Store, checkpoint: Checkpoint, *, progress: Callable[[int, int], None] | None = None):
        self.store = store
        self.cp = checkpoint
        self.progress = progress or (lambda done, total: None)
        self.entries: list[AuditRecord] = []  # ingest_batch
        self.purges: dict[str, AuditRecord] = {}  # run id -> its retention_purge entry

    def collect(self, record: AuditRecord) -> None:
        """The chain verifier's ``visit``: keep the ledger entries."""
        if record.operation == Op.INGEST_BATCH:
            self.entries.append(record)
        elif record.operation == Op.RETENTION_PURGE and record.result == Result.SUCCESS \
                and not record.details.get("dry_run"):  # fmt: skip
            self.purges[record.target] = record

    def run(self, chain: Verdict) -> Report:
        self.cp.conn.execute("DELETE FROM problems WHERE kind = 'audit'")  # re-checked on every run
        if not chain.ok:
            where = f"first bad entry: {chain.first_bad}: " if chain.first_bad else ""
            self._problem("audit", f"audit log: {where}{chain.reason}")
        self._load_ledgers()
        self._scan_messages()
        self._leftovers()
        return self._report(chain)

    # --- step 2: ledger documents against their entries -------------------------------------
    def _load_ledgers(self) -> None:
        for entry in self.entries:
            key, root = str(entry.details.get("ledger")), entry.details.get("root")
            if self._loaded(INGEST_KIND, key):
                continue
            leaves = _leaves(self.store.get_doc(INGEST_KIND, key))
            if leaves is None:
                self._problem("ledger", f"{INGEST_KIND} {key} (audit entry {entry.seq}) is missing or unreadable: "
                                        f"the {entry.details.get('count')} messages it lists cannot be checked")
            elif batch_root(leaves) != root:
                self._problem("ledger", f"{INGEST_KIND} {key} does not match the Merkle root in audit entry "
                                        f"{entry.seq}: the ledger document was altered")
            else:
                self.cp.conn.executemany("INSERT OR REPLACE INTO expected (seq, id, sha256, digest) VALUES (?, ?, ?, ?)",
                                         [(x.seq, x.id, x.sha256, x.digest) for x in leaves])
            self.cp.conn.execute("INSERT INTO batches (kind, key) VALUES (?, ?)", (INGEST_KIND, key))
        self._load_purges()
        self.cp.commit()

    def _loaded(self, kind: str, key: str) -> bool:
        return self.cp.conn.execute("SELECT 1 FROM batches WHERE kind = ? AND key = ?", (kind, key)).fetchone() is not None

    def _load_purges(self) -> None:
        """The purge ledger, read whole on every run (purged seqs are few next to the archive)."""
        self.cp.conn.execute("DELETE FROM purged")
        after: str | None = None
        while page := self.store.list_docs(PURGE_KIND, after=after, limit=PURGE_PAGE):
            for key, doc in page:
                self._purge_batch(key, doc)
            after = page[-1][0]
        for run, entry in self.purges.items():
            (listed,) = self.cp.conn.execute("SELECT count(*) FROM purged WHERE run = ?", (run,)).fetchone()
            if listed > int(entry.details.get("purged") or 0):
                self._problem("ledger", f"the purge ledger of run {run} lists {listed} messages but its audit "
                                        f"entry {entry.seq} says {entry.details.get('purged')} were purged: "
                                        "entries were added to the ledger")

    def _purge_batch(self, key: str, doc: dict[str, Any]) -> None:
        run = str(doc.get("run") or key.partition(":")[0])
        entry = self.purges.get(run)
        ids, seqs = doc.get("ids") or [], doc.get("seqs") or []
        if entry is None:
            self._problem("purge", f"{PURGE_KIND} {key} lists {len(ids)} messages of purge run {run}, which has no "
                                   "retention_purge audit entry (a purge still running, or a forged ledger): "
                                   "they count as deleted")
            return
        low, high = entry.details.get("first_seq") or 0, entry.details.get("last_seq") or 0
        inside = [(int(s), str(i), run) for s, i in zip(seqs, ids, strict=False) if low <= int(s) <= high]
        if len(inside) < len(ids):
            self._problem("ledger", f"{PURGE_KIND} {key} lists messages outside seq {low}..{high} of its run's "
                                    f"audit entry {entry.seq}: the ledger was altered")
        self.cp.conn.executemany("INSERT OR REPLACE INTO purged (seq, id, run) VALUES (?, ?, ?)", inside)

    # --- step 3: every message ---------------------------------------------------------------
    def _scan_messages(self) -> None:
        after = self.cp.get("after_seq")
        if not self.cp.get("resumed_from"):
            self.cp.put("resumed_from", after)
        total = self.store.count()
        while True:
            page = self.store.scan_archived(after, PAGE)
            for message in page:
                self._check_message(message)
            if not page:
                break
            after = page[-1].archive_seq
            self.cp.put("after_seq", after)
            self.cp.put("scanned", self.cp.get("scanned") + len(page))
            self.cp.commit()
            self.progress(self.cp.get("scanned"), total)
        self.cp.put("done", 1)
        self.cp.commit()

    def _check_message(self, message: Message) -> None:
        seq, mid = message.archive_seq, message.id
        row = self.cp.conn.execute("SELECT id, sha256, digest FROM expected WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            self._problem("unledgered", f"message {mid} (seq {seq}) is not in the ingest ledger: "
                                        "added behind the archive's back, or its ledger entry was never written")
        else:
            self.cp.conn.execute("UPDATE expected SET seen = 1 WHERE seq = ?", (seq,))
            self._against_leaf(message, *row)
        self._check_blob(message)

    def _against_leaf(self, message: Message, mid: str, sha256: str, digest: str) -> None:
        seq = message.archive_seq
        if message.id != mid:
            self._problem("reordered", f"seq {seq} holds message {message.id}, but the ledger recorded {mid} there: "
                                       "messages were re-ordered or replaced")
        elif message.sha256 != sha256:
            self._problem("document", f"message {mid} (seq {seq}): its recorded SHA-256 was changed "
                                      f"from {sha256} to {message.sha256}")
        elif document_digest(message) != digest:
            self._problem("document", f"message {mid} (seq {seq}): its stored document was altered "
                                      "(subject, sender, dates or body differ from what was archived)")

    def _check_blob(self, message: Message) -> None:
        raw = self.store.get_raw(message.sha256)
        if raw is None:
            self._problem("blob_missing", f"message {message.id} (seq {message.archive_seq}): "
                                          f"its original bytes (sha256 {message.sha256}) are missing")
        elif hashlib.sha256(raw).hexdigest() != message.sha256:
            self._problem("blob_altered", f"message {message.id} (seq {message.archive_seq}): its stored bytes "
                                          f"do not match sha256 {message.sha256} (replaced or damaged)")

    # --- step 4: what was ledgered but not seen ---------------------------------------------
    def _leftovers(self) -> None:
        rows = self.cp.conn.execute(
            "SELECT e.seq, e.id FROM expected e WHERE e.seen = 0 AND NOT EXISTS "
            "(SELECT 1 FROM purged p WHERE p.seq = e.seq AND p.id = e.id) ORDER BY e.seq"
        ).fetchall()
        for start in range(0, len(rows), PAGE):
            chunk = rows[start : start + PAGE]
            again = {m.id: m.archive_seq for m in self.store.get_messages([mid for _, mid in chunk])}
            for seq, mid in chunk:
                if mid in again:
                    self._problem("reindexed", f"message {mid} (seq {seq}) lost its document, which was archived "
                                               f"again from its raw bytes as seq {again[mid]} (reconcile --repair?)")
                else:
                    self._problem("missing", f"message {mid} (seq {seq}) is in the ingest ledger but not in the "
                                             "archive: it was deleted (and not by the retention purge)")
        indexed, scanned = self.store.count(), self.cp.get("scanned")
        if indexed != scanned:
            self._problem("index", f"the search index counts {indexed} messages but {scanned} documents were read "
                                   "in arrival order: documents and index disagree")
        self.cp.commit()

    # --- bookkeeping ----------------------------------------------------------------------
    def _problem(self, kind: str, text: str) -> None:
        self.cp.problem(kind, text)

    def _report(self, chain: Verdict) -> Report:
        conn = self.cp.conn
        counts = dict(conn.execute("SELECT kind, count(*) FROM problems GROUP BY kind ORDER BY kind").fetchall())
        shown = conn.execute(f"SELECT kind, text FROM problems ORDER BY rowid LIMIT {SHOWN}").fetchall()
        return Report(messages=self.cp.get("scanned"), batches=len(self.entries), audit_entries=chain.entries,
                      resumed_from=self.cp.get("resumed_from"), counts=counts, problems=shown)  # fmt: skip


def _leaves(doc: dict[str, Any] | None) -> list[Leaf] | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("leaves"), list):
        return None
    try:
        return [Leaf.from_list(value) for value in doc["leaves"]]
    except (TypeError, ValueError):
        return None


def open_checkpoint(path: Path, *, restart: bool) -> Checkpoint:
    """The unfinished run's checkpoint (resumed), or a fresh one; ``restart`` discards it."""
    if restart:
        path.unlink(missing_ok=True)
    return Checkpoint(path)
