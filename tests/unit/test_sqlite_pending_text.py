"""Text rows held back and written to FTS5 in rid order (server/store/sqlite/pending_text.py): mail
out of date order makes one segment a batch, a bulk import's searches see every committed group,
and a group rolled back leaves no text row behind."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from server.query.criteria import parse_criteria
from server.store.protocol import StoreError
from server.store.sqlite import SqliteStore, connection, messages
from tests.conformance.factory import T0, make


def _segments(store: SqliteStore) -> int:
    return store._conn().execute("SELECT count(DISTINCT segid) FROM message_text_idx").fetchone()[0]


def _found(store: SqliteStore, word: str) -> int:
    return store.search(parse_criteria({"from": "2000-01-01", "to": "2099-12-31", "keyword": word})).total


def _mail(ids: range, word: str = "ledger") -> list:
    """Dates stepping back and forth, as journaled mail's do (time zones, delays)."""
    return [make(f"m{i}", date=T0 + timedelta(minutes=(i * 37) % 101), subject=f"{word} {i} 合同审批", body=f"{word} body w{i}")
            for i in ids]  # fmt: skip


def test_a_batch_out_of_date_order_makes_one_segment(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "archive.sqlite3")
    store._conn().execute("INSERT INTO message_text (message_text, rank) VALUES ('automerge', 0)")  # count, not merge
    store.put_messages(_mail(range(60)))
    assert _segments(store) == 1  # as the mail came, FTS5 would have started a segment at each step back
    assert _found(store, "ledger") == 60
    assert _found(store, "w17") == 1
    store.close()


def test_an_import_holds_text_back_until_its_group_commits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "archive.sqlite3"
    importer, reader = SqliteStore(path), SqliteStore(path)
    monkeypatch.setattr(connection, "GROUP_CHANGES", 10**9)
    monkeypatch.setattr(connection, "GROUP_SECONDS", 10**9)
    with importer.bulk_import():
        importer.put_messages(_mail(range(0, 30)))
        importer.put_messages(_mail(range(30, 60)))
        assert _found(reader, "ledger") == 0  # the group is open: nothing committed yet
        assert importer._held_text() is not None and len(importer._held_text().rows) == 60
    assert _found(reader, "ledger") == 60
    assert _found(reader, "w45") == 1
    assert _found(reader, "合同") == 60  # held as UTF-8 bytes, indexed as the same tokens
    assert _found(reader, '"同审"') == 60
    importer.close()
    reader.close()


def test_a_group_rolled_back_drops_its_held_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "archive.sqlite3"
    store = SqliteStore(path)
    monkeypatch.setattr(connection, "GROUP_CHANGES", 10**9)
    monkeypatch.setattr(connection, "GROUP_SECONDS", 10**9)
    with store.bulk_import():
        store.put_messages(_mail(range(0, 20), "lost"))
        real = messages._put_one

        def failing(conn, row, pending, **kw):  # the second message of the next batch fails mid-write
            if row.id == "m21":
                raise sqlite3.OperationalError("disk I/O error")
            return real(conn, row, pending, **kw)

        monkeypatch.setattr(messages, "_put_one", failing)
        with pytest.raises(StoreError, match="rolled back"):
            store.put_messages(_mail(range(20, 22), "lost"))
        monkeypatch.setattr(messages, "_put_one", real)
        assert store._held_text() is not None and not store._held_text().rows
        store.put_messages(_mail(range(100, 110), "kept"))
    assert _found(store, "lost") == 0  # the whole group was rolled back, its held text with it
    assert _found(store, "kept") == 10
    assert store.count() == 10
    store._conn().execute("INSERT INTO message_text (message_text, rank) VALUES ('integrity-check', 0)")
    store.close()


def test_a_copy_adding_a_department_to_a_held_row_is_found_by_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second copy arrives while the first one's text is still held: the held row's keys change."""
    store = SqliteStore(tmp_path / "archive.sqlite3")
    monkeypatch.setattr(connection, "GROUP_CHANGES", 10**9)
    monkeypatch.setattr(connection, "GROUP_SECONDS", 10**9)
    first = make("copy", date=T0, subject="ledger 合同", mailboxes=["a@corp.example"], departments=["/Sales/East"])
    second = make("copy", date=T0, subject="ledger 合同", mailboxes=["b@corp.example"], departments=["/Legal"])
    with store.bulk_import():
        store.put_messages([first])
        store.put_messages([second])
    span = {"from": "2000-01-01", "to": "2099-12-31", "keyword": "ledger"}
    for department, sub in (("/Legal", False), ("/Sales", True), ("/Sales/East", False)):
        criteria = parse_criteria({**span, "department": department, "include_subdepartments": sub})
        assert store.search(criteria).total == 1, department
    store._conn().execute("INSERT INTO message_text (message_text, rank) VALUES ('integrity-check', 0)")
    assert store.delete_messages(["copy"]) == 1  # its 'delete' passes the str columns: the same tokens
    assert _terms(store) == {}
    store.close()


def _terms(store: SqliteStore) -> dict[str, int]:
    """Every token of the text index with its number of rows (fts5vocab)."""
    conn = store._conn()
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.terms USING fts5vocab(main, message_text, row)")
    return dict(conn.execute("SELECT term, doc FROM temp.terms"))


def test_a_group_sqlite_rolled_back_itself_drops_its_held_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Some errors (a full disk, an I/O error) make SQLite roll the whole transaction back on its own:
    the held rows of the lost group must not reach the index with the next group."""
    store = SqliteStore(tmp_path / "archive.sqlite3")
    monkeypatch.setattr(connection, "GROUP_CHANGES", 10**9)
    monkeypatch.setattr(connection, "GROUP_SECONDS", 10**9)
    real = messages._put_one

    def failing(conn, row, pending, **kw):
        if row.id == "m21":
            conn.execute("ROLLBACK")  # as SQLite does itself after SQLITE_FULL
            raise sqlite3.OperationalError("database or disk is full")
        return real(conn, row, pending, **kw)

    with store.bulk_import():
        store.put_messages(_mail(range(0, 20), "lost"))
        monkeypatch.setattr(messages, "_put_one", failing)
        with pytest.raises(StoreError):
            store.put_messages(_mail(range(20, 22), "lost"))
        monkeypatch.setattr(messages, "_put_one", real)
        store.put_messages(_mail(range(100, 110), "kept"))
    assert store.count() == 10
    terms = _terms(store)
    assert "lost" not in terms and terms["kept"] == 10
    store._conn().execute("INSERT INTO message_text (message_text, rank) VALUES ('integrity-check', 0)")
    store.close()
