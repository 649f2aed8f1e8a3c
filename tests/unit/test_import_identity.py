"""The import's fast path stores exactly what the plain path stores (issue 18 item 1).

Fast: ``run_import`` as ``mailarchive import`` runs it: a parser pool that also applies the rules,
enriches and makes the store's rows (``prepare_message``: documents, compressed raw bytes, tokens),
one ``put_prepared`` transaction per batch with the journal copies of one message inside it,
``bulk_import`` durability. Plain: the same messages parsed in this process and put one per
transaction, the store preparing everything itself (the shape of the import before these levers).
The stored documents, raw bytes and search results must not differ; only the arrival bookkeeping
(archived_at, archive_seq) may. With the same batches and one clock, not even that: every table
of the archive holds the same bytes.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.config import Config, load_config
from server.indexing.importer import run_import
from server.indexing.mailreaders import discover, read_messages
from server.indexing.pipeline import Ingestor, RawItem
from server.model import Message
from server.query.criteria import parse_criteria
from server.store import open_store
from server.synthetic import build_directory, generate_corpus


def _comparable(message: Message) -> dict:
    """The document without its arrival bookkeeping. A message with neither a Received header nor
    an mbox time gets the import's own clock as received time (and Date, retention from it): those
    values are replaced by what they stand for, since the two imports ran at different times."""
    doc = message.to_dict()
    arrival = doc.pop("archived_at")
    doc.pop("archive_seq")
    if doc["received_at"] != arrival:
        return doc
    text = json.dumps(doc, ensure_ascii=False).replace(arrival, "<arrival>")
    if doc["retention_until"]:
        text = text.replace(doc["retention_until"], "<arrival + retention>")
    return json.loads(text.replace(arrival[:16] + "Z", "<arrival, minutes>"))


def _stored(config: Config) -> tuple[dict[str, dict], dict[str, bytes], list[str]]:
    store = open_store(config)
    try:
        messages = store.scan_archived(0, 100_000)
        docs = {m.id: _comparable(m) for m in messages}
        raws = {m.sha256: store.get_raw(m.sha256) for m in messages}
        hits = [m.id for m in store.scan(parse_criteria({"from": "1990-01-01", "to": "2030-12-31", "keyword": "contract OR 合同"}))]
        return docs, raws, hits
    finally:
        store.close()


def _config(root: Path, name: str) -> Config:
    config = load_config(env={"MAILARCHIVE_CONFIG": "none", "MAILARCHIVE_INTERNAL_DOMAINS":
                              "acme-corp.example.com,acme-cn.example.com"}, data_dir=root / name)  # fmt: skip
    store = open_store(config)
    store.upsert_accounts(build_directory(1).as_accounts())
    store.close()
    return config


def _plain_import(paths: list[Path], config: Config, batch_size: int = 1) -> None:
    sources, _ = discover(paths)
    items = [RawItem(raw, source="import", received_at=delivered) for s in sources for raw, delivered in read_messages(s)]
    store = open_store(config)
    try:
        for _ in Ingestor(store, config).ingest_many(items, pool=None, batch_size=batch_size):
            pass
    finally:
        store.close()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated office mail with journal copies (~13 %: copies of one message in one batch)."""
    root = tmp_path_factory.mktemp("synthetic")
    generate_corpus(root, 600, seed=3, workers=1)
    return root


@pytest.mark.timeout(1200)  # the plain path commits (fsync) once per message: slow on a loaded machine
def test_fast_and_plain_imports_store_the_same(tmp_path: Path, synthetic: Path, corpus_dir: Path) -> None:
    paths = [synthetic, corpus_dir]
    fast, plain = _config(tmp_path, "fast"), _config(tmp_path, "plain")
    store = open_store(fast)
    try:
        summary = run_import([str(p) for p in paths], store, fast, workers=2)
    finally:
        store.close()
    _plain_import(paths, plain)
    fast_docs, fast_raws, fast_hits = _stored(fast)
    plain_docs, plain_raws, plain_hits = _stored(plain)
    assert summary.duplicates > 40 and summary.archived == len(plain_docs) > 1000
    assert fast_docs.keys() == plain_docs.keys()
    assert [i for i in fast_docs if fast_docs[i] != plain_docs[i]] == []
    assert fast_raws == plain_raws
    assert fast_hits == plain_hits and fast_hits


MESSAGE_TABLES = ("messages", "message_docs", "message_meta", "message_holds", "message_keys", "mailbox_names", "raws",
                  "text_terms", "sqlite_sequence")  # fmt: skip


def _tables(config: Config) -> dict[str, list[tuple]]:
    """Every row of the message tables (the text index as its terms, positions and rows), and the
    ingest ledger's documents (leaves: seq, id, sha256, document digest)."""
    conn = sqlite3.connect(config.sqlite_path)
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.text_terms USING fts5vocab(main, message_text, instance)")
        rows = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in MESSAGE_TABLES}
        rows["ledger"] = conn.execute("SELECT key, doc FROM docs WHERE kind = 'ingest_ledger' ORDER BY key").fetchall()
        return rows
    finally:
        conn.close()


def test_rows_prepared_in_the_parser_processes_are_the_rows_the_writer_made(
        tmp_path: Path, synthetic: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The same batches (500) under one clock: the pooled import, whose parser processes prepare
    the rows, and the in-process path, where the writer prepares them, leave byte-identical tables."""
    monkeypatch.setattr("server.indexing.pipeline.now_utc", lambda: datetime(2026, 12, 3, 10, 0, 0, 123000, UTC))
    fast, plain = _config(tmp_path, "fast"), _config(tmp_path, "plain")
    store = open_store(fast)
    try:
        summary = run_import([str(synthetic)], store, fast, workers=2)
    finally:
        store.close()
    _plain_import([synthetic], plain, batch_size=500)
    fast_rows, plain_rows = _tables(fast), _tables(plain)
    assert summary.archived == len(plain_rows["messages"]) > 500 and summary.duplicates > 40
    assert all(fast_rows[t] for t in fast_rows if t != "message_holds")
    assert {t for t in fast_rows if fast_rows[t] != plain_rows[t]} == set()
