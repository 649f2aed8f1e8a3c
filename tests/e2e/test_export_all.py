"""Export All end to end: a real RQ worker process against the embedded Redis (and Debian's
redis-server for the MAILARCHIVE_REDIS_URL path), a real SQLite archive of a few thousand
synthetic messages, the zip checked message by message against the store."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

import pytest

from server.audit.operations import Op
from server.config import Config, load_config
from server.export.taskcenter import KIND, Status, TaskDocs
from server.export.zipstream import MANIFEST_FIELDS, MANIFEST_NAME
from server.jobs.broker import close_all
from server.model import format_time, now_utc
from server.query.criteria import parse_criteria
from server.services.actor import Actor
from server.services.context import Services
from server.services.errors import Conflict, Forbidden, InvalidInput
from server.services.exports import EXPORT_DIR, KEEP, limit_refusal
from server.store.protocol import AuditQuery
from tests.support.exports import ingest_synthetic, running_worker, wait_task
from tests.support.redis import redis_server
from tests.support.smtp import wait_for

pytestmark = pytest.mark.e2e
ADMIN = Actor("alice", "archive-admin", "127.0.0.1")
MARCH = {"from": "2025-03-01", "to": "2025-03-21"}
RAW_MESSAGES = 3000


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """One archive of a few thousand messages for the module (ingesting it is the slow part)."""
    config = load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=tmp_path_factory.mktemp("archive") / "data")
    with Services.open(config) as svc:
        assert ingest_synthetic(svc.store, config, RAW_MESSAGES) > 2000
    return config


@pytest.fixture
def svc(archive: Config) -> Iterator[Services]:
    with Services.open(archive) as services:
        yield services
    close_all()  # this process's hold on the embedded Redis


def _entries(svc: Services, operation: str) -> list:
    now = now_utc()
    return svc.store.audit_query(AuditQuery(now - timedelta(days=1), now + timedelta(days=1), operation=operation,
                                            limit=1000))[1]  # fmt: skip


def _verify_zip(svc: Services, task_id: str, params: dict[str, str]) -> int:
    """The finished zip against the store: every match once, in search order, byte-identical."""
    task = TaskDocs(svc.store).get(task_id)
    path = Path(svc.config.data_dir) / EXPORT_DIR / task.file
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == task.sha256 and len(data) == task.size
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    rows = list(csv.DictReader(io.StringIO(archive.read(MANIFEST_NAME).decode("utf-8-sig"))))
    assert tuple(rows[0].keys()) == MANIFEST_FIELDS
    expected = list(svc.store.scan(parse_criteria(params)))
    assert [row["id"] for row in rows] == [m.id for m in expected]
    assert len(archive.namelist()) == len(expected) + 1  # no duplicates, nothing else
    for row, message in zip(rows, expected, strict=True):
        raw = archive.read(row["file_name"])
        assert raw == svc.store.get_raw(message.sha256), row["id"]
        assert hashlib.sha256(raw).hexdigest() == row["sha256"] == message.sha256
        assert row["message_id"] == message.message_id.lstrip("=+-@") or row["message_id"].startswith("'")
    assert task.done == task.total == len(expected)
    return len(expected)


def test_export_all_of_thousands_is_byte_identical_and_audited_once(svc: Services, archive: Config,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    task = svc.exports.submit(ADMIN, MARCH)
    assert task.status == Status.QUEUED and task.total > 2000 and task.estimated_bytes > 0
    with running_worker(archive, tmp_path / "worker.log") as worker:
        done = wait_task(svc.store, task.id, lambda t: t.status == Status.FINISHED, worker=worker)
    assert _verify_zip(svc, task.id, MARCH) == done.total
    download = svc.exports.download(ADMIN, task.id)
    assert download.path.stat().st_size == done.size and download.sha256 == done.sha256
    for op in (Op.EXPORT_ALL_SUBMIT, Op.EXPORT_ALL_FINISH, Op.EXPORT_ALL_DOWNLOAD):
        entries = [e for e in _entries(svc, op) if e.target == task.id]
        assert len(entries) == 1 and entries[0].actor == "alice" and entries[0].result == "success", op
    assert not [p for p in (Path(archive.data_dir) / EXPORT_DIR).iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("params, refused", [
    ({"from": "2025-03-01", "to": "2025-03-31"}, True),  # 31 days, no mailbox
    ({"from": "2025-03-01", "to": "2025-03-30"}, False),  # 30 days, no mailbox
    ({"from": "2025-03-01", "to": "2025-04-15", "mailbox": "a@corp.example,b@corp.example"}, True),
    ({"from": "2024-03-01", "to": "2025-02-28", "mailbox": "a@corp.example"}, False),  # 365 days, one mailbox
    ({"from": "2024-03-01", "to": "2025-03-01", "mailbox": "a@corp.example"}, True),  # 366 days
])
def test_limits_are_enforced_by_the_service_with_a_clear_message(svc: Services, params: dict, refused: bool) -> None:
    refusal = limit_refusal(parse_criteria(params))
    assert (refusal is not None) == refused
    if refusal is None:
        return
    one_mailbox = params.get("mailbox", "").count("@") == 1
    assert f"at most {365 if one_mailbox else 30} days" in refusal and "narrow the time range" in refusal
    before = len(svc.store.list_docs(KIND))
    with pytest.raises(InvalidInput) as caught:
        svc.exports.submit(ADMIN, params)
    assert caught.value.message == refusal and len(svc.store.list_docs(KIND)) == before  # no task made
    refused_entries = [e for e in _entries(svc, Op.EXPORT_ALL_SUBMIT) if e.result == "failure"
                       and e.details.get("error") == refusal]  # fmt: skip
    assert refused_entries, "a refused submission is audited too"


def test_only_archive_administrators_export(svc: Services) -> None:
    with pytest.raises(Forbidden):
        svc.exports.submit(Actor("pm", "postmaster"), MARCH)
    with pytest.raises(Forbidden):
        svc.exports.list(Actor("ea", "email-admin"))
    denied = [e for e in _entries(svc, Op.EXPORT_ALL_SUBMIT) if e.actor == "pm"]
    assert len(denied) == 1 and denied[0].result == "denied"


def test_cancel_stops_the_export_and_leaves_no_file(svc: Services, archive: Config, tmp_path: Path) -> None:
    queued = svc.exports.submit(ADMIN, MARCH)
    assert svc.exports.cancel(ADMIN, queued.id).status == Status.CANCELLED  # before any worker ran it
    running = svc.exports.submit(ADMIN, MARCH)
    with running_worker(archive, tmp_path / "worker.log") as worker:
        wait_task(svc.store, running.id, lambda t: t.status == Status.RUNNING, worker=worker)
        svc.exports.cancel(ADMIN, running.id)
        wait_task(svc.store, queued.id, lambda t: True)
        wait_for(lambda: f"export {running.id} stopped" in worker.output()
                 or f"{running.id} was cancelled as it finished" in worker.output())  # at its next progress report
        assert f"export {queued.id} is cancelled; nothing to do" in worker.output()
    for task_id in (queued.id, running.id):
        task = TaskDocs(svc.store).get(task_id)
        assert task.status == Status.CANCELLED and task.file is None and task.cancelled_by == "alice"
        assert not list((Path(archive.data_dir) / EXPORT_DIR).glob(f"*{task_id}*"))
        assert len([e for e in _entries(svc, Op.EXPORT_ALL_CANCEL) if e.target == task_id]) == 1
    with pytest.raises(Conflict, match="only queued or running"):
        svc.exports.cancel(ADMIN, running.id)


def test_a_worker_killed_mid_job_is_retried_without_duplicates_or_a_corrupt_file(svc: Services, archive: Config,
                                                                                tmp_path: Path) -> None:  # fmt: skip
    task = svc.exports.submit(ADMIN, MARCH)
    exports_dir = Path(archive.data_dir) / EXPORT_DIR
    with running_worker(archive, tmp_path / "first.log") as first:
        wait_task(svc.store, task.id, lambda t: t.status == Status.RUNNING, worker=first)
        partial = exports_dir / f".{task.id}-1.zip.part"
        wait_task(svc.store, task.id, lambda t: partial.exists() and partial.stat().st_size > 0, worker=first)
        first.kill()  # SIGKILL: worker and work horse, mid-write
    assert TaskDocs(svc.store).get(task.id).status == Status.RUNNING  # as the dead run left it
    with running_worker(archive, tmp_path / "second.log") as second:
        done = wait_task(svc.store, task.id, lambda t: t.status == Status.FINISHED, worker=second)
    assert done.attempt == 2 and "queued again" in done.notes[0]
    _verify_zip(svc, task.id, MARCH)
    assert sorted(p.name for p in exports_dir.iterdir() if task.id in p.name) == [f"{task.id}-2.zip"]
    assert len([e for e in _entries(svc, Op.EXPORT_ALL_FINISH) if e.target == task.id]) == 1


@pytest.mark.parametrize("path", ["embedded", "redis-server"])
def test_both_redis_paths_run_the_job(archive: Config, tmp_path: Path, path: str) -> None:
    params = {"from": "2025-03-10", "to": "2025-03-10"}
    with redis_server(tmp_path / "redis") if path == "redis-server" else nullcontext() as url:
        config = archive.replace(worker=archive.worker.replace(redis_url=url)) if url else archive
        with Services.open(config) as svc:
            task = svc.exports.submit(ADMIN, params)
            with running_worker(config, tmp_path / "worker.log", redis_url=url, burst=True) as worker:
                worker.process.wait(timeout=120)
                assert worker.process.returncode == 0, worker.output()
            assert ("embedded Redis" in worker.output()) == (url is None)
            assert TaskDocs(svc.store).get(task.id).status == Status.FINISHED
            assert _verify_zip(svc, task.id, params) > 10
        close_all()


def test_files_older_than_30_days_are_deleted_by_the_worker_and_shown_expired(svc: Services, archive: Config,
                                                                              tmp_path: Path) -> None:  # fmt: skip
    params = {"from": "2025-03-11", "to": "2025-03-11"}
    task = svc.exports.submit(ADMIN, params)
    with running_worker(archive, tmp_path / "burst.log", burst=True) as worker:
        worker.process.wait(timeout=120)
    finished = TaskDocs(svc.store).get(task.id)
    file = Path(archive.data_dir) / EXPORT_DIR / finished.file
    assert finished.status == Status.FINISHED and file.exists()
    doc, version = svc.store.get_doc_versioned(KIND, task.id)  # as if it finished 31 days ago
    doc["finished_at"] = format_time(now_utc() - KEEP - timedelta(days=1))
    svc.store.put_doc(KIND, task.id, doc, if_version=version)
    with running_worker(archive, tmp_path / "worker.log") as worker:  # maintenance runs as it starts
        expired = wait_task(svc.store, task.id, lambda t: t.status == Status.EXPIRED and not file.exists(),
                            worker=worker)  # fmt: skip
    assert not file.exists() and expired.expired_at
    assert [t.id for t in svc.exports.list(ADMIN, Status.EXPIRED)] == [task.id]
    with pytest.raises(Conflict, match="expired on .*kept 30 days"):
        svc.exports.download(ADMIN, task.id)
    entries = [e for e in _entries(svc, Op.EXPORT_ALL_EXPIRE) if e.target == task.id]
    assert len(entries) == 1 and entries[0].actor == "system"

