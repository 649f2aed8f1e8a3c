"""SQLite specifics of the audit log: the append-only triggers, and real processes racing to append."""

from __future__ import annotations

import multiprocessing
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from server.audit.log import AuditLog
from server.audit.operations import Op
from server.audit.verify import verify
from server.store.sqlite import SqliteStore

WRITERS, EACH = 4, 25


def test_application_sql_cannot_update_or_delete_entries(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.sqlite3")
    AuditLog(store, tmp_path).record(actor="alice", role="archive-admin", operation=Op.LOGIN)
    store.close()
    with closing(sqlite3.connect(tmp_path / "a.sqlite3")) as conn:
        for statement in ("UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
        assert conn.execute("SELECT actor FROM audit").fetchall() == [("alice",)]


def _writer(path: str, anchors: str, name: str) -> None:
    store = SqliteStore(Path(path))
    log = AuditLog(store, Path(anchors))
    for n in range(EACH):
        log.record(actor=name, role="email-admin", operation=Op.MESSAGE_VIEW, target=f"{name}-{n}")
    store.close()


def test_processes_appending_at_once_keep_one_unbroken_chain(tmp_path: Path) -> None:
    path, anchors = tmp_path / "a.sqlite3", tmp_path / "anchors"
    SqliteStore(path).close()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), str(anchors), f"w{i}")) for i in range(WRITERS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    store = SqliteStore(path)
    try:
        records = list(store.audit_scan())
        assert [r.seq for r in records] == list(range(1, WRITERS * EACH + 1))
        assert sorted(r.target for r in records) == sorted(f"w{i}-{n}" for i in range(WRITERS) for n in range(EACH))
        verdict = verify(store, AuditLog(store, anchors).anchors)
        assert verdict.ok, verdict.reason
    finally:
        store.close()
