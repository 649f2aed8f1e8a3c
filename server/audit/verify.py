"""Check the whole audit log: contiguous seq from 1, each entry linked to the previous one, each
hash matching its content, and every anchor present with its hash. Stops at the first bad entry,
because everything after a break can no longer be trusted.

Two absences are failures too, since deleting evidence must not read as "intact": an anchor file
that is gone (or empty) while the log has entries that should have been anchored, and an empty
log in an archive that holds messages. A head recorded outside the machine (``audit head``,
passed back as ``head``) is checked like an anchor: someone who rewrote the database *and* the
anchor file still cannot make entry ``seq`` have another hash.

Memory stays flat in the number of entries (the log is streamed); anchors are read into memory,
about 100 bytes each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


HEAD_LINE = 0  # the ``line`` of the externally recorded head among the anchors


def parse_head(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as ``mailarchive audit head`` prints it; ``ValueError`` with a one-line reason."""
    seq, sep, digest = text.strip().partition(":")
    digest = digest.strip().lower()
    if not sep or not seq.strip().isdigit() or int(seq) < 1 or len(digest) != 64 or not _is_hex(digest):
        raise ValueError(f"--head must be SEQ:HASH as 'mailarchive audit head' prints it (64 hex digits), got {text!r}")
    return int(seq), digest


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def verify(store: Store, anchors: AnchorFile, *, anchor_every: int = 1, head: tuple[int, str] | None = None,
           visit: Callable[[AuditRecord], None] | None = None) -> Verdict:  # fmt: skip
    """``anchor_every``: the writer's setting (fewer entries than that may have no anchor yet);
    ``visit`` sees every entry that checked out, in seq order (the archive verifier reads the
    ledger entries from it)."""
    anchor_list, malformed = anchors.read()
    if malformed:
        return Verdict(0, None, f"anchor file {anchors.path} line {malformed[0]} is malformed")
    if head is not None:
        anchor_list = sorted([*anchor_list, Anchor(seq=head[0], hash=head[1], line=HEAD_LINE)], key=lambda a: a.seq)
    verdict = _walk(store, anchors, anchor_list, visit)
    if not verdict.ok:
        return verdict
    return _absence(store, anchors, anchor_list, verdict, max(1, anchor_every)) or verdict


def _absence(store: Store, anchors: AnchorFile, anchor_list: list[Anchor], verdict: Verdict,
             anchor_every: int) -> Verdict | None:  # fmt: skip
    if verdict.entries == 0:
        messages = store.count()
        if messages:
            return Verdict(0, 1, f"the log is empty but the archive holds {messages} messages: its entries were deleted")
        return None
    if verdict.entries >= anchor_every and not any(a.line != HEAD_LINE for a in anchor_list):
        state = "is empty" if anchors.path.exists() else "is missing"
        return Verdict(verdict.entries, None, (
            f"the anchor file {anchors.path} {state} but the log has {verdict.entries} entries that were "
            "anchored: it was deleted, so a cut-off tail would go unnoticed"
        ))  # fmt: skip
    return None


def _walk(store: Store, anchors: AnchorFile, anchor_list: list[Anchor],
          visit: Callable[[AuditRecord], None] | None) -> Verdict:  # fmt: skip
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
        if visit is not None:
            visit(record)
        expected, prev = expected + 1, record.hash
    if anchor is not None:
        last = max(_remaining(anchor, pending), key=lambda a: a.seq)
        if expected == 1:
            reason = f"the log is empty but {_where(last, anchors)} records entry {last.seq}: every entry was deleted"
        else:
            reason = (f"the log ends at entry {expected - 1} but {_where(last, anchors)} records entry "
                      f"{last.seq}: the newest entries were deleted")  # fmt: skip
        return Verdict(expected - 1, expected, reason)
    return Verdict(expected - 1)


def _where(anchor: Anchor, anchors: AnchorFile) -> str:
    return "the recorded head" if anchor.line == HEAD_LINE else f"{anchors.path} (line {anchor.line})"


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
        return anchor.seq, f"entry {anchor.seq} recorded in {_source(anchor)} is missing"
    if anchor.hash != record.hash:
        return record.seq, f"entry {record.seq} differs from {_source(anchor)}: the log was rewritten"
    return None


def _source(anchor: Anchor) -> str:
    if anchor.line == HEAD_LINE:
        return "the head recorded outside the machine (--head)"
    return f"the anchor file (line {anchor.line})"


def _remaining(first: Anchor, rest: Iterator[Anchor]) -> Iterator[Anchor]:
    yield first
    yield from rest
