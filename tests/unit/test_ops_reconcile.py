"""``mailarchive reconcile`` on both backends: each invariant broken behind the archive's back (the
SQLite file through sqlite3, the Elasticsearch raw index through its REST API), then detected, and
what the raw bytes allow repaired."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import zstandard
from prometheus_client.parser import text_string_to_metric_families

from server.audit.log import AuditLog
from server.audit.operations import Op
from server.cli import main
from server.config import Config
from server.indexing.pipeline import Ingestor, RawItem
from server.ops.metrics import exposition
from server.services.actor import Actor
from server.services.context import Services
from server.services.errors import Forbidden
from server.store.sqlite import SqliteStore
from server.users import UserService
from tests.support.cli import cli_archive
from tests.support.es import es_store
from tests.support.mail import make_mail

ADMIN = Actor("ada", "archive-admin", "192.0.2.1")


class Tamper:
    """Writes into a store's raw blobs the way a broken disk, a crash or a careless admin would."""

    def __init__(self, store, config: Config) -> None:  # noqa: ANN001
        self.store, self.config = store, config

    def put_blob(self, key: str, raw: bytes) -> None:
        if isinstance(self.store, SqliteStore):
            with closing(sqlite3.connect(self.config.sqlite_path)) as conn, conn:
                conn.execute("INSERT OR REPLACE INTO raws (sha256, size, data) VALUES (?, ?, ?)",
                             (key, len(raw), zstandard.ZstdCompressor().compress(raw)))  # fmt: skip
            return
        data = base64.b64encode(zstandard.ZstdCompressor().compress(raw)).decode()
        self.store.es.index(index=self.store.names.raw, id=key, refresh=True,
                            document={"size": len(raw), "compression": "zstd", "data": data})  # fmt: skip

    def delete_blob(self, key: str) -> None:
        if isinstance(self.store, SqliteStore):
            with closing(sqlite3.connect(self.config.sqlite_path)) as conn, conn:
                conn.execute("DELETE FROM raws WHERE sha256 = ?", (key,))
            return
        self.store.es.delete(index=self.store.names.raw, id=key, refresh=True)


@pytest.fixture(params=["sqlite", "elasticsearch"])
def svc(request: pytest.FixtureRequest, config: Config) -> Iterator[Services]:
    store = SqliteStore.from_config(config) if request.param == "sqlite" else es_store(request)
    services = Services(config, store, AuditLog.for_config(store, config), UserService(store))
    yield services
    services.close()


def _archive(svc: Services, *subjects: str) -> dict[str, str]:
    """subject -> message id, through the real pipeline."""
    items = [RawItem(make_mail(subject=s)) for s in subjects]
    outcomes = list(Ingestor(svc.store, svc.config).ingest_many(items))
    assert [o.status for o in outcomes] == ["archived"] * len(subjects)
    svc.store.refresh()
    return {s: o.id for s, o in zip(subjects, outcomes, strict=True)}


def test_a_consistent_archive_is_clean(svc: Services) -> None:
    _archive(svc, "one", "two", "three")
    report = svc.ops.reconcile(ADMIN, repair=True)
    assert report.clean and dict(report.found) == {}
    assert (report.messages_checked, report.blobs_checked) == (3, 3)
    entries = [e for e in svc.store.audit_scan() if e.operation == Op.RECONCILE]
    assert [(e.actor, e.details["repair"], e.result) for e in entries] == [("ada", True, "success")]


def test_each_broken_invariant_is_found_and_the_index_repaired_from_raw_bytes(svc: Services) -> None:
    ids = _archive(svc, "lost bytes", "altered bytes", "copied", "intact")
    store, tamper = svc.store, Tamper(svc.store, svc.config)
    lost, altered, copied = (store.get_message(ids[s]) for s in ("lost bytes", "altered bytes", "copied"))
    tamper.delete_blob(lost.sha256)
    tamper.put_blob(altered.sha256, b"Subject: forged\r\n\r\nnot what was archived\r\n")
    store.put_messages([(copied._replace(id="f" * 64), store.get_raw(copied.sha256))])  # indexed twice
    never_indexed = make_mail(subject="written to the raw store, its document lost")
    tamper.put_blob(hashlib.sha256(never_indexed).hexdigest(), never_indexed)
    tamper.put_blob("0" * 64, b"Subject: not these bytes\r\n\r\nx\r\n")  # key does not match the bytes
    store.refresh()
    before = store.count()

    found = svc.ops.reconcile(ADMIN, repair=False)
    expected = {"blob_missing": 1, "blob_mismatch": 1, "indexed_twice": 1, "not_indexed": 1, "orphan_blob": 1}
    assert dict(found.found) == expected and dict(found.repaired) == {}
    by_kind = {p.kind: p for p in found.problems}
    assert by_kind["blob_missing"].key == lost.id and by_kind["blob_mismatch"].key == altered.id
    assert by_kind["indexed_twice"].detail == f"same bytes ({copied.sha256}) as message {copied.id}"
    assert by_kind["orphan_blob"].key == "0" * 64
    store.refresh()
    assert store.count() == before  # detection changes nothing

    repaired = svc.ops.reconcile(ADMIN, repair=True)
    assert dict(repaired.found) == expected and dict(repaired.repaired) == {"not_indexed": 1}
    assert dict(repaired.unrepaired) == {k: 1 for k in expected if k != "not_indexed"}
    store.refresh()
    assert store.count() == before + 1
    reindexed = [p for p in repaired.problems if p.kind == "not_indexed"][0]
    message_id = reindexed.detail.rpartition(" ")[2]
    message = store.get_message(message_id)
    assert message.subject == "written to the raw store, its document lost"
    assert message.sha256 == hashlib.sha256(never_indexed).hexdigest()

    again = svc.ops.reconcile(ADMIN, repair=True)
    assert "not_indexed" not in again.found and again.messages_checked == 6

    saved = svc.ops.last_reconcile()
    assert saved["unrepaired"] == {k: 1 for k in expected if k != "not_indexed"} and saved["finished_at_epoch"]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(exposition(store, svc.config).decode()) for s in f.samples}
    assert samples[("mailarchive_reconcile_problems", (("kind", "orphan_blob"), ("state", "unrepaired")))] == 1
    assert ("mailarchive_reconcile_problems", (("kind", "not_indexed"), ("state", "found"))) not in samples


def test_reconcile_is_for_administrators(svc: Services) -> None:
    with pytest.raises(Forbidden):
        svc.ops.reconcile(Actor("bob", "", "192.0.2.9"), repair=True)
    entries = [e for e in svc.store.audit_scan() if e.operation == Op.RECONCILE]
    assert [e.result for e in entries] == ["denied"]


def test_cli_exits_1_while_problems_remain_and_0_once_repaired(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = cli_archive(monkeypatch, tmp_path / "cli")
    raw = make_mail(subject="only in the raw store")
    with closing(SqliteStore.from_config(config)) as store:
        Tamper(store, config).put_blob(hashlib.sha256(raw).hexdigest(), raw)
    assert main(["reconcile", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "not_indexed" in out and out.strip().endswith("problems remain (try --repair)")
    assert main(["reconcile", "--quiet", "--repair"]) == 0
    assert main(["reconcile", "--quiet"]) == 0
    assert capsys.readouterr().out.strip().endswith("clean")


def test_the_daily_run_is_claimed_once_a_day(config: Config) -> None:
    from datetime import timedelta

    from server.model import now_utc

    with Services.open(config) as first, Services.open(config) as second:  # two workers, one archive
        now = now_utc()
        assert first.ops.reconcile_due(now) is False  # a new archive starts the clock
        assert second.ops.reconcile_due(now + timedelta(hours=23)) is False
        assert second.ops.reconcile_due(now + timedelta(days=1, minutes=1)) is True
        assert first.ops.reconcile_due(now + timedelta(days=1, minutes=2)) is False  # claimed by the other
        assert first.ops.reconcile_due(now + timedelta(days=2, minutes=2)) is True


def test_the_daily_job_reconciles_with_repair(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from server.ops.jobs import run_reconcile

    config = cli_archive(monkeypatch, tmp_path / "job")
    raw = make_mail(subject="lost document")
    with closing(SqliteStore.from_config(config)) as store:
        Tamper(store, config).put_blob(hashlib.sha256(raw).hexdigest(), raw)
    assert run_reconcile() == "reconcile: 0 messages, 1 blobs; not_indexed 1"
    with Services.open(config) as svc:
        assert svc.store.count() == 1
        assert svc.ops.last_reconcile()["repaired"] == {"not_indexed": 1}
        assert [e.actor for e in svc.store.audit_scan() if e.operation == Op.RECONCILE] == ["reconcile-daily"]
