"""The ``Store`` protocol of the store seam (``server.store.protocol`` holds its value types and errors,
and names ``Store`` too): kept apart because a ``typing.Protocol`` imports ``typing``, which a
command-line search otherwise never loads (issue #18 item 4).

Two backends implement it and pass one conformance suite (``tests/conformance``):
``server.store.sqlite`` (embedded default) and ``server.store.elasticsearch`` (production).
Messages are never deleted through this interface except by the retention purge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from server.model import Account, ArrivalHead, Message, MessageHead
from server.query.criteria import Criteria
from server.store.protocol import Aggregation, AuditQuery, AuditRecord, PartitionMember, PutResult, SearchPage

AggregateBy = Literal["day", "department", "mailbox"]


@runtime_checkable
class Store(Protocol):
    # --- messages -------------------------------------------------------------------------
    def put_messages(self, items: Sequence[tuple[Message, bytes]]) -> list[PutResult]:
        """Store messages with their raw bytes, idempotently by ``Message.id``.

        A message whose id exists already is *merged*: the union of ``mailboxes``,
        ``recipients``, ``bcc``, ``departments``, ``department_paths`` and ``flags`` (verdicts are
        per copy: a spam-flagged second copy flags the message) is kept, all other
        fields (``archive_seq`` included) and the raw bytes stay those of the first copy
        ("unchanged" if nothing new). A new message gets the next ``archive_seq`` (the caller's
        value is ignored); numbers are never handed out twice, gaps are possible.
        Raw bytes are single-instance by SHA-256. When this returns, every result not "failed"
        is durable (inside ``bulk_import``: once that block ends). Never raises for one bad
        document: it is reported as "failed". Several copies of one id in one batch are fine:
        the first is created, the later ones merge into it, as if put one after the other.
        (Every backend: ``server.store.common.prepared.put_messages``.)
        """

    # A function with no database access (picklable: an import's parser processes call it):
    # ``prepare_message(message, raw, *, raw_sha256=None)`` -> this backend's prepared row for
    # ``put_prepared``; raises for a message the backend cannot hold (``put_messages`` reports it as
    # "failed"). ``raw_sha256``: the hash of ``raw`` when it was computed where the bytes were read.
    prepare_message: Callable[..., Any]

    def put_prepared(self, rows: Sequence[Any]) -> list[PutResult]:
        """``put_messages`` of rows ``prepare_message`` made (the same results, merging and
        durability), doing only what needs the database."""

    def reopen(self) -> Store:
        """A new handle on the same archive sharing no connection with this one: what a forked
        parser process of an import reads the directory through (a connection or socket
        inherited through fork must not be used by both processes)."""

    def bulk_import(self) -> AbstractContextManager[None]:
        """A block of many ``put_messages`` by one importer (``mailarchive import``): the backend
        may delay durability to the end of the block (an import is idempotent: a re-run after a
        crash stores what was lost) and keep its memory small. Not for journal mail."""

    def get_message(self, message_id: str) -> Message | None: ...

    def get_messages(self, ids: Sequence[str]) -> list[Message]:
        """Those of ``ids`` that exist, in the given order."""

    def get_raw(self, sha256: str) -> bytes | None:
        """The original bytes, exactly as received."""

    def get_raws(self, sha256s: Sequence[str]) -> dict[str, bytes]:
        """The original bytes of each of ``sha256s`` that exists, in one round trip (bulk readers:
        Export All, POP3 read-ahead). The caller bounds the batch: every blob is in memory at once."""

    def raw_keys(self, *, batch_size: int = 1000) -> Iterator[str]:
        """The SHA-256 key of every stored raw blob, each once, in no particular order, streamed
        in batches (the reconcile job compares them with the messages; memory stays flat)."""

    def search(self, criteria: Criteria, *, limit: int = 50, cursor: str | None = None,
               sort: str = "-date") -> SearchPage:  # fmt: skip
        """Exact total, cursor paging (no offsets). ``sort`` (``server.query.criteria.SORTS``):
        ``-date`` (the default: date descending, ties id descending), ``date``, ``-size``,
        ``size``; ties are always broken by id in the sort's direction, and the cursor only
        resumes the order it was made for."""

    def scan(self, criteria: Criteria, *, batch_size: int = 500) -> Iterator[Message]:
        """All matches in search order, streamed in batches (exports, POP3); memory stays flat."""

    def scan_heads(self, criteria: Criteria, *, batch_size: int = 500) -> Iterator[MessageHead]:
        """``scan`` reading only each match's ``MessageHead`` (Export All): same matches, same order."""

    def count(self, criteria: Criteria | None = None) -> int:
        """Matches of ``criteria``, or all archived messages when None."""

    def total_size(self, criteria: Criteria | None = None) -> int:
        """Sum of the archived sizes (raw octets) of the matches: what an export of them holds.
        A blob shared by several matches counts once per match, as the export writes it."""

    def aggregate(self, criteria: Criteria | None, by: AggregateBy, *, size: int = 100) -> Aggregation:
        """Counts per UTC day (``YYYY-MM-DD``), per exact department, or per mailbox.

        Order (both backends, checked by the conformance suite): days ascending, days without
        mail left out, ``size`` not applied; departments and mailboxes by count descending, then
        key ascending, the ``size`` largest.
        """

    def distinct_mailboxes(self) -> int:
        """How many different mailboxes have archived mail (summary page)."""

    def storage_bytes(self) -> int | None:
        """Bytes the archive occupies on disk (SQLite file and its journal; the cluster's primary
        store size of every index of the prefix); None when the backend cannot tell."""

    # --- arrival order, retention and holds ---------------------------------------------------
    def scan_archived(self, after_seq: int, limit: int) -> list[Message]:
        """Up to ``limit`` messages with ``after_seq < archive_seq <= max_archive_seq()``, ascending.

        Arrival order, whatever the messages' dates: what a POP3 maildrop or a reconcile job
        walks. Never returns a message above the stable watermark. A reader that got fewer than
        ``limit`` may record as its position a ``max_archive_seq()`` read *before* this call (or
        the last seq returned), never one read after it: numbers committed in between would be
        skipped.
        """

    def scan_archived_heads(self, after_seq: int, limit: int) -> list[ArrivalHead]:
        """``scan_archived`` reading only each message's ``ArrivalHead`` (a POP3 window): the same
        messages in the same order under the same watermark rule, each field as it has it."""

    def max_archive_seq(self) -> int:
        """The stable watermark: the highest S such that every seq <= S is committed or abandoned.

        A reader that has seen everything up to S can remember S and never miss a message whose
        write was still in flight (it will get a higher seq or none). 0 for an empty archive.
        """

    def delete_messages(self, ids: Sequence[str]) -> int:
        """PURGE ONLY (the retention service is the one caller): delete these messages and each raw
        blob no remaining message refers to. Unknown ids are skipped; returns how many were deleted."""

    def set_legal_hold(self, ids: Sequence[str], hold_id: str, on: bool) -> int:
        """Add (``on``) or remove ``hold_id`` in the messages' ``legal_holds``; returns how many changed."""

    def set_retention(self, updates: Mapping[str, datetime]) -> int:
        """Re-stamp ``retention_until`` by message id; returns how many existed."""

    def scan_expired(self, now: datetime, limit: int, after_seq: int = 0) -> list[Message]:
        """Up to ``limit`` messages with ``retention_until < now``, no legal hold and
        ``archive_seq > after_seq``, ascending by seq (the purge pages with ``after_seq``)."""

    def expired_partitions(self, now: datetime, max_seq: int) -> list[str]:
        """PURGE ONLY: partitions (Elasticsearch: monthly indices) whose every message has
        ``retention_until < now``, no legal hold and ``archive_seq <= max_seq``; [] where the backend
        has no partitions (SQLite)."""

    def drop_partition(self, name: str, now: datetime, max_seq: int,
                       before_drop: Callable[[list[PartitionMember]], None]) -> int:  # fmt: skip
        """PURGE ONLY: delete one such partition whole, and each blob nothing refers to any more.

        Writes to it are blocked and the condition checked again first (0 and nothing dropped if it
        no longer holds); ``before_drop`` gets its messages before anything is deleted (the ledger).
        Returns how many messages went."""

    # --- directory ------------------------------------------------------------------------
    def upsert_accounts(self, accounts: Iterable[Account]) -> int: ...

    def get_accounts(self, addresses: Sequence[str]) -> dict[str, Account]:
        """Accounts by lower-case address; unknown addresses are absent."""

    def list_accounts(self, *, status: str | None = None) -> list[Account]: ...

    def list_departments(self) -> list[str]:
        """Every department path in the directory, ancestors included, sorted."""

    # --- settings and small documents -------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any: ...

    def set_setting(self, key: str, value: Any) -> None:
        """JSON-serialisable values only."""

    def incr_counter(self, key: str, by: int = 1) -> int:
        """Atomically add to a named counter (safe across processes); returns the new value."""

    def incr_counters(self, amounts: Mapping[str, int]) -> None:
        """``incr_counter`` for several counters in one write (a batch's counters, one commit)."""

    def get_counter(self, key: str) -> int: ...

    def put_doc(self, kind: str, key: str, doc: dict[str, Any], *, if_version: int | None = None) -> int:
        """Small JSON documents by kind (users, api tokens, export tasks, pop3 state...).

        Returns the new version (1 for a new document, +1 per write). ``if_version`` makes it a
        compare-and-set: write only if the stored version is that one (``0``: only if there is no
        document), else raise ``VersionConflict`` and change nothing.
        """

    def get_doc(self, kind: str, key: str) -> dict[str, Any] | None: ...

    def get_doc_versioned(self, kind: str, key: str) -> tuple[dict[str, Any], int] | None:
        """The document and its version (for a later ``put_doc(..., if_version=version)``)."""

    def list_docs(
        self, kind: str, *, after: str | None = None, limit: int | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """(key, document) by key ascending: keys > ``after``, at most ``limit`` (None: all)."""

    def delete_doc(self, kind: str, key: str) -> bool:
        """For documents only (an expired token, say); messages have no delete here."""

    # --- audit (append-only; the hash chain is computed in server.audit) ----------------------
    def audit_append(self, record: AuditRecord) -> None:
        """Durably append; raises StoreError if ``record.seq`` is not last seq + 1."""

    def audit_last(self) -> AuditRecord | None: ...

    def audit_query(self, query: AuditQuery) -> tuple[int, list[AuditRecord]]:
        """(exact total, newest-first page)."""

    def audit_scan(self, *, from_seq: int = 1) -> Iterator[AuditRecord]:
        """Every entry in seq order (verification)."""

    # --- life cycle --------------------------------------------------------------------------
    def streaming_reads(self) -> AbstractContextManager[None]:
        """A block in which this thread reads through a large part of the archive once (Export
        All): the backend may stop caching what it reads, so the reader's memory stays flat."""

    def refresh(self) -> None:
        """Make everything written so far visible to search (no-op where it already is)."""

    def close(self) -> None: ...
