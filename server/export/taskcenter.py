"""Export All tasks as store documents: the one record of what a task is and how far it got.

The web app, the API, the worker and the maintenance job all change a task, possibly at the same
moment (a cancel while the worker reports progress, two workers recovering the same task), so every
change is a compare-and-set on the document's version (``update``): read, apply a pure change,
write only if nobody wrote in between, else read again and re-decide. Nothing is ever lost or
applied twice, whichever backend holds the documents.

Task ids sort by submission time (``20261201T195301-3f9a1c2b``), so the Task Center reads only the
documents of its window, by key (``list_docs(after=...)``), however many older tasks exist.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from server.model import format_time, now_utc, parse_time
from server.store.protocol import Store, VersionConflict

KIND = "export_task"
PAGE = 500  # documents read per list_docs call


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


ACTIVE = frozenset({Status.QUEUED, Status.RUNNING})


@dataclass
class ExportTask:
    """One Export All task as stored (times are ISO strings in UTC, as in every document)."""

    id: str
    criteria: dict[str, str]  # the flat criteria (``Criteria.as_params``), re-parsed by the worker
    actor: dict[str, str]  # who submitted: name, role, source_ip
    created_at: str
    status: str = Status.QUEUED
    updated_at: str = ""
    total: int = 0  # messages: counted at submission, exact once the worker has finished
    done: int = 0  # messages written so far
    bytes_in: int = 0  # raw message bytes written so far
    estimated_bytes: int = 0
    attempt: int = 0  # how many times a worker started it (a retry after a crash is attempt 2)
    job_id: str | None = None  # the RQ job that will run it next
    runner: str | None = None  # token of the worker run that owns it while running
    runner_host: str | None = None
    runner_pid: int | None = None
    heartbeat_at: str | None = None  # refreshed with the progress while running
    started_at: str | None = None
    finished_at: str | None = None
    file: str | None = None  # name of the zip under the exports directory once finished
    size: int | None = None  # of the zip
    sha256: str | None = None  # of the zip
    cpu_seconds: float | None = None  # CPU the finishing run used (all its threads): what an export costs
    error: str | None = None  # why it failed (one line for the Task Center)
    cancelled_by: str | None = None
    expired_at: str | None = None
    notes: list[str] = field(default_factory=list)  # retries and the like, shown in the Task Center

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ExportTask:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def created(self) -> datetime:
        return parse_time(self.created_at)

    @property
    def updated(self) -> datetime:
        return parse_time(self.updated_at or self.created_at)

    @property
    def percent(self) -> int:
        if self.status == Status.FINISHED:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0


def new_task_id(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def key_before(moment: datetime) -> str:
    """A key that sorts before every id made at or after ``moment``."""
    return f"{moment:%Y%m%dT%H%M%S}"


class TaskConflict(Exception):
    """Raised by a change function to refuse the change (the task is in the wrong state)."""


Change = Callable[[ExportTask], bool | None]  # edit the task in place; False: nothing to write


class TaskDocs:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, task: ExportTask) -> ExportTask:
        task.updated_at = task.created_at
        self.store.put_doc(KIND, task.id, task.to_doc(), if_version=0)
        return task

    def get(self, task_id: str) -> ExportTask | None:
        found = self.store.get_doc_versioned(KIND, task_id)
        return ExportTask.from_doc(found[0]) if found else None

    def update(self, task_id: str, change: Change) -> tuple[ExportTask, bool] | None:
        """Apply ``change`` by compare-and-set until it sticks: (task as stored, whether it wrote).

        None if there is no such task. ``change`` may run several times (once per conflict), so it
        must decide from the task it is given, not from what it saw before."""
        while True:
            found = self.store.get_doc_versioned(KIND, task_id)
            if found is None:
                return None
            doc, version = found
            task = ExportTask.from_doc(doc)
            if change(task) is False:
                return task, False
            task.updated_at = format_time(now_utc())
            try:
                self.store.put_doc(KIND, task_id, task.to_doc(), if_version=version)
            except VersionConflict:
                continue
            return task, True

    def since(self, moment: datetime) -> Iterator[ExportTask]:
        """Tasks submitted at or after ``moment``, oldest first, read a page at a time."""
        after = key_before(moment)
        while True:
            page = self.store.list_docs(KIND, after=after, limit=PAGE)
            for _key, doc in page:
                task = ExportTask.from_doc(doc)
                if task.created >= moment:
                    yield task
            if len(page) < PAGE:
                return
            after = page[-1][0]

    def recent(self, now: datetime, window: timedelta, *, lookback: timedelta) -> list[ExportTask]:
        """The Task Center: tasks changed within ``window`` (an expired task stays listed for a
        window after its file went), newest submission first. ``lookback`` bounds the documents
        read: no task submitted before it can have changed within the window."""
        cutoff = now - window
        tasks = [t for t in self.since(now - lookback) if t.updated >= cutoff]
        return sorted(tasks, key=lambda t: t.id, reverse=True)
