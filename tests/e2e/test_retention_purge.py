"""The purge as processes: ``mailarchive purge`` killed with SIGKILL mid-run and resumed, and the
daily job queued and run by a real ``mailarchive worker`` on the embedded Redis."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from server.audit.operations import Op
from server.cli import main
from server.config import Config
from server.jobs.broker import close_all
from server.model import now_utc
from server.services.actor import Actor
from server.services.context import Services
from server.services.retention import SCHEDULE_KEY, STATE_KIND
from tests.conformance.factory import make
from tests.support.cli import cli_archive
from tests.support.exports import ROOT, running_worker, worker_env
from tests.support.smtp import wait_for

pytestmark = pytest.mark.e2e
MESSAGES = 400


def expired_archive(config: Config, count: int) -> list[str]:
    past = now_utc() - timedelta(days=1)
    items = [make(f"m{n:04d}", retention_until=past, received_at=past, mailboxes=["a@corp.example"]) for n in range(count)]
    with Services.open(config) as svc:
        svc.store.put_messages(items)
    return [m.id for m, _ in items]


def purge_entries(svc: Services) -> list:
    return [r for r in svc.store.audit_scan() if r.operation == Op.RETENTION_PURGE]


def test_a_purge_killed_with_sigkill_resumes_where_it_stopped(monkeypatch, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    config = cli_archive(monkeypatch, tmp_path / "data")
    ids = expired_archive(config, MESSAGES)
    purge = subprocess.Popen([sys.executable, "-m", "server", "purge", "--batch-size", "1", "--quiet"],
                             env=worker_env(config), cwd=ROOT, stderr=subprocess.PIPE)  # fmt: skip
    with Services.open(config) as svc:
        wait_for(lambda: svc.store.list_docs("purge_ledger", limit=1), timeout=120)
    lock = sqlite3.connect(config.sqlite_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # the purge now waits for the write lock at its next step ...
    try:
        os.kill(purge.pid, signal.SIGKILL)  # ... and dies there
        purge.wait(timeout=60)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert purge.returncode == -signal.SIGKILL
    with Services.open(config) as svc:
        left = svc.store.count()
        assert 0 < left < MESSAGES and purge_entries(svc) == []
        assert svc.retention.last_run()["status"] == "running"
    assert main(["purge", "--quiet"]) == 0
    assert "resumed an interrupted run" in capsys.readouterr().out
    with Services.open(config) as svc:
        assert svc.store.count() == 0
        (entry,) = purge_entries(svc)  # one entry for the run, killed part included
        assert entry.details["purged"] == MESSAGES and entry.details["resumed"] is True
        assert (entry.details["first_id"], entry.details["last_id"]) == (ids[0], ids[-1])
        assert svc.retention.purged(ids) == set(ids)  # every id in the ledger, once the run is done
        assert sum(len(doc["ids"]) for doc in svc.retention.ledger(entry.target)) >= MESSAGES
    capsys.readouterr()
    assert main(["verify"]) == 0, capsys.readouterr()  # the purge is told from a deletion


def test_the_worker_queues_and_runs_the_daily_purge(monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    config = cli_archive(monkeypatch, tmp_path / "data")
    ids = expired_archive(config, 20)
    with Services.open(config) as svc:
        hold = svc.holds.place(Actor.cli(), "keep one", "case", {"keyword": "never-matches-anything"})
        svc.store.set_legal_hold(ids[:1], hold.id, True)  # held: stays
    try:
        with running_worker(config, tmp_path / "worker.log", burst=True) as worker:
            worker.process.wait(timeout=180)
            assert worker.process.returncode == 0, worker.output()
        with Services.open(config) as svc:
            assert [m.id for m in svc.store.get_messages(ids)] == ids[:1]
            (entry,) = purge_entries(svc)
            assert entry.actor == "scheduler" and entry.details["purged"] == 19
            day = now_utc().strftime("%Y-%m-%d")
            assert svc.store.get_doc(STATE_KIND, SCHEDULE_KEY)["day"] == day
            assert svc.retention.schedule(None, now_utc()) is None  # once a day: the queue is not even asked
    finally:
        close_all()

