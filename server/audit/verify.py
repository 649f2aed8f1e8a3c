"""Check the whole audit log: contiguous seq from 1, each entry linked to the previous one, each
hash matching its content, and every anchor present with its hash. Stops at the first bad entry,
because everything after a break can no longer be trusted.

Memory stays flat in the number of entries (the log is streamed); anchors are read into memory,
about 100 bytes each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from server.audit.anchors import Anchor, AnchorFile
from server.audit.chain import GENESIS, entry_hash
from server.store.protocol import AuditRecord, Store


@dataclass(frozen=True)
class Verdict:
    entries: int  # entries checked (all of them when ok)
    first_bad: int | None = None  # seq of the first bad entry; None when ok or the anchor file is damaged
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def verify(store: Store, anchors: AnchorFile) -> Verdict:
    anchor_list, malformed = anchors.read()
    if malformed:
        return Verdict(0, None, f"anchor file {anchors.path} line {malformed[0]} is malformed")
    pending = iter(anchor_list)
    anchor = next(pending, None)
    expected, prev = 1, GENESIS
    for record in store.audit_scan():
        problem = _entry_problem(record, expected, prev)
        while problem is None and anchor is not None and anchor.seq <= record.seq:
            problem = _anchor_problem(anchor, record)
            anchor = next(pending, None)
        if problem:
            return Verdict(expected - 1, *problem)
        expected, prev = expected + 1, record.hash
    if anchor is not None:
        last = max(_remaining(anchor, pending), key=lambda a: a.seq)
        reason = (
            f"the log ends at entry {expected - 1} but {anchors.path} (line {last.line}) records entry "
            f"{last.seq}: the newest entries were deleted"
        )
        return Verdict(expected - 1, expected, reason)
    return Verdict(expected - 1)


def _entry_problem(record: AuditRecord, expected: int, prev: str) -> tuple[int, str] | None:
    if record.seq > expected:
        return expected, f"entry {expected} is missing (the log goes from {expected - 1} to {record.seq})"
    if record.seq < expected:
        return record.seq, f"entry {record.seq} appears again after entry {expected - 1} (duplicated or reordered)"
    if record.prev_hash != prev:
        return record.seq, f"entry {record.seq} does not link to entry {record.seq - 1} (prev_hash differs)"
    if entry_hash(record) != record.hash:
        return record.seq, f"entry {record.seq} was altered (its content does not match its hash)"
    return None


def _anchor_problem(anchor: Anchor, record: AuditRecord) -> tuple[int, str] | None:
    if anchor.seq < record.seq:  # only possible when the seq was skipped, caught above
        return anchor.seq, f"entry {anchor.seq} recorded in the anchor file (line {anchor.line}) is missing"
    if anchor.hash != record.hash:
        return record.seq, (
            f"entry {record.seq} differs from the anchor file (line {anchor.line}): the log was rewritten"
        )
    return None


def _remaining(first: Anchor, rest: Iterator[Anchor]) -> Iterator[Anchor]:
    yield first
    yield from rest
