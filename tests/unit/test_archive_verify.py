"""Tamper evidence for the archived messages (issue 19 item 7), on both backends.

Mail is archived through the real pipeline (several ``put_messages`` batches, so several ledger
entries); then an attacker with access to the store's own files or REST API edits it behind the
archive's back: replaced bytes, an edited subject or sender, a deleted message document, a deleted
blob, two messages swapped in arrival order, the audit table emptied, the anchor file deleted.
``mailarchive verify`` (the service on Elasticsearch, the command on SQLite) must fail and name
what is wrong; an untouched archive must pass; a purge recorded in the purge ledger is no deletion.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zstandard

from server.audit.ledger import INGEST_KIND, LEDGER_FAILURES, PURGE_KIND, document_digest
from server.audit.log import AuditLog
from server.audit.operations import Op, Result
from server.config import Config
from server.indexing.pipeline import Ingestor, RawItem
from server.model import Message
from server.services.actor import Actor
from server.services.context import Services
from server.services.errors import Forbidden
from server.store.sqlite import SqliteStore
from server.users import UserService
from tests.support.audit_tamper import tamper_for
from tests.support.es import es_store
from tests.support.mail import make_mail

COUNT = 7
BATCH = 3  # 7 messages in batches of 3: three ledger entries


@dataclass
class Archive:
    svc: Services
    backend: str
    ids: list[str]  # in arrival order

    @property
    def store(self) -> Any:
        return self.svc.store

    def message(self, n: int) -> Message:
        return self.store.get_message(self.ids[n])

    def verify(self, **kwargs: Any) -> Any:
        self.store.refresh()
        return self.svc.verify.run(Actor.cli(), **kwargs)


def _mails() -> list[bytes]:
    return [make_mail(subject=f"Quarterly figures {n}", sender=f"user{n}@corp.example", body=f"figures {n}\n")
            for n in range(COUNT)]  # fmt: skip


@pytest.fixture(params=["sqlite", "elasticsearch"])
def archive(request: pytest.FixtureRequest, config: Config) -> Iterator[Archive]:
    store = SqliteStore.from_config(config) if request.param == "sqlite" else es_store(request)
    svc = Services(config, store, AuditLog.for_config(store, config), UserService(store))
    outcomes = list(Ingestor(store, config).ingest_many((RawItem(raw) for raw in _mails()), batch_size=BATCH))
    assert [o.status for o in outcomes] == ["archived"] * COUNT
    store.refresh()
    yield Archive(svc, request.param, [o.id for o in outcomes])
    svc.close()


# --- the attacker's edits, per backend ---------------------------------------------------------


def _sql(store: SqliteStore, *statements: tuple[str, tuple]) -> None:
    with closing(sqlite3.connect(store.path)) as conn, conn:
        for sql, args in statements:
            conn.execute(sql, args)


def _rid(store: SqliteStore, message_id: str) -> int:
    with closing(sqlite3.connect(store.path)) as conn:
        return conn.execute("SELECT rid FROM messages WHERE id = ?", (message_id,)).fetchone()[0]


def _es_hit(store: Any, message_id: str) -> dict[str, Any]:
    [hit] = store.es.search(index=store.names.messages, query={"ids": {"values": [message_id]}})["hits"]["hits"]
    return hit


def replace_bytes(a: Archive, message: Message, forged: bytes) -> None:
    if a.backend == "sqlite":
        _sql(a.store, ("UPDATE raws SET data = ? WHERE sha256 = ?", (zstandard.ZstdCompressor().compress(forged), message.sha256)))
    else:
        import base64

        data = base64.b64encode(zstandard.ZstdCompressor().compress(forged)).decode()
        a.store.es.index(index=a.store.names.raw, id=message.sha256, refresh=True,
                         document={"size": len(forged), "compression": "zstd", "data": data})  # fmt: skip


def delete_blob(a: Archive, message: Message) -> None:
    if a.backend == "sqlite":
        _sql(a.store, ("DELETE FROM raws WHERE sha256 = ?", (message.sha256,)))
    else:
        a.store.es.delete(index=a.store.names.raw, id=message.sha256, refresh=True)


def edit_document(a: Archive, message: Message, **fields: Any) -> None:
    if a.backend == "sqlite":
        rid = _rid(a.store, message.id)
        with closing(sqlite3.connect(a.store.path)) as conn:
            (blob,) = conn.execute("SELECT doc FROM message_docs WHERE rid = ?", (rid,)).fetchone()
        doc = {**json.loads(zstandard.ZstdDecompressor().decompress(blob)), **fields}
        packed = zstandard.ZstdCompressor().compress(json.dumps(doc, ensure_ascii=False).encode())
        _sql(a.store, ("UPDATE message_docs SET doc = ? WHERE rid = ?", (packed, rid)))
    else:
        hit = _es_hit(a.store, message.id)
        a.store.es.update(index=hit["_index"], id=message.id, doc=fields, refresh=True)


def delete_document(a: Archive, message: Message) -> None:
    if a.backend == "sqlite":
        rid = _rid(a.store, message.id)
        _sql(a.store, *((f"DELETE FROM {table} WHERE rid = ?", (rid,)) for table in ("messages", "message_docs", "message_meta")))
    else:
        a.store.es.delete(index=_es_hit(a.store, message.id)["_index"], id=message.id, refresh=True)


def swap_order(a: Archive, first: Message, second: Message) -> None:
    """The two messages trade their arrival numbers (a POP3 client would see them re-ordered)."""
    if a.backend == "sqlite":
        one, two = _rid(a.store, first.id), _rid(a.store, second.id)
        _sql(a.store, ("UPDATE message_meta SET seq = -1 WHERE rid = ?", (one,)),
             ("UPDATE message_meta SET seq = ? WHERE rid = ?", (first.archive_seq, two)),
             ("UPDATE message_meta SET seq = ? WHERE rid = ?", (second.archive_seq, one)))  # fmt: skip
    else:
        edit_document(a, first, archive_seq=second.archive_seq)
        edit_document(a, second, archive_seq=first.archive_seq)


def empty_audit_log(a: Archive) -> None:
    tamper = tamper_for(a.store)
    tamper.delete(*[r.seq for r in a.store.audit_scan()])


def delete_anchors(a: Archive) -> None:
    a.svc.audit_log.anchors.path.unlink()


# --- the cases ----------------------------------------------------------------------------------


def test_an_untouched_archive_passes(archive: Archive) -> None:
    report = archive.verify()
    assert report.ok, report.problems
    assert (report.messages, report.batches) == (COUNT, 3)
    entries = [r for r in archive.store.audit_scan() if r.operation == Op.INGEST_BATCH]
    assert [r.details["count"] for r in entries] == [3, 3, 1]
    assert not archive.svc.verify.unfinished()  # a finished run leaves no checkpoint


CASES: dict[str, tuple[Callable[[Archive], None], str, str]] = {
    "replaced bytes": (lambda a: replace_bytes(a, a.message(1), b"Subject: forged\r\n\r\nforged\r\n"),
                       "blob_altered", "do not match sha256"),
    "edited subject": (lambda a: edit_document(a, a.message(2), subject="Nothing to see"), "document",
                       "stored document was altered"),
    "edited sender": (lambda a: edit_document(a, a.message(4), sender="someone.else@corp.example"), "document",
                      "stored document was altered"),
    "deleted document": (lambda a: delete_document(a, a.message(3)), "missing", "in the ingest ledger but not in the archive"),
    "deleted blob": (lambda a: delete_blob(a, a.message(5)), "blob_missing", "are missing"),
    "re-ordered": (lambda a: swap_order(a, a.message(0), a.message(6)), "reordered", "re-ordered or replaced"),
    "emptied audit log": (empty_audit_log, "audit", "the log is empty but"),
    "deleted anchor file": (delete_anchors, "audit", "is missing but the log has"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_tampering_fails_verification_naming_it(archive: Archive, case: str) -> None:
    tamper, kind, text = CASES[case]
    tamper(archive)
    report = archive.verify()
    assert not report.ok
    assert kind in report.counts, report.problems
    assert any(k == kind and text in t for k, t in report.problems), report.problems


def test_the_emptied_log_also_loses_the_ledger(archive: Archive) -> None:
    """With the audit entries gone nothing vouches for the messages: each is reported unledgered."""
    empty_audit_log(archive)
    report = archive.verify()
    assert report.counts.get("unledgered") == COUNT


def test_an_edited_ledger_document_is_caught_by_its_merkle_root(archive: Archive) -> None:
    key, doc = archive.store.list_docs(INGEST_KIND)[0]
    doc["leaves"] = [leaf for leaf in doc["leaves"] if leaf[1] != archive.ids[0]]  # hide message 0
    archive.store.put_doc(INGEST_KIND, key, doc)
    delete_document(archive, archive.message(0))
    report = archive.verify()
    assert any(k == "ledger" and "does not match the Merkle root" in t for k, t in report.problems), report.problems


def _purge(a: Archive, gone: list[Message], *, run: str = "purge-1", audited: bool = True) -> None:
    """What the retention purge (server/services/retention.py) leaves: one purge ledger document per
    batch, written before the delete, and one ``retention_purge`` entry for the run."""
    a.store.put_doc(PURGE_KIND, f"{run}:000001", {"run": run, "ids": [m.id for m in gone],
                    "seqs": [m.archive_seq for m in gone], "sha256": [m.sha256 for m in gone]})  # fmt: skip
    a.store.delete_messages([m.id for m in gone])
    if audited:
        a.svc.write_entry(Actor.cli(), Op.RETENTION_PURGE, run, {"purged": len(gone), "first_seq": gone[0].archive_seq,
                          "last_seq": gone[-1].archive_seq, "dry_run": False}, Result.SUCCESS)  # fmt: skip


def test_purged_messages_are_not_deletions(archive: Archive) -> None:
    _purge(archive, [archive.message(1), archive.message(2)])
    report = archive.verify()
    assert report.ok, report.problems
    assert report.messages == COUNT - 2


def test_a_forged_purge_ledger_does_not_explain_a_deletion(archive: Archive) -> None:
    gone = archive.message(4)
    _purge(archive, [gone], run="forged", audited=False)
    report = archive.verify()
    assert report.counts.get("missing") == 1 and report.counts.get("purge") == 1, report.problems
    assert any(k == "purge" and "has no retention_purge audit entry" in t for k, t in report.problems)


def test_the_digest_ignores_what_later_copies_and_holds_may_change(archive: Archive) -> None:
    message = archive.message(0)
    before = document_digest(message)
    message.mailboxes.append("carol@corp.example")
    message.legal_holds.append("case-1")
    assert document_digest(message) == before
    message.subject += "!"
    assert document_digest(message) != before


def test_only_the_operator_verifies_the_archive(archive: Archive) -> None:
    with pytest.raises(Forbidden):
        archive.svc.verify.run(Actor("archie", "archive-admin", "192.0.2.1"))


def test_an_interrupted_run_resumes_from_its_checkpoint(archive: Archive) -> None:
    calls: list[int] = []

    def stop_after_first_page(done: int, total: int) -> None:
        calls.append(done)
        raise KeyboardInterrupt

    from server.audit import archive_check

    page, archive_check.PAGE = archive_check.PAGE, 4
    try:
        with pytest.raises(KeyboardInterrupt):
            archive.verify(progress=stop_after_first_page)
        assert archive.svc.verify.unfinished()
        seen: list[tuple[int, int]] = []
        report = archive.verify(progress=lambda done, total: seen.append((done, total)))
    finally:
        archive_check.PAGE = page
    assert calls == [4] and report.resumed_from == archive.message(3).archive_seq
    assert seen == [(COUNT, COUNT)] and report.ok and report.messages == COUNT
    assert not archive.svc.verify.unfinished()


def _cli(config: Config, monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    from server.cli import main

    monkeypatch.setenv("MAILARCHIVE_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("MAILARCHIVE_CONFIG", "none")
    monkeypatch.setenv("MAILARCHIVE_STORE", "sqlite")
    return lambda *argv: main(list(argv))


@pytest.fixture
def sqlite_archive(config: Config) -> Iterator[Archive]:
    store = SqliteStore.from_config(config)
    svc = Services(config, store, AuditLog.for_config(store, config), UserService(store))
    outcomes = list(Ingestor(store, config).ingest_many((RawItem(raw) for raw in _mails()), batch_size=BATCH))
    yield Archive(svc, "sqlite", [o.id for o in outcomes])
    svc.close()


def test_the_command_exits_1_listing_problems_and_counts(sqlite_archive: Archive, config: Config,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    cli = _cli(config, monkeypatch)
    assert cli("verify", "--no-progress") == 0
    assert capsys.readouterr().out.startswith(f"archive intact: {COUNT} messages, 3 ledger batches")
    delete_blob(sqlite_archive, sqlite_archive.message(0))
    edit_document(sqlite_archive, sqlite_archive.message(1), subject="forged")
    assert cli("verify", "--no-progress") == 1
    err = capsys.readouterr().err
    assert err.startswith("archive TAMPERED: 2 problems")
    assert f"blob_missing: message {sqlite_archive.ids[0]}" in err and f"document: message {sqlite_archive.ids[1]}" in err
    assert "by kind: blob_missing 1, document 1" in err


def test_audit_head_and_verify_head(sqlite_archive: Archive, config: Config, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    cli = _cli(config, monkeypatch)
    assert cli("audit", "head") == 0
    head = capsys.readouterr().out.strip()
    seq, digest = head.split(":")
    last = sqlite_archive.store.audit_last()
    assert (int(seq), digest) == (last.seq, last.hash)
    assert cli("audit", "verify", "--head", head) == 0
    assert cli("verify", "--no-progress", "--head", head) == 0
    capsys.readouterr()
    # someone rewrites the whole chain from entry 1 (valid in itself) and the anchor file with it
    tamper = tamper_for(sqlite_archive.store)
    tamper.rewrite_from(1, actor="mallory")
    anchors = sqlite_archive.svc.audit_log.anchors.path
    anchors.write_text("".join(f"{r.seq} {r.hash} 2024-01-01T00:00:00.000Z\n" for r in sqlite_archive.store.audit_scan()))
    assert cli("audit", "verify") == 0  # without the external record the rewrite is consistent
    capsys.readouterr()
    assert cli("audit", "verify", "--head", head) == 1
    assert f"entry {seq} differs from the head recorded outside the machine" in capsys.readouterr().err
    assert cli("verify", "--no-progress", "--head", head) == 1
    assert "the head recorded outside the machine" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["12", "x:" + "0" * 64, "3:abc", "0:" + "0" * 64])
def test_a_malformed_head_is_exit_2(sqlite_archive: Archive, config: Config, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str], bad: str) -> None:  # fmt: skip
    assert _cli(config, monkeypatch)("audit", "verify", "--head", bad) == 2
    err = capsys.readouterr().err
    assert "--head must be SEQ:HASH" in err and len(err.strip().splitlines()) == 1


def test_audit_verify_fails_on_a_missing_anchor_file_and_an_empty_log(sqlite_archive: Archive, config: Config,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    cli = _cli(config, monkeypatch)
    delete_anchors(sqlite_archive)
    assert cli("audit", "verify") == 1
    assert "anchor file" in capsys.readouterr().err
    empty_audit_log(sqlite_archive)
    Path(sqlite_archive.svc.audit_log.anchors.path).unlink(missing_ok=True)
    assert cli("audit", "verify") == 1
    assert "the log is empty but the archive holds 7 messages" in capsys.readouterr().err


def test_a_batch_whose_ledger_entry_cannot_be_written_stays_archived_and_is_reported(config: Config) -> None:
    """The audit table refuses writes (a trigger, as a broken or hostile database would): the
    messages are durable already, so they stay archived; the failure is counted and verify names them."""
    store = SqliteStore.from_config(config)
    svc = Services(config, store, AuditLog.for_config(store, config), UserService(store))
    try:
        _sql(store, ("CREATE TRIGGER audit_refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk says no'); END", ()))
        outcomes = list(Ingestor(store, config).ingest_many((RawItem(raw) for raw in _mails()[:2]), batch_size=BATCH))
        assert [o.status for o in outcomes] == ["archived", "archived"]
        assert store.get_counter(LEDGER_FAILURES) == 1
        _sql(store, ("DROP TRIGGER audit_refuse", ()))
        report = svc.verify.run(Actor.cli())
        assert report.counts == {"audit": 1, "unledgered": 2}, report.problems  # audit: the log is empty
    finally:
        svc.close()


def test_a_document_archived_again_from_its_bytes_is_reported_as_reindexed(archive: Archive) -> None:
    lost = archive.message(3)
    raw = archive.store.get_raw(lost.sha256)
    delete_document(archive, lost)
    [outcome] = Ingestor(archive.store, archive.svc.config).ingest_many([RawItem(raw)])
    assert (outcome.status, outcome.id) == ("archived", lost.id)
    report = archive.verify()
    assert report.counts == {"reindexed": 1}, report.problems
    assert f"archived again from its raw bytes as seq {archive.message(3).archive_seq}" in report.problems[0][1]
