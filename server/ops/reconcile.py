"""Reconcile: the metadata index against the raw store, and repair of what the raw bytes allow.

Invariants (docs/operations.md), checked through the store interface so both backends get the
same walk:

- ``blob_missing``: a message whose raw blob is gone. Not repairable here (restore from backup).
- ``blob_mismatch``: a blob whose bytes do not hash to its SHA-256 key. Not repairable here.
- ``indexed_twice``: one message id met twice by the arrival-order scan, or two ids sharing one
  blob (the same bytes indexed as two messages). Reported: deleting archived mail is the
  retention purge's job alone, so an operator decides.
- ``not_indexed``: a blob no message refers to whose bytes are intact: the index lost (or never
  got) its document, typically a crash between the raw write and the document write. Repaired by
  re-indexing the raw bytes through the ingestion pipeline (mailboxes then come from the headers
  and the directory; a journal envelope's Bcc is not in the bytes).
- ``orphan_blob``: a blob no message refers to that cannot be re-indexed (bytes altered, or its
  message id already archived with other bytes). Reported.

Memory: one set entry per message (id and SHA-256, ~200 bytes), so ~2 GB for ten million
messages; the blobs themselves are read one at a time. Time: every blob is read and hashed once.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from server.config import Config
from server.model import format_time, now_utc, parse_time
from server.store.protocol import Store

KINDS = ("blob_missing", "blob_mismatch", "indexed_twice", "not_indexed", "orphan_blob")
PAGE = 500
KEEP_PROBLEMS = 200  # problems listed in the saved report (the counts are complete)


@dataclass
class Problem:
    kind: str
    key: str  # message id, or the blob's SHA-256
    detail: str
    repaired: bool = False


@dataclass
class ReconcileReport:
    repair: bool
    started_at: str
    finished_at: str = ""
    messages_checked: int = 0
    blobs_checked: int = 0
    found: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    @property
    def unrepaired(self) -> Counter[str]:
        return Counter({k: n - self.repaired[k] for k, n in self.found.items() if n - self.repaired[k] > 0})

    @property
    def clean(self) -> bool:
        return not self.unrepaired

    def add(self, problem: Problem) -> None:
        self.found[problem.kind] += 1
        if problem.repaired:
            self.repaired[problem.kind] += 1
        if len(self.problems) < KEEP_PROBLEMS:
            self.problems.append(problem)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(found=dict(self.found), repaired=dict(self.repaired), unrepaired=dict(self.unrepaired))
        data["finished_at_epoch"] = parse_time(self.finished_at).timestamp() if self.finished_at else None
        return data


def sha256_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class Reconciler:
    def __init__(self, store: Store, config: Config, *, progress: Callable[[str], None] | None = None) -> None:
        self.store, self.config = store, config
        self.progress = progress or (lambda _line: None)

    def run(self, *, repair: bool) -> ReconcileReport:
        report = ReconcileReport(repair=repair, started_at=format_time(now_utc()))
        blob_of: dict[str, str] = {}  # sha256 -> first message id referring to it
        last_seq = self._walk_messages(report, blob_of, after_seq=0)
        unreferenced = [key for key in self._walk_blobs(report) if key not in blob_of]
        if unreferenced:  # mail archived during the walk wrote its blob first: look again
            self._walk_messages(report, blob_of, after_seq=last_seq, check=False)
            unreferenced = [key for key in unreferenced if key not in blob_of]
        for key in unreferenced:
            report.add(self._unreferenced(key, repair))
        report.finished_at = format_time(now_utc())
        return report

    def _walk_messages(self, report: ReconcileReport, blob_of: dict[str, str], *, after_seq: int,
                       check: bool = True) -> int:  # fmt: skip
        seen: set[str] = set()
        while page := self.store.scan_archived(after_seq, PAGE):
            for message in page:
                if check:
                    self._check_message(report, message.id, message.sha256, seen, blob_of)
                else:
                    blob_of.setdefault(message.sha256, message.id)
            after_seq = page[-1].archive_seq
            if check:
                self.progress(f"{report.messages_checked:,} messages checked")
        return after_seq

    def _check_message(self, report: ReconcileReport, message_id: str, sha256: str, seen: set[str],
                       blob_of: dict[str, str]) -> None:  # fmt: skip
        report.messages_checked += 1
        if message_id in seen:
            report.add(Problem("indexed_twice", message_id, "the index holds this message id more than once"))
            return
        seen.add(message_id)
        first = blob_of.setdefault(sha256, message_id)
        if first != message_id:
            report.add(Problem("indexed_twice", message_id, f"same bytes ({sha256}) as message {first}"))
            return
        raw = self.store.get_raw(sha256)
        if raw is None:
            report.add(Problem("blob_missing", message_id, f"raw blob {sha256} is missing"))
        elif sha256_of(raw) != sha256:
            report.add(Problem("blob_mismatch", message_id, f"raw blob {sha256} hashes to {sha256_of(raw)}"))

    def _walk_blobs(self, report: ReconcileReport) -> list[str]:
        keys = []
        for key in self.store.raw_keys():
            report.blobs_checked += 1
            keys.append(key)
        return keys

    def _unreferenced(self, key: str, repair: bool) -> Problem:
        raw = self.store.get_raw(key)
        if raw is None:  # purged meanwhile
            return Problem("orphan_blob", key, "blob vanished while reconciling", repaired=True)
        if sha256_of(raw) != key:
            return Problem("orphan_blob", key, f"no message refers to it and its bytes hash to {sha256_of(raw)}")
        if not repair:
            return Problem("not_indexed", key, "intact bytes no message refers to (run with --repair to re-index)")
        return self._reindex(key, raw)

    def _reindex(self, key: str, raw: bytes) -> Problem:
        from server.indexing.pipeline import Ingestor, RawItem

        outcome = next(iter(Ingestor(self.store, self.config).ingest_many([RawItem(raw, origin=f"reconcile:{key}")])))
        if outcome.status == "archived":
            return Problem("not_indexed", key, f"re-indexed as message {outcome.id}", repaired=True)
        if outcome.status in ("merged", "duplicate"):
            return Problem("orphan_blob", key, f"its message {outcome.id} is archived with other bytes")
        return Problem("not_indexed", key, f"re-indexing failed: {outcome.status} {outcome.error or ''}".strip())
