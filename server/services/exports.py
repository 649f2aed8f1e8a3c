"""Export All (DESIGN.md §8): every match of the criteria as one zip, made by an RQ worker.

The console, ``/api/v1/exports`` and the worker all go through ``Exports``:

* ``submit`` checks the limits (one archived mailbox: at most 365 days; several or none: at most
  30), counts the matches, stores a task document and queues its job; ``cancel`` and ``download``
  change or read it. Each is audited once (``export_all_submit`` / ``_cancel`` / ``_download``).
* ``run`` is the job: it claims the task by compare-and-set (a duplicate delivery or a second
  worker finds it taken and does nothing), streams the zip to a temporary file while reporting
  progress on the document about once a second (seeing a cancel there), and publishes the file
  with its SHA-256 only once it is complete (``export_all_finish``, success or failure).
* ``maintain`` runs in every worker about once a minute: a task whose run died (its process is
  gone, or no progress for ``LEASE``) is queued again, up to ``MAX_ATTEMPTS`` runs in all; a
  queued task whose job Redis lost is queued again; files older than ``KEEP`` are deleted and
  their tasks shown as expired (``export_all_expire``); leftovers of dead runs are removed.

The task document is the truth, Redis only the transport, so no state lives only in the queue.
``list``/``get`` only show task records (no mail) and are polled by the Task Center every few
seconds, so they are not audited.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.audit.operations import Op, Result
from server.export.archive_file import WrittenZip, is_partial, partial_path, write_zip
from server.export.batched import BatchedReads
from server.export.taskcenter import ExportTask, Status, TaskConflict, TaskDocs, new_task_id
from server.export.zipstream import ZipStats
from server.model import format_time, now_utc, parse_time
from server.ops.counters import count_export_bytes
from server.query.criteria import Criteria, CriteriaError, day_span, parse_criteria
from server.services.actor import ARCHIVE_READERS, Actor
from server.services.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError, Unavailable
from server.store.protocol import StoreError

if TYPE_CHECKING:
    from server.jobs.broker import Broker
    from server.services.context import Services

log = logging.getLogger(__name__)

EXPORT_DIR = "exports"
JOB = "server.export.tasks.run_export"
KEEP = timedelta(days=30)  # a finished file is deleted (the task shown as expired) after this
LIST_WINDOW = timedelta(days=30)  # the Task Center shows tasks changed within this
LOOKBACK = timedelta(days=90)  # task documents maintenance and the Task Center read (by id = time)
LEASE = timedelta(minutes=2)  # a run that reported nothing for this long is presumed dead
PROGRESS_EVERY = 1.0  # seconds between progress writes
MAX_ATTEMPTS = 3
ORPHAN_AGE = timedelta(hours=1)  # a zip no task points to is removed after this
JOB_TIMEOUT = 24 * 3600
MAX_DAYS_ONE_MAILBOX = 365
MAX_DAYS_OTHERWISE = 30
LARGE_MESSAGES = 50_000  # above either, the page suggests narrowing the criteria
LARGE_BYTES = 5 << 30
SYSTEM = Actor("system", "system")
_EXPECTED = (ServiceError, CriteriaError, StoreError, OSError)  # a failed task, not a bug


@dataclass(frozen=True)
class Preview:
    """What the query page shows before Export All is submitted."""

    total: int
    estimated_bytes: int
    refusal: str | None  # the limit the criteria break, as the submit would say it
    large: bool


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str
    size: int
    sha256: str


class Lost(Exception):
    """The running task was cancelled or taken over by another run: stop, publish nothing."""


def limit_refusal(criteria: Criteria) -> str | None:
    """Why these criteria are too broad for Export All, or None. Days count whole days of the range."""
    days = max(1, math.ceil(day_span(criteria) - 1e-9))
    if len(criteria.mailboxes) == 1:
        if days > MAX_DAYS_ONE_MAILBOX:
            return (f"Export All of one archived mailbox covers at most {MAX_DAYS_ONE_MAILBOX} days; this range spans "
                    f"{days} days: narrow the time range or export it in parts")
        return None
    if days > MAX_DAYS_OTHERWISE:
        which = "no archived mailbox" if not criteria.mailboxes else f"{len(criteria.mailboxes)} archived mailboxes"
        return (f"Export All covers at most {MAX_DAYS_OTHERWISE} days unless exactly one archived mailbox is chosen "
                f"(then up to {MAX_DAYS_ONE_MAILBOX}); this range spans {days} days with {which}: choose one mailbox "
                f"or narrow the time range")
    return None


class Exports:
    def __init__(self, svc: Services, broker: Broker | None = None) -> None:
        self.svc = svc
        self.docs = TaskDocs(svc.store)
        self.directory = Path(svc.config.data_dir) / EXPORT_DIR
        self._broker = broker

    @property
    def broker(self) -> Broker:
        if self._broker is None:
            from server.jobs.broker import broker_for

            self._broker = broker_for(self.svc.config)
        return self._broker

    # --- what administrators do ---------------------------------------------------------------
    def preview(self, criteria: Criteria, total: int) -> Preview:
        """What the query page shows before Export All is submitted: ``total`` is the exact count
        the page already has; the size is the sum of every match's size (one store aggregate), not
        an extrapolation from the page shown."""
        size = self.svc.store.total_size(criteria) if total else 0
        return Preview(total, size, limit_refusal(criteria), total > LARGE_MESSAGES or size > LARGE_BYTES)


    def submit(self, actor: Actor, params: Mapping[str, Any], *, limits: bool = True) -> ExportTask:
        """Queue an Export All of ``params``. ``limits=False`` (Python callers only: the benchmark,
        an operator's script) skips the day limits, which keep console users from exporting the
        whole archive by accident; the job itself handles any size."""
        with self.svc.audited(actor, Op.EXPORT_ALL_SUBMIT, asked=_given(params)) as entry:
            self._may(actor)
            criteria = parse_criteria(params, tz=self.svc.archive.timezone())
            refusal = limit_refusal(criteria) if limits else None
            if refusal:
                raise InvalidInput(refusal)
            total = self.svc.store.count(criteria)
            if not total:
                raise InvalidInput("no archived message matches these criteria: there is nothing to export")
            now = now_utc()
            task = ExportTask(id=new_task_id(now), criteria=criteria.as_params(), actor=actor._asdict(),
                              created_at=format_time(now), total=total,
                              estimated_bytes=self.svc.store.total_size(criteria))  # fmt: skip
            task.job_id = _job_id(task)
            entry.done(target=task.id, **task.criteria, total=total, estimated_bytes=task.estimated_bytes)
            self.docs.create(task)
        self._enqueue(task)
        return task

    def list(self, actor: Actor, status: str | None = None) -> list[ExportTask]:
        """The Task Center: tasks changed in the last 30 days, newest first, optionally of one status."""
        self._may(actor)
        if status and status not in set(Status):
            raise InvalidInput(f"unknown status {status!r}: use one of {', '.join(Status)}")
        tasks = self.docs.recent(now_utc(), LIST_WINDOW, lookback=LOOKBACK)
        return [t for t in tasks if not status or t.status == status]

    def get(self, actor: Actor, task_id: str) -> ExportTask:
        self._may(actor)
        return self._task(task_id)

    def cancel(self, actor: Actor, task_id: str) -> ExportTask:
        with self.svc.audited(actor, Op.EXPORT_ALL_CANCEL, task_id) as entry:
            self._may(actor)
            task = self._task(task_id)
            if not task.active:
                raise Conflict(f"export {task_id} is {task.status}: only queued or running exports can be cancelled")
            entry.done(done=task.done, total=task.total, status=task.status)

            def cancel(t: ExportTask) -> None:
                if not t.active:
                    raise Conflict(f"export {task_id} became {t.status} before it could be cancelled")
                t.status, t.cancelled_by, t.finished_at = Status.CANCELLED, actor.name, format_time(now_utc())

            return self._update(task_id, cancel)

    def download(self, actor: Actor, task_id: str) -> Download:
        with self.svc.audited(actor, Op.EXPORT_ALL_DOWNLOAD, task_id) as entry:
            self._may(actor)
            task = self._task(task_id)
            if task.status != Status.FINISHED or not task.file:
                raise Conflict(_not_downloadable(task))
            path = self.directory / task.file
            if not path.is_file():
                raise Unavailable(f"the file of export {task_id} ({path}) is missing: submit the export again")
            entry.done(file=task.file, size=task.size, sha256=task.sha256)
            return Download(path, f"mail-export-{task.id}.zip", task.size or path.stat().st_size, task.sha256 or "")

    # --- what the worker does ---------------------------------------------------------------------
    def run(self, task_id: str) -> str:
        """The RQ job. Returns (and logs) what became of the task."""
        outcome = self._run(task_id)
        log.info("%s", outcome)
        return outcome

    def _run(self, task_id: str) -> str:
        token = secrets.token_hex(8)
        claimed = self.docs.update(task_id, lambda t: self._claim(t, token, now_utc()))
        if claimed is None:
            return f"no export task {task_id}"
        task, wrote = claimed
        if not wrote or task.status != Status.RUNNING:
            if wrote and task.status == Status.FAILED:
                self._audit_outcome(task, Result.FAILURE)
            return f"export {task_id} is {task.status}; nothing to do"
        cpu = time.process_time()
        try:
            written = self._write(task, token)
        except Lost:
            return f"export {task_id} stopped: it was cancelled or taken over"
        except _EXPECTED as exc:
            self._fail(task_id, token, _reason(exc))
            return f"export {task_id} failed: {_reason(exc)}"
        except Exception as exc:
            self._fail(task_id, token, f"internal error, see the worker's log: {_reason(exc)}")
            raise  # a bug: keep its traceback in the worker's log
        return self._publish(task_id, token, written, time.process_time() - cpu)

    def maintain(self, now: datetime | None = None) -> Counter[str]:
        """Recover dead runs, re-queue lost jobs, expire old files, remove leftovers; returns counts."""
        now = now or now_utc()
        done: Counter[str] = Counter()
        for task in self.docs.since(now - LOOKBACK):
            if task.status == Status.RUNNING and self._stale(task, now):
                done[self._recover(task.id, now)] += 1
            elif task.status == Status.QUEUED and not self._pending(task):  # a job queued twice runs once
                done[self._requeue_lost(task.id)] += 1
            elif task.status == Status.FINISHED and task.finished_at and now - parse_time(task.finished_at) > KEEP:
                done[self._expire(task.id, now)] += 1
        done.update(self._sweep(now))
        return +done

    # --- the run, step by step ------------------------------------------------------------------
    def _claim(self, task: ExportTask, token: str, now: datetime) -> bool:
        if not (task.status == Status.QUEUED or (task.status == Status.RUNNING and self._stale(task, now))):
            return False  # done, cancelled, or another live run has it
        if task.attempt >= MAX_ATTEMPTS:
            task.status, task.finished_at = Status.FAILED, format_time(now)
            task.error = (f"stopped {task.attempt} times before finishing (worker killed or out of memory?); "
                          f"not started again: look at the worker's log, then submit it again")
            return True
        task.status, task.attempt, task.runner = Status.RUNNING, task.attempt + 1, token
        task.runner_host, task.runner_pid = socket.gethostname(), os.getpid()
        task.started_at = task.heartbeat_at = format_time(now)
        task.done = task.bytes_in = 0
        return True

    def _write(self, task: ExportTask, token: str) -> WrittenZip:
        criteria = parse_criteria(task.criteria, tz="UTC")  # stored as UTC datetimes
        actor = _actor_of(task)
        total = self.svc.store.count(criteria)

        def counted(t: ExportTask) -> None:
            self._own(t, token)
            t.total = total

        self._update(task.id, counted)
        self.directory.mkdir(parents=True, exist_ok=True)
        last = [time.monotonic()]

        def progress(stats: ZipStats) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY:
                self._progress(task.id, token, stats)
                last[0] = time.monotonic()

        reads = BatchedReads(self.svc.store.scan_heads(criteria),
                             lambda batch: self.svc.archive.verified_raws(batch, actor=actor, purpose="export_all"),
                             ahead=True, thread_setup=self.svc.store.streaming_reads)  # one pass: memory stays flat
        return write_zip(reads, reads.raw_of, self.directory / _file_name(task.id, task.attempt), progress=progress,
                         verified=True, crc_of=reads.crc_of)  # fmt: skip

    def _progress(self, task_id: str, token: str, stats: ZipStats) -> None:
        def report(t: ExportTask) -> None:
            self._own(t, token)
            t.done, t.bytes_in, t.heartbeat_at = stats.messages, stats.bytes_in, format_time(now_utc())
            t.total = max(t.total, stats.messages)

        self._update(task_id, report)

    def _publish(self, task_id: str, token: str, written: WrittenZip, cpu_seconds: float) -> str:
        def finish(t: ExportTask) -> None:
            self._own(t, token)
            t.status, t.finished_at, t.heartbeat_at = Status.FINISHED, format_time(now_utc()), None
            t.file, t.size, t.sha256, t.cpu_seconds = written.path.name, written.size, written.sha256, round(cpu_seconds, 3)
            t.done = t.total = written.messages
            t.bytes_in = written.bytes_in

        try:
            task = self._update(task_id, finish)
        except Lost:
            written.path.unlink(missing_ok=True)
            return f"export {task_id} was cancelled as it finished; file removed"
        self._audit_outcome(task, Result.SUCCESS)
        count_export_bytes(self.svc.store, written.size)
        return f"export {task_id} finished: {written.messages} messages, {written.size} bytes, sha256 {written.sha256}"

    def _fail(self, task_id: str, token: str, reason: str) -> None:
        def fail(t: ExportTask) -> None:
            self._own(t, token)
            t.status, t.error, t.finished_at = Status.FAILED, reason, format_time(now_utc())

        try:
            task = self._update(task_id, fail)
        except Lost:
            return
        self._audit_outcome(task, Result.FAILURE)

    @staticmethod
    def _own(task: ExportTask, token: str) -> bool:
        if task.status != Status.RUNNING or task.runner != token:
            raise Lost(task.status)
        return True

    # --- maintenance ------------------------------------------------------------------------------
    def _stale(self, task: ExportTask, now: datetime) -> bool:
        if task.runner_host == socket.gethostname() and task.runner_pid and not _process_alive(task.runner_pid):
            return True
        beat = parse_time(task.heartbeat_at) if task.heartbeat_at else task.updated
        return now - beat > LEASE

    def _recover(self, task_id: str, now: datetime) -> str:
        def requeue(t: ExportTask) -> bool:
            if t.status != Status.RUNNING or not self._stale(t, now):
                return False
            t.notes.append(f"{format_time(now)}: run {t.attempt} stopped at {t.done} of {t.total} messages "
                           f"without finishing (worker killed?); queued again")
            t.status, t.runner, t.heartbeat_at = Status.QUEUED, None, None
            t.job_id = _job_id(t)
            return True

        task, wrote = self.docs.update(task_id, requeue) or (None, False)
        if not wrote or task is None:
            return "unchanged"
        partial_path(self.directory / _file_name(task.id, task.attempt)).unlink(missing_ok=True)  # the dead run's
        self._enqueue(task)
        return "recovered"

    def _requeue_lost(self, task_id: str) -> str:
        def renew(t: ExportTask) -> bool:
            if t.status != Status.QUEUED or self._pending(t):
                return False
            t.job_id = _job_id(t)
            return True

        task, wrote = self.docs.update(task_id, renew) or (None, False)
        if not wrote or task is None:
            return "unchanged"
        self._enqueue(task)
        return "requeued"

    def _expire(self, task_id: str, now: datetime) -> str:
        def expire(t: ExportTask) -> bool:
            if t.status != Status.FINISHED:
                return False
            t.status, t.expired_at = Status.EXPIRED, format_time(now)
            return True

        task, wrote = self.docs.update(task_id, expire) or (None, False)
        if not wrote or task is None:
            return "unchanged"
        self.svc.write_entry(SYSTEM, Op.EXPORT_ALL_EXPIRE, task.id,
                             {"file": task.file, "size": task.size, "sha256": task.sha256,
                              "finished_at": task.finished_at, "kept_days": KEEP.days}, Result.SUCCESS)  # fmt: skip
        if task.file:
            (self.directory / task.file).unlink(missing_ok=True)
        return "expired"

    def _sweep(self, now: datetime) -> Counter[str]:
        """Files of the exports directory no task offers: partial files of dead runs, and zips whose
        task was cancelled as it finished or expired before its file could be removed."""
        removed: Counter[str] = Counter()
        if not self.directory.is_dir():
            return removed
        for path in self.directory.iterdir():
            age = now.timestamp() - path.stat().st_mtime
            if is_partial(path) and age > 2 * LEASE.total_seconds():
                path.unlink(missing_ok=True)
                removed["partial_removed"] += 1
            elif path.suffix == ".zip" and age > ORPHAN_AGE.total_seconds():
                task = self.docs.get(path.name.rsplit("-", 1)[0])
                if task is None or task.status != Status.FINISHED or task.file != path.name:
                    path.unlink(missing_ok=True)
                    removed["orphan_removed"] += 1
                elif task.finished_at and now - parse_time(task.finished_at) > KEEP:
                    removed[self._expire(task.id, now)] += 1
        return removed

    def _pending(self, task: ExportTask) -> bool:
        """Whether Redis still holds a job that will run this task."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job, JobStatus

        try:
            job = Job.fetch(task.job_id or "", connection=self.broker.connection())
        except NoSuchJobError:
            return False
        return job.get_status() in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)

    # --- helpers ------------------------------------------------------------------------------------
    def _enqueue(self, task: ExportTask) -> None:
        """Queue the task's job. If Redis cannot be reached the task stays queued: a worker's
        maintenance queues it once Redis answers again (nothing is lost)."""
        try:
            self.broker.queue().enqueue(JOB, task.id, job_id=task.job_id, job_timeout=JOB_TIMEOUT,
                                        result_ttl=7 * 86400, failure_ttl=30 * 86400,
                                        description=f"Export All {task.id}")  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - any broker failure leaves the task for maintenance
            log.warning("export %s stays queued: the job queue (%s) is not reachable: %s", task.id, self.broker.where, exc)

    def _update(self, task_id: str, change: Any) -> ExportTask:
        try:
            found = self.docs.update(task_id, change)
        except TaskConflict as exc:
            raise Conflict(str(exc)) from exc
        if found is None:
            raise NotFound(f"no export task {task_id!r}")
        return found[0]

    def _task(self, task_id: str) -> ExportTask:
        task = self.docs.get(task_id) if task_id else None
        if task is None:
            raise NotFound(f"no export task {task_id!r}")
        return task

    def _audit_outcome(self, task: ExportTask, result: str) -> None:
        """``export_all_finish``, recorded for the submitter (the worker acted on their behalf)."""
        details = {"total": task.total, "size": task.size, "sha256": task.sha256, "error": task.error,
                   "attempt": task.attempt, "by": "worker"}
        try:
            self.svc.write_entry(_actor_of(task), Op.EXPORT_ALL_FINISH, task.id, details, result)
        except Unavailable as exc:
            log.error("export %s %s; its audit entry was not written: %s", task.id, task.status, exc.message)

    @staticmethod
    def _may(actor: Actor) -> None:
        if not actor.may(*ARCHIVE_READERS):
            raise Forbidden("Export All and the Task Center are for archive administrators")


def _not_downloadable(task: ExportTask) -> str:
    if task.status == Status.EXPIRED:
        return f"export {task.id} expired on {(task.expired_at or '')[:10]}: files are kept {KEEP.days} days"
    if task.active:
        return f"export {task.id} is {task.status} ({task.done} of {task.total} messages): download it once finished"
    return f"export {task.id} {task.status}" + (f": {task.error}" if task.error else "") + "; nothing to download"


def _file_name(task_id: str, attempt: int) -> str:
    return f"{task_id}-{attempt}.zip"


def _job_id(task: ExportTask) -> str:
    return f"export-{task.id}-{task.attempt + 1}-{secrets.token_hex(2)}"


def _actor_of(task: ExportTask) -> Actor:
    return Actor(task.actor.get("name", "?"), task.actor.get("role", ""), task.actor.get("source_ip", ""))


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, ServiceError) else f"{type(exc).__name__}: {exc}"


def _given(params: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value)[:200] for key, value in params.items() if value not in (None, "", False)}


def _process_alive(pid: int) -> bool:
    """Whether ``pid`` runs on this host (a zombie, killed but not yet reaped, counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
