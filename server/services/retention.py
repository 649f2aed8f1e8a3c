"""Retention: the period, re-stamping existing mail, and the purge (the one way mail leaves the archive).

Period. ``retention_years`` in the store's settings (default ``config.retention.years``) is what
ingestion stamps new mail with (``retention_until = received_at + period``, server.indexing.enrich).
Changing it is audited and applies to new mail only; ``restamp`` re-stamps existing mail on an
explicit request: lengthening freely, shortening only with the typed confirmation
``shorten to N years``, and never below what a held message was already promised.

Purge. Deletes messages whose ``retention_until`` has passed and that no legal hold covers, raw
bytes with them once no message refers to them (``Store.delete_messages``), in batches:
1. active holds are applied first (later arrivals get marked, server.services.holds) up to the
   store's stable watermark, and the purge never looks above that watermark;
2. per batch, the ids are written to the *purge ledger* (documents ``purge_ledger/RUN:NNNNNN``)
   before they are deleted, so whatever is gone is accounted for, then the run's state document
   (``purge_state/current``) moves on;
3. a run that was killed is resumed by the next run with the same cut-off time and watermark;
4. the run writes ONE audit entry (``retention_purge``) at its end with the counts, the id and
   sequence range and the ledger run id. Should the log be unwritable then, the entry is kept in
   the state document and written by the next run before it deletes anything.
A dry run walks the same candidates, marks nothing and deletes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from server.archiving import archive_settings
from server.audit.operations import Op, Result
from server.indexing.enrich import add_years
from server.model import Message, format_time, now_utc, parse_time
from server.services.actor import ARCHIVE_READERS, OPERATOR, Actor
from server.services.errors import Forbidden, InvalidInput, Unavailable
from server.store.protocol import PartitionMember, VersionConflict

if TYPE_CHECKING:
    from server.services.context import Services

log = logging.getLogger(__name__)

SETTING = "retention_years"
MIN_YEARS, MAX_YEARS = 1, 100
STATE_KIND, STATE_KEY = "purge_state", "current"
LEDGER_KIND = "purge_ledger"
RUN_COUNTER = "purge_runs"
SCHEDULE_KEY = "purge_schedule"  # setting document: the last UTC day a purge job was queued for
JOB = "server.jobs.purge.run_purge"
JOB_TIMEOUT = 24 * 3600
BATCH = 500
SCHEDULER = Actor("scheduler", OPERATOR)  # the daily job: the server itself

Progress = Callable[[dict[str, Any]], None]


def shorten_phrase(years: int) -> str:
    """What an administrator types to confirm shortening existing mail's retention."""
    return f"shorten to {years} years"


@dataclass
class PurgeReport:
    run: str
    dry_run: bool
    cutoff: str  # retention_until before this time has expired
    watermark: int  # highest archive_seq considered
    purged: int = 0  # deleted (dry run: would be deleted)
    spared_by_hold: int = 0  # dry run only: expired but matched by an active hold
    batches: int = 0
    position: int = 0  # archive_seq the scan has passed (a resumed run goes on from here)
    first_seq: int | None = None
    last_seq: int | None = None
    first_id: str | None = None
    last_id: str | None = None
    holds_marked: dict[str, int] = field(default_factory=dict)  # hold id -> messages newly marked
    resumed: bool = False
    dropped_indices: list[str] = field(default_factory=list)  # Elasticsearch monthly indices dropped whole
    started_at: str = ""
    finished_at: str | None = None
    ledgered: list[str] = field(default_factory=list)  # ledger keys counted in this report (not audited)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def take(self, batch: Sequence[Message | PartitionMember]) -> None:
        """Count purged messages and widen the id/sequence range (whole months come in any order)."""
        if not batch:
            return
        low, high = min(batch, key=_seq), max(batch, key=_seq)
        if self.first_seq is None or low.archive_seq < self.first_seq:
            self.first_seq, self.first_id = low.archive_seq, low.id
        if self.last_seq is None or high.archive_seq > self.last_seq:
            self.last_seq, self.last_id = high.archive_seq, high.id
        self.purged += len(batch)

    def passed(self, batch: Sequence[Message]) -> None:
        self.batches += 1
        self.position = batch[-1].archive_seq


@dataclass
class RestampReport:
    years: int
    scanned: int = 0
    changed: int = 0
    kept_for_hold: int = 0  # held messages whose longer promise was kept
    kept_longer: int = 0  # not shortened (lengthening only)


class Retention:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.store = svc.store

    # --- the period ---------------------------------------------------------------------------
    def period(self) -> int:
        return archive_settings(self.store, self.svc.config).retention_years

    def set_period(self, actor: Actor, years: Any) -> int:
        """Change the period new mail is stamped with (existing mail: ``restamp``)."""
        with self.svc.audited(actor, Op.SETTINGS_CHANGE, SETTING, asked={"years": years}) as entry:
            self._may(actor)
            years = _years(years)
            entry.done(old=self.period(), new=years)
            self.store.set_setting(SETTING, years)
        return years

    def restamp(self, actor: Actor, years: Any, *, confirm: str | None = None, batch_size: int = BATCH,
                progress: Progress | None = None) -> RestampReport:  # fmt: skip
        """Re-stamp every archived message: ``retention_until = received_at + years``.

        Lengthening is free. Mail whose retention would get shorter keeps its date unless
        ``confirm`` is ``shorten to N years``; a held message never gets less than it had.
        """
        with self.svc.audited(actor, Op.SETTINGS_CHANGE, "retention_restamp", asked={"years": years}) as entry:
            self._may(actor)
            years = _years(years)
            shorten = confirm is not None
            if shorten and confirm.strip().lower() != shorten_phrase(years):
                raise InvalidInput(f"to shorten existing mail's retention type exactly: {shorten_phrase(years)}")
            entry.done(years=years, shorten=shorten, messages=self.store.count())
        report = RestampReport(years=years)
        watermark, after = self.store.max_archive_seq(), 0
        while after < watermark:
            page = [m for m in self.store.scan_archived(after, batch_size) if m.archive_seq <= watermark]
            if not page:
                break
            after = page[-1].archive_seq
            report.scanned += len(page)
            updates = {m.id: until for m in page if (until := self._new_until(m, years, shorten, report)) is not None}
            report.changed += self.store.set_retention(updates) if updates else 0
            if progress:
                progress({"scanned": report.scanned, "changed": report.changed, "seq": after, "of_seq": watermark})
        self.store.refresh()
        return report

    @staticmethod
    def _new_until(message: Message, years: int, shorten: bool, report: RestampReport) -> datetime | None:
        start = message.received_at or message.archived_at
        try:
            until = add_years(start, years)
        except (ValueError, OverflowError):
            return None
        current = message.retention_until
        if current is not None and until < current:
            if message.legal_holds:
                report.kept_for_hold += 1
                return None
            if not shorten:
                report.kept_longer += 1
                return None
        return None if until == current else until

    # --- the purge ----------------------------------------------------------------------------
    def purge(self, actor: Actor, *, dry_run: bool = False, batch_size: int = BATCH, now: datetime | None = None,
              progress: Progress | None = None) -> PurgeReport:  # fmt: skip
        """Delete expired, unheld mail (see the module docstring); resumes a killed run."""
        if not actor.may(*ARCHIVE_READERS) or not (actor.is_operator or dry_run):
            with self.svc.audited(actor, Op.RETENTION_PURGE, "purge", details={"dry_run": dry_run}):
                raise Forbidden("only the server itself purges (mailarchive purge or the daily job)")
        if not 1 <= batch_size <= 10_000:
            raise InvalidInput(f"--batch-size must be from 1 to 10000, got {batch_size}")
        if dry_run:
            return self._dry_run(actor, batch_size, now or now_utc(), progress)
        self._write_pending_entry()
        report, version = self._start(now or now_utc())
        report.holds_marked = self.svc.holds.apply_active()
        cutoff = parse_time(report.cutoff)
        version = self._drop_partitions(report, cutoff, version)
        while True:
            batch = self._next_batch(report, cutoff, batch_size)
            if not batch:
                break
            key = self._ledger(report, f"{batch[0].archive_seq:012d}", batch)
            self.store.delete_messages([m.id for m in batch])
            report.ledgered.append(key)
            report.take(batch)
            report.passed(batch)
            version = self._save_state(report, version, "running")
            if progress:
                progress(report.to_dict())
        self.store.refresh()
        report.finished_at = format_time(now_utc())
        self._finish(actor, report, version)
        return report

    def _drop_partitions(self, report: PurgeReport, cutoff: datetime, version: int) -> int:
        """Elasticsearch: drop each monthly index whose messages have all expired, none held, in one
        request (the ledger gets its ids first); the batches then purge what is left."""
        for name in self.store.expired_partitions(cutoff, report.watermark):
            members: list[PartitionMember] = []

            def record(found: list[PartitionMember], name: str = name, members: list = members) -> None:
                members.extend(found)
                self._ledger(report, name, found)

            if self.store.drop_partition(name, cutoff, report.watermark, record):
                report.ledgered.append(f"{report.run}:{name}")
                report.dropped_indices.append(name)
                report.take(members)
                version = self._save_state(report, version, "running")
        return version

    def _ledger(self, report: PurgeReport, part: str, messages: Sequence[Message | PartitionMember]) -> str:
        """Write-ahead: the ids are in the ledger before they are deleted. Keys name the batch's
        first seq (or the month), so a resumed run never overwrites a batch that was deleted."""
        key = f"{report.run}:{part}"
        self.store.put_doc(LEDGER_KIND, key, {
            "run": report.run, "ids": [m.id for m in messages], "seqs": [m.archive_seq for m in messages],
            "sha256": [m.sha256 for m in messages], "cutoff": report.cutoff, "at": format_time(now_utc())})  # fmt: skip
        return key

    def _recover(self, report: PurgeReport) -> None:
        """A resumed run: count what a killed run deleted after writing its ledger but before saving
        its state (those ids are gone; the ones still here are purged again by the next batches)."""
        for key, doc in self.store.list_docs(LEDGER_KIND, after=f"{report.run}:"):
            if not key.startswith(f"{report.run}:") or key in report.ledgered:
                continue
            present = {m.id for m in self.store.get_messages(doc["ids"])}
            gone = [PartitionMember(i, s, h) for i, s, h in zip(doc["ids"], doc["seqs"], doc["sha256"], strict=True)
                    if i not in present]  # fmt: skip
            report.take(gone)
            report.ledgered.append(key)

    def _dry_run(self, actor: Actor, batch_size: int, now: datetime, progress: Progress | None) -> PurgeReport:
        report = PurgeReport(run="dry-run", dry_run=True, cutoff=format_time(now), watermark=self.store.max_archive_seq(),
                             started_at=format_time(now_utc()))  # fmt: skip
        held = self.svc.holds.held_ids()
        while batch := self._next_batch(report, now, batch_size):
            free = [m for m in batch if m.id not in held]
            report.spared_by_hold += len(batch) - len(free)
            report.take(free)
            report.passed(batch)
            if progress:
                progress(report.to_dict())
        report.finished_at = format_time(now_utc())
        with self.svc.audited(actor, Op.RETENTION_PURGE, "dry-run") as entry:
            entry.done(**_entry_details(report))
        return report

    def _next_batch(self, report: PurgeReport, cutoff: datetime, batch_size: int) -> list[Message]:
        if report.position >= report.watermark:
            return []
        page = self.store.scan_expired(cutoff, batch_size, after_seq=report.position)
        return [m for m in page if m.archive_seq <= report.watermark]

    def _start(self, now: datetime) -> tuple[PurgeReport, int]:
        """The state of a killed run to resume, or a new run (compare-and-set: one run at a time)."""
        found = self.store.get_doc_versioned(STATE_KIND, STATE_KEY)
        if found is not None and found[0].get("status") == "running":
            report = PurgeReport(**found[0]["report"])
            report.resumed = True
            self._recover(report)
            return report, self._save_state(report, found[1], "running")
        report = PurgeReport(run=f"purge-{self.store.incr_counter(RUN_COUNTER)}", dry_run=False, cutoff=format_time(now),
                             watermark=self.store.max_archive_seq(), started_at=format_time(now_utc()))  # fmt: skip
        return report, self._save_state(report, found[1] if found else 0, "running")

    def _save_state(self, report: PurgeReport, version: int, status: str) -> int:
        try:
            return self.store.put_doc(STATE_KIND, STATE_KEY, {"status": status, "report": report.to_dict()},
                                      if_version=version)  # fmt: skip
        except VersionConflict as exc:
            raise Unavailable("another purge is running (its state changed under this one); nothing more was done") from exc

    def _finish(self, actor: Actor, report: PurgeReport, version: int) -> None:
        version = self._save_state(report, version, "audit_pending")
        try:
            self.svc.write_entry(actor, Op.RETENTION_PURGE, report.run, _entry_details(report), Result.SUCCESS)
        except Unavailable:
            log.error("purge %s deleted %d messages; its audit entry is pending (written by the next run)",
                      report.run, report.purged)  # fmt: skip
            raise
        self._save_state(report, version, "done")

    def _write_pending_entry(self) -> None:
        """A finished run whose entry could not be written: write it before anything else happens."""
        found = self.store.get_doc_versioned(STATE_KIND, STATE_KEY)
        if found is None or found[0].get("status") != "audit_pending":
            return
        report = PurgeReport(**found[0]["report"])
        self.svc.write_entry(SCHEDULER, Op.RETENTION_PURGE, report.run, _entry_details(report), Result.SUCCESS)
        self._save_state(report, found[1], "done")

    # --- the daily job --------------------------------------------------------------------------
    def schedule(self, queue: Any, now: datetime | None = None) -> str | None:
        """Queue today's purge job (RQ ``queue``) unless it is queued already; the job id, or None.

        Called by every worker's maintenance pass (about once a minute): the first pass of each UTC
        day queues ``purge-YYYY-MM-DD``; a compare-and-set on the schedule document keeps several
        workers from queueing it twice. If the queue is unreachable the day is not taken, so the
        next pass tries again.
        """
        day = (now or now_utc()).strftime("%Y-%m-%d")
        found = self.store.get_doc_versioned(STATE_KIND, SCHEDULE_KEY)
        if found is not None and found[0].get("day") == day:
            return None
        job_id = f"purge-{day}"
        try:
            self.store.put_doc(STATE_KIND, SCHEDULE_KEY, {"day": day, "job": job_id}, if_version=found[1] if found else 0)
        except VersionConflict:
            return None  # another worker took the day
        try:
            queue.enqueue(JOB, job_id=job_id, job_timeout=JOB_TIMEOUT, result_ttl=30 * 86400,
                          failure_ttl=30 * 86400, description=f"retention purge {day}")  # fmt: skip
        except Exception:
            self.store.put_doc(STATE_KIND, SCHEDULE_KEY, found[0] if found else {"day": None})
            raise
        return job_id

    def last_run(self) -> dict[str, Any] | None:
        """The state document of the last run (``status``: running, audit_pending, done)."""
        return self.store.get_doc(STATE_KIND, STATE_KEY)

    def ledger(self, run: str | None = None) -> list[dict[str, Any]]:
        """The purge ledger's batches (of one run): the ids that left the archive by purge."""
        after = f"{run}:" if run else None
        docs = self.store.list_docs(LEDGER_KIND, after=after)
        return [doc for key, doc in docs if run is None or key.startswith(f"{run}:")]

    def purged(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` the purge removed (a message missing and not here was deleted otherwise)."""
        wanted = set(ids)
        return {i for doc in self.ledger() for i in doc["ids"] if i in wanted}

    @staticmethod
    def _may(actor: Actor) -> None:
        if not actor.may(*ARCHIVE_READERS):
            raise Forbidden("only an archive administrator changes the retention period")


def _seq(message: Message | PartitionMember) -> int:
    return message.archive_seq


def _entry_details(report: PurgeReport) -> dict[str, Any]:
    keys = ("dry_run", "cutoff", "watermark", "purged", "spared_by_hold", "batches", "first_seq", "last_seq",
            "first_id", "last_id", "holds_marked", "resumed", "dropped_indices", "started_at", "finished_at")  # fmt: skip
    return {k: v for k, v in report.to_dict().items() if k in keys}


def _years(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"the retention period must be a whole number of years, got {value!r}")
    text = str(value).strip()
    if not text.isdigit() or not MIN_YEARS <= int(text) <= MAX_YEARS:
        raise InvalidInput(f"the retention period must be from {MIN_YEARS} to {MAX_YEARS} years, got {value!r}")
    return int(text)
