"""Building blocks for the Export All tests: a synthetic archive ingested through the real
pipeline, real ``mailarchive worker`` processes, and waiting for a task to reach a state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from server.config import Config
from server.export.taskcenter import ExportTask, TaskDocs
from server.indexing.pipeline import Ingestor, RawItem
from server.store.protocol import Store
from server.synthetic.directory import build_directory
from server.synthetic.messages import MailGenerator, MailProfile

ROOT = Path(__file__).resolve().parents[2]
START, END = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 21, tzinfo=UTC)  # inside the 30-day limit


def ingest_synthetic(store: Store, config: Config, count: int, *, seed: int = 7) -> int:
    """``count`` raw journal messages of March 2025 (merged copies archive as one); returns how many
    archived messages there are."""
    directory = build_directory(seed)
    store.upsert_accounts(directory.as_accounts())
    profile = MailProfile(start=START, end=END)
    raws = MailGenerator(directory, seed=seed, stream=0, first=0, count=count, total=count, profile=profile)
    for _ in Ingestor(store, config).ingest_many(RawItem(raw) for raw in raws):
        pass
    store.refresh()
    return store.count()


def worker_env(config: Config, redis_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARCHIVE_")}
    env.update(MAILARCHIVE_CONFIG="none", MAILARCHIVE_DATA_DIR=str(config.data_dir))
    if redis_url:
        env["MAILARCHIVE_REDIS_URL"] = redis_url
    return env


class WorkerProcess:
    """A real ``mailarchive worker`` (RQ worker, forked work horse per job); its output in ``log``."""

    def __init__(self, config: Config, log: Path, *, redis_url: str | None = None, burst: bool = False) -> None:
        self.log = log
        args = [sys.executable, "-m", "server", "worker"] + (["--burst"] if burst else [])
        self._out = log.open("ab")
        self.process = subprocess.Popen(args, env=worker_env(config, redis_url), cwd=ROOT, stdout=self._out,
                                        stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def kill(self) -> None:
        """SIGKILL the worker and its work horse, as a crash or the OOM killer would."""
        for pid in _children(self.process.pid) + [self.process.pid]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_worker(config: Config, log: Path, **kwargs: object) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(config, log, **kwargs)
    try:
        yield worker
    finally:
        worker.stop()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(b")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def wait_task(store: Store, task_id: str, done: Callable[[ExportTask], bool], *, timeout: float = 120,
              worker: WorkerProcess | None = None) -> ExportTask:  # fmt: skip
    """Poll the task document until ``done(task)``; the worker's log is in the failure message."""
    docs = TaskDocs(store)
    deadline = time.monotonic() + timeout
    while True:
        task = docs.get(task_id)
        if task is not None and done(task):
            return task
        if time.monotonic() > deadline:
            log = worker.output()[-3000:] if worker else ""
            raise AssertionError(f"task {task_id} did not get there in {timeout} s: {task}\n{log}")
        time.sleep(0.05)
