"""The store seam: everything above it (indexing, query, export, audit, web, pop3d) talks to this.

Two backends implement it and pass one conformance suite (``tests/conformance``):
``server.store.sqlite`` (embedded default) and ``server.store.elasticsearch`` (production).
Messages are never deleted through this interface except by the retention purge.
"""

from __future__ import annotations

from datetime import datetime

from server.model import Message
from server.record import Record
from server.tuples import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any, Literal

    from server.store.interface import AggregateBy as AggregateBy
    from server.store.interface import Store as Store


class StoreError(RuntimeError):
    """The backend failed; the message says what and where."""


class VersionConflict(StoreError):
    """``put_doc(..., if_version=N)`` found another version (or a document where none was expected)."""

    def __init__(self, kind: str, key: str, expected: int, actual: int | None) -> None:
        found = "no document" if actual is None else f"version {actual}"
        wanted = "no document" if expected == 0 else f"version {expected}"
        super().__init__(f"document {kind}/{key}: expected {wanted}, found {found}")
        self.kind, self.key, self.expected, self.actual = kind, key, expected, actual


class PutResult(NamedTuple):
    """Outcome of one message in a ``put_messages`` batch."""

    id: str
    status: Literal["created", "merged", "unchanged", "failed"]
    error: str | None = None  # backend's reason when status == "failed"
    archive_seq: int = 0  # the seq given to a "created" message (the ingest ledger records it); else 0


class SearchPage(NamedTuple):
    total: int  # exact
    results: list[Message]
    next_cursor: str | None = None  # None: no more results
    previous_cursor: str | None = None  # set by the archive service on a page it knows is not the first


class PartitionMember(NamedTuple):
    """A message of a partition about to be dropped whole (what the purge ledger records)."""

    id: str
    archive_seq: int
    sha256: str


class AuditRecord(Record):
    """One audit entry as stored. ``seq`` is assigned by the log, contiguous from 1 (a ``Record``, not
    a dataclass: a command-line search writes one and would build the class at start-up)."""

    def __init__(self, seq: int, time: datetime, actor: str, role: str, source_ip: str, operation: str, target: str,
                 details: dict[str, Any], result: str, prev_hash: str, hash: str) -> None:  # fmt: skip
        self.seq, self.time, self.actor, self.role, self.source_ip = seq, time, actor, role, source_ip
        self.operation, self.target, self.details, self.result = operation, target, details, result
        self.prev_hash, self.hash = prev_hash, hash


class AuditQuery(NamedTuple):
    """A NamedTuple, not a dataclass (a command-line search would build it at start-up); ``_replace`` pages it."""

    start: datetime
    end: datetime
    actor: str | None = None
    operation: str | None = None
    keyword: str | None = None  # substring of target or details, case-insensitive
    limit: int = 100
    after_seq: int | None = None  # paging: newest first, entries with seq < after_seq


class Aggregation(Record):
    def __init__(self, buckets: dict[str, int] | None = None) -> None:
        self.buckets = {} if buckets is None else buckets  # key -> count, key order as the backend sorts it


def __getattr__(name: str) -> object:
    """``Store`` (a ``typing.Protocol``) and ``AggregateBy`` live in ``server.store.interface``, imported
    on first use: ``typing`` costs a command-line search ~12 M instructions, and nothing a search runs
    needs the protocol class (the modules on its path import it for type checkers only)."""
    if name in ("Store", "AggregateBy"):
        from server.store import interface

        return getattr(interface, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
