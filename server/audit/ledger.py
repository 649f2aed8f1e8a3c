"""The ingest ledger: every archived message enters the audit hash chain, one entry per batch.

After a ``put_messages`` batch is durable, the messages it *created* (merges and duplicates were
ledgered when first archived) become leaves ``seq, id, sha256, document digest``. The leaves are
kept in a ledger document (kind ``ingest_ledger``, key = the batch's first ``archive_seq``) and
their Merkle root in an ``ingest_batch`` audit entry, so the chain, which cannot be rewritten
without breaking or being caught by the anchors and an external head record, vouches for them:

* a deleted message is a leaf without its message (unless the purge ledger says it was purged);
* altered bytes no longer match the leaf's SHA-256; an edited subject or sender no longer
  matches the document digest; messages swapped in arrival order sit at the wrong seq;
* an edited ledger document no longer hashes to the root in its audit entry.

Purges are not deletions: the retention purge (``server/services/retention.py``) writes the
ids, seqs and SHA-256 of each batch to its purge ledger (documents ``purge_ledger/RUN:NNNNNN``)
before deleting them, and one ``retention_purge`` audit entry per run with its counts and seq
range; ``mailarchive verify`` accepts a purge ledger batch only within a run that entry vouches for.

The digest covers the fields fixed at first archiving. Not covered: the merged fields (mailboxes,
recipients, bcc, departments, flags: later copies add to them), ``retention_until`` and the legal
holds (changed by retention and hold use cases, which audit themselves).

Cost: a digest per new message (from the document just stored, with the seq ``put_messages``
reports), one small document and one audit entry per batch of up to 200 messages.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.audit.chain import canonical_json
from server.audit.log import AuditLog, AuditUnavailable
from server.audit.merkle import merkle_root
from server.audit.operations import Op
from server.config import Config
from server.model import TIME_FIELDS, Attachment, Message, format_time
from server.store.common.documents import MERGED_FIELDS
from server.store.protocol import Store, StoreError

log = logging.getLogger(__name__)

INGEST_KIND = "ingest_ledger"
PURGE_KIND = "purge_ledger"  # written by the retention purge: {"run", "ids", "seqs", "sha256", ...}
LEDGER_ACTOR, LEDGER_ROLE = "archive", "system"
LEDGER_FAILURES = "ledger_failures"  # counter: batches archived without their ledger entry (verify reports them)
# Fields a later copy, the retention or the hold use cases legitimately change; not in the digest.
MUTABLE_FIELDS = frozenset({*MERGED_FIELDS, "retention_until", "legal_hold", "legal_holds", "archive_seq"})
_FIXED = tuple(name for name in Message._fields if name not in MUTABLE_FIELDS)
_FIXED_TIMES = tuple(name for name in TIME_FIELDS if name in _FIXED)


@dataclass(frozen=True)
class Leaf:
    seq: int
    id: str
    sha256: str
    digest: str  # of the document's fixed fields

    def encode(self) -> bytes:
        return f"{self.seq}\t{self.id}\t{self.sha256}\t{self.digest}".encode()

    def to_list(self) -> list[Any]:
        return [self.seq, self.id, self.sha256, self.digest]

    @classmethod
    def from_list(cls, value: Sequence[Any]) -> Leaf:
        seq, mid, sha256, digest = value
        return cls(int(seq), str(mid), str(sha256), str(digest))


def document_digest(message: Message) -> str:
    """SHA-256 over the canonical JSON of the fields fixed when the message was first archived, in
    their stored form (times as ``format_time`` text), so a document read back digests the same."""
    doc: dict[str, Any] = {name: getattr(message, name) for name in _FIXED}
    for name in _FIXED_TIMES:
        if doc[name] is not None:
            doc[name] = format_time(doc[name])
    doc["attachments"] = [vars(a) if isinstance(a, Attachment) else a for a in doc["attachments"]]
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def leaf_of(message: Message) -> Leaf:
    return Leaf(message.archive_seq, message.id, message.sha256, document_digest(message))


def batch_root(leaves: Sequence[Leaf]) -> str:
    return merkle_root([leaf.encode() for leaf in leaves])


def ledger_key(first_seq: int) -> str:
    """Zero-padded so the documents list in seq order."""
    return f"{first_seq:012d}"


class LedgerUnavailable(RuntimeError):
    """The batch is stored but its ledger entry was not written (``verify`` will report it)."""


class Ledger:
    """Writes ingest ledger batches; built by the ingestion pipeline."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.audit_log = AuditLog.for_config(store, config)

    def record_ingested(self, leaves: Sequence[Leaf], *, source: str = "") -> int:
        """Ledger the messages a batch just created, each with the seq the store gave it and the
        digest of its document (``document_digest``, made where it was parsed); a leaf with seq 0
        (a backend that did not say) is read back from the store. Returns how many."""
        if not leaves:
            return 0
        if not all(leaf.seq for leaf in leaves):
            leaves = [leaf_of(m) for m in self.store.get_messages([leaf.id for leaf in leaves])]
        leaves = sorted(leaves, key=lambda leaf: leaf.seq)
        if not leaves:
            return 0
        kind, operation = INGEST_KIND, Op.INGEST_BATCH
        key = ledger_key(leaves[0].seq)
        root = batch_root(leaves)
        try:
            self.store.put_doc(kind, key, {"leaves": [leaf.to_list() for leaf in leaves], "root": root})
            self.audit_log.record(
                actor=LEDGER_ACTOR, role=LEDGER_ROLE, operation=operation, target=f"{kind}/{key}",
                details={"ledger": key, "count": len(leaves), "first_seq": leaves[0].seq,
                         "last_seq": leaves[-1].seq, "root": root, "source": source},
            )  # fmt: skip
        except (StoreError, AuditUnavailable) as exc:
            log.error("%s batch %s (%d messages) not recorded: %s", kind, key, len(leaves), exc)
            raise LedgerUnavailable(f"the {kind} entry for seq {leaves[0].seq}.. was not written: {exc}") from exc
        return len(leaves)
