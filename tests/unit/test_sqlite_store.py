"""What only the SQLite backend has to promise: several processes on one file, migrations,
single-instance raw storage, durability settings, the integrity check on raw bytes."""

from __future__ import annotations

import functools
import multiprocessing
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from server.store.common.prepared import prepare_or_failure, put_all
from server.store.protocol import StoreError
from server.store.sqlite import SqliteStore, connection, query
from server.store.sqlite.schema import MIGRATIONS
from tests.conformance.factory import all_pages, crit, day, make
from tests.conformance.test_cross_backend import CRITERIA, DATA

WRITERS, PER_WRITER, BATCH = 3, 120, 40


def _writer(path: str, n: int) -> None:
    """One process: batches of messages (some shared with the other writers) and counter bumps."""
    store = SqliteStore(Path(path))
    items = [make(f"w{n}-{i:03d}", date=day(1 + i % 20), mailboxes=[f"p{n}@corp.example"]) for i in range(PER_WRITER)]
    shared = [make(f"shared-{i}", date=day(2), mailboxes=[f"p{n}@corp.example"]) for i in range(10)]
    for start in range(0, PER_WRITER, BATCH):
        assert all(r.status != "failed" for r in store.put_messages(items[start : start + BATCH] + shared))
        store.incr_counter("batches")
    store.close()


def test_several_processes_write_one_file(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"  # created by whichever writer comes first
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), n)) for n in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = SqliteStore(path)
    assert store.count() == WRITERS * PER_WRITER + 10
    assert store.get_counter("batches") == WRITERS * PER_WRITER // BATCH
    assert sorted(store.get_message("shared-0").mailboxes) == [f"p{n}@corp.example" for n in range(WRITERS)]
    assert store.count(crit(mailbox="p1@corp.example")) == PER_WRITER + 10
    walked = store.scan_archived(0, 10_000)  # processes never share an arrival number
    assert len({m.archive_seq for m in walked}) == len(walked) == store.count()
    store.close()


def _put_and_die(path: str) -> None:
    store = SqliteStore(Path(path))
    store.put_messages([make(f"acked-{i}") for i in range(50)])
    os._exit(0)  # no close, no cleanup: as if the process were killed right after the acknowledgement


def test_a_returned_batch_survives_the_process_dying(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    proc = multiprocessing.get_context("spawn").Process(target=_put_and_die, args=(str(path),))
    proc.start()
    proc.join(60)
    store = SqliteStore(path)
    assert store.count() == 50
    store.close()


def test_opening_applies_migrations_once(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    first = SqliteStore(path)
    first.put_messages([make("kept")])
    first.close()
    again = SqliteStore(path)  # reopening an up-to-date file changes nothing
    assert again.get_message("kept") is not None
    again.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_opening_an_up_to_date_file_takes_no_write_lock(tmp_path: Path) -> None:
    """A search opened while an import holds the write lock (a batch commits for seconds) reads at
    once: the schema check is a read of user_version, not an empty write transaction."""
    path = tmp_path / "archive.sqlite3"
    SqliteStore(path).close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # held until the end of the test
    opened: list[int] = []

    def open_and_count() -> None:
        store = SqliteStore(path)
        opened.append(store.count())
        store.close()

    reader = threading.Thread(target=open_and_count, daemon=True)
    reader.start()
    reader.join(timeout=20)  # the store's busy timeout is 60 s: a write transaction would still wait
    done_while_locked = list(opened)
    writer.execute("ROLLBACK")
    writer.close()
    reader.join()
    assert done_while_locked == [0]


def test_durable_commit_settings(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "archive.sqlite3")
    conn = store._conn()
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: the WAL is synced at each commit
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    store.close()


def test_bulk_import_relaxes_only_its_own_connection_and_only_inside(tmp_path: Path) -> None:
    """``mailarchive import`` commits without fsync and maps nothing; journal mail (any other
    thread or process) keeps FULL; after the block everything is back and the batch is stored."""
    store = SqliteStore(tmp_path / "archive.sqlite3")
    other = SqliteStore(tmp_path / "archive.sqlite3")  # e.g. the SMTP receiver, another process
    pragmas = "PRAGMA synchronous", "PRAGMA mmap_size"
    with store.bulk_import():
        assert [store._conn().execute(p).fetchone()[0] for p in pragmas] == [1, 0]  # NORMAL, no map
        store.put_messages([make("bulk")])
        seen: list[int] = []
        thread = threading.Thread(target=lambda: seen.append(store._conn().execute(pragmas[0]).fetchone()[0]))
        thread.start()
        thread.join()
        assert seen == [1]  # a connection opened inside the block (a helper thread) is relaxed too
        assert other._conn().execute(pragmas[0]).fetchone()[0] == 2
    assert [store._conn().execute(p).fetchone()[0] for p in pragmas] == [2, 256 * 1024 * 1024]
    assert other.get_message("bulk") is not None and other.get_counter("store.bulk_imports") == 1
    store.close()
    other.close()


def test_bulk_import_groups_many_writes_into_one_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the block the importer's writes share one transaction (others see nothing until it
    commits, the importer reads its own writes), a failing write undoes only itself, and the
    group commits once it has changed ``GROUP_CHANGES`` rows and at the end of the block."""
    store = SqliteStore(tmp_path / "archive.sqlite3")
    other = SqliteStore(tmp_path / "archive.sqlite3")
    with store.bulk_import():
        store.put_messages([make("first")])
        store.put_doc("import_checkpoint", "f1", {"messages": 1})
        assert other.get_message("first") is None and other.get_doc("import_checkpoint", "f1") is None
        assert store.get_message("first") is not None  # a read inside the open group sees it
        with pytest.raises(RuntimeError), store._write() as conn:
            conn.execute("INSERT INTO settings (key, value) VALUES ('undone', '1')")
            raise RuntimeError("this write fails")
        undone = store._conn().execute("SELECT value FROM settings WHERE key = 'undone'").fetchone()
        assert store._conn().in_transaction and undone is None and store.get_message("first") is not None
        monkeypatch.setattr(connection, "GROUP_CHANGES", 1)
        store.put_messages([make("second")])  # the group is now large enough: committed
        assert other.get_message("first") is not None and other.get_message("second") is not None
        monkeypatch.setattr(connection, "GROUP_CHANGES", 10**9)
        store.put_messages([make("third")])
        assert other.get_message("third") is None
    assert other.get_message("third") is not None and other.get_doc("import_checkpoint", "f1") == {"messages": 1}
    with store.bulk_import():  # a failed put (no savepoint: it stops the import) rolls the whole group back
        store.put_messages([make("fourth")])
        with pytest.raises(StoreError, match="rolled back: run the import again"), store._write(all_or_group=True):
            raise sqlite3.OperationalError("disk I/O error")
        assert not store._conn().in_transaction
    assert other.get_message("fourth") is None and other.get_message("third") is not None
    with store._write() as conn:  # outside the block a write commits on its own again
        conn.execute("INSERT INTO settings (key, value) VALUES ('alone', '1')")
    assert other._conn().execute("SELECT value FROM settings WHERE key = 'alone'").fetchone() == ("1",)
    store.close()
    other.close()


def _tables(store: SqliteStore) -> dict[str, list[tuple]]:
    conn = store._conn()
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.text_terms USING fts5vocab(main, message_text, instance)")
    tables = ("messages", "message_docs", "message_meta", "message_holds", "message_keys", "mailbox_names", "raws",
              "text_terms", "sqlite_sequence")  # fmt: skip
    return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def test_rows_prepared_in_another_process_store_what_put_messages_stores(tmp_path: Path) -> None:
    """``put_prepared`` of rows a parser process made (pickled there and back) gives the same
    bytes in every table as ``put_messages``, copies merged and bad documents refused alike."""
    items = [make("one", subject="alpha 合同", mailboxes=["a@corp.example"]), make("two", subject="beta gamma"),
             make("one", subject="alpha 合同", mailboxes=["b@corp.example"])]
    liar, raw = make("liar")
    items.append((liar._replace(sha256="0" * 64), raw))
    direct, prepared = SqliteStore(tmp_path / "direct.sqlite3"), SqliteStore(tmp_path / "prepared.sqlite3")
    expected = direct.put_messages(items)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        rows = pool.starmap(functools.partial(prepare_or_failure, SqliteStore.prepare_message), items)
    assert [r.status for r in expected] == ["created", "created", "merged", "failed"]
    assert put_all(prepared, rows) == expected
    assert _tables(prepared) == _tables(direct) and _tables(direct)["text_terms"]
    direct.close()
    prepared.close()


def test_identical_raw_bytes_are_stored_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "archive.sqlite3")
    raw = b"Subject: same\r\n\r\n" + b"x" * 10_000
    store.put_messages([make("a", raw=raw), make("b", raw=raw), make("c")])
    (rows, stored) = store._conn().execute("SELECT count(*), sum(length(data)) FROM raws").fetchone()
    assert rows == 2
    assert stored < len(raw)  # compressed
    store.close()


def test_raw_bytes_must_match_the_sha256(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "archive.sqlite3")
    message, raw = make("liar")
    [result] = store.put_messages([(message._replace(sha256="0" * 64), raw)])
    assert result.status == "failed" and "sha256" in result.error
    assert store.get_message("liar") is None
    store.close()


def test_wrongly_typed_lists_are_refused(tmp_path: Path) -> None:
    """A string where a list belongs would otherwise be indexed character by character."""
    store = SqliteStore(tmp_path / "archive.sqlite3")
    message, raw = make("str-mailbox")
    message.mailboxes = "alice@corp.example"  # type: ignore[assignment]
    results = store.put_messages([(message, raw), make("ok")])
    assert [r.status for r in results] == ["failed", "created"] and "mailboxes" in results[0].error
    store.close()


def test_many_messages_in_one_millisecond(tmp_path: Path) -> None:
    """Same-date messages share a rid group; order inside it is by id, whatever the arrival order."""
    store = SqliteStore(tmp_path / "archive.sqlite3")
    ids = [f"t{(n * 37) % 400:03d}" for n in range(400)]
    for start in range(0, 400, 100):
        store.put_messages([make(i, date=day(3)) for i in ids[start : start + 100]])
    found = [m.id for m in store.scan(crit(), batch_size=64)]
    assert found == sorted(ids, reverse=True)
    store.close()


@pytest.mark.parametrize("params", CRITERIA, ids=[str(p) for p in CRITERIA])
def test_probing_large_key_sets_finds_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, params: dict) -> None:
    """Large filter sets are probed row by row instead of loaded, for the whole search or only for
    its page walks once the total is known; the results must not change."""
    store = SqliteStore(tmp_path / "archive.sqlite3")
    store.put_messages(DATA)
    loaded = all_pages(store, crit(**params), 4)
    monkeypatch.setattr(query, "LARGE_SET", 0)
    assert all_pages(store, crit(**params), 4) == loaded
    monkeypatch.setattr(query, "PROBE_RATIO", 1e9)  # every set "small" against the keyword: loaded for the count
    monkeypatch.setattr(query, "PROBE_COST_RATIO", -1)  # ... and the page walks always probe
    assert all_pages(store, crit(**params), 4) == loaded
    monkeypatch.setattr(query, "PROBE_MAX_MATCHES", 0)  # keywords "too common to count": capped page walks
    assert all_pages(store, crit(**params), 4) == loaded
    monkeypatch.setattr(query, "PAGE_VISITS", 1)  # caps too small for most pages: the loaded walk again
    assert all_pages(store, crit(**params), 4) == loaded
    store.close()


def test_a_page_walk_probes_a_large_set_once_the_total_is_known(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The plan choice itself: loaded for the count, probed for a page walk that visits few rows."""
    store = SqliteStore(tmp_path / "archive.sqlite3")
    store.put_messages([make(f"p{i:03d}", date=day(1 + i % 20), subject="budget", mailboxes=["a@corp.example"])
                        for i in range(60)])  # fmt: skip
    monkeypatch.setattr(query, "LARGE_SET", 10)
    criteria = crit(keyword="budget", mailbox="a@corp.example")
    with store._read() as conn:
        planned = query.plan(criteria, conn)
    assert planned.driver_rows == 60 and [f.probe for f in planned.filters] == [False]
    assert planned.filters[0].rows == 60
    assert [f.probe for f in planned.for_page(60, 5).filters] == [True]  # 5 visits x 5 < 60 rows: probing is cheaper
    assert [f.probe for f in planned.for_page(20, 5).filters] == [False]  # 15 visits x 5 > 60: loading is
    assert store.search(criteria, limit=5).total == 60
    monkeypatch.setattr(query, "PROBE_MAX_MATCHES", 10)  # the keyword is "too common" to count while planning
    with store._read() as conn:
        planned = query.plan(criteria, conn)
    assert planned.driver_rows is None and planned.count_first
    page = planned.for_page(60, 5)  # the newest 5 x PAGE_VISITS keyword matches are probed, else the loaded walk
    assert page.visit_cap == 5 * query.PAGE_VISITS and page.fallback is planned and [f.probe for f in page.filters] == [True]
    assert [m.id for m in store.search(criteria, limit=5).results] == [f"p{i:03d}" for i in (59, 39, 19, 58, 38)]
    store.close()


def test_threads_share_one_store(tmp_path: Path) -> None:
    """Writers and readers on several threads of one process, each on its own connection."""
    store = SqliteStore(tmp_path / "archive.sqlite3")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for batch in range(5):
                store.put_messages([make(f"th{n}-{batch}-{i}", date=day(1 + i), mailboxes=[f"t{n}@corp.example"]) for i in range(20)])
                page = store.search(crit(mailbox=f"t{n}@corp.example"), limit=10)
                assert page.total == 20 * (batch + 1)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 400
    store.close()


def test_an_archive_of_schema_version_3_is_migrated(tmp_path: Path) -> None:
    """Existing archives get arrival numbers in the order they were archived (not by date), their
    documents version 1, and keep working: search, raw bytes, merges, and new numbers after them."""
    from datetime import timedelta

    from tests.support.legacy_archive import sqlite_v3

    path = tmp_path / "archive.sqlite3"
    first, raw_first = make("old-first", date=day(9), subject="alpha", mailboxes=["a@corp.example"], body="关于合同的会议")
    second, raw_second = make("old-second", date=day(2), subject="beta", body="合同审批 上海")
    first.archived_at, second.archived_at = day(10), day(11)  # archived in this order, dated the other way
    first.retention_until = day(1) + timedelta(days=3650)
    sqlite_v3(path, [(second, raw_second), (first, raw_first)], docs=[("task", "t1", '{"state": "done"}')])
    store = SqliteStore(path)
    try:
        assert [(m.id, m.archive_seq) for m in store.scan_archived(0, 10)] == [("old-first", 1), ("old-second", 2)]
        assert store.max_archive_seq() == 2
        assert store.get_doc_versioned("task", "t1") == ({"state": "done"}, 1)
        assert [m.id for m in store.search(crit(keyword="alpha")).results] == ["old-first"]
        # the text index was rebuilt with CJK bigrams: words, single characters, no false pairs
        assert [m.id for m in store.search(crit(keyword="合同")).results] == ["old-first", "old-second"]
        assert [m.id for m in store.search(crit(keyword="会")).results] == ["old-first"]
        assert [m.id for m in store.search(crit(keyword="同审")).results] == ["old-second"]
        assert store.count(crit(keyword="同会")) == 0 and store.count(crit(keyword="海")) == 1
        assert store.get_raw(first.sha256) == raw_first
        assert store.put_messages([make("old-first", date=day(9), mailboxes=["b@corp.example"])])[0].status == "merged"
        assert store.put_messages([make("new")])[0].status == "created"
        assert [m.archive_seq for m in store.get_messages(["old-first", "new"])] == [1, 3]
        expired = store.scan_expired(day(1) + timedelta(days=3651), 10)
        assert [m.id for m in expired] == ["old-first"]
        assert store.delete_messages(["old-second"]) == 1  # deleted with the rebuilt index's tokens
        assert store.count(crit(keyword="合同")) == 1 and store.count(crit(keyword="上海")) == 0
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_the_watermark_never_passes_a_write_still_in_its_transaction(tmp_path: Path) -> None:
    """A second process is inside its write transaction with a new message: readers see neither
    the message nor its number until it commits, so acknowledging up to the watermark is safe."""
    from server.store.sqlite.messages import _put_one, prepare_message
    from server.store.sqlite.pending_text import PendingText

    path = tmp_path / "archive.sqlite3"
    reader, writer = SqliteStore(path), SqliteStore(path)
    try:
        reader.put_messages([make("committed")])
        with writer._write() as conn:
            _put_one(conn, prepare_message(*make("in-flight")), PendingText())
            assert reader.max_archive_seq() == 1
            assert [m.id for m in reader.scan_archived(0, 10)] == ["committed"]
            assert [h.id for h in reader.scan_archived_heads(0, 10)] == ["committed"]
        assert reader.max_archive_seq() == 2
        assert [m.id for m in reader.scan_archived(1, 10)] == ["in-flight"]
        assert [h.id for h in reader.scan_archived_heads(1, 10)] == ["in-flight"]
    finally:
        reader.close()
        writer.close()


def test_a_purge_leaves_the_text_index_consistent(tmp_path: Path) -> None:
    """The contentless FTS5 table is deleted from with the tokens it was indexed with. A wrong
    delete leaves stale postings (FTS5's integrity check cannot see them on a contentless table),
    which keyword counts would include: they must count only what is left."""
    store = SqliteStore(tmp_path / "archive.sqlite3")
    try:
        items = [make(f"p{n}", subject=f"report {n}", body="合同 quarterly numbers", attachments=[f"r{n}.pdf"]) for n in range(20)]
        store.put_messages(items)
        assert store.delete_messages([f"p{n}" for n in range(0, 20, 2)]) == 10
        assert store.count(crit(keyword="合同 quarterly")) == 10
        assert store.count(crit(keyword="report 4")) == 0 and store.count(crit(keyword="report 5")) == 1
        assert sorted(m.id for m in store.search(crit(keyword="r3.pdf")).results) == ["p3"]
    finally:
        store.close()
