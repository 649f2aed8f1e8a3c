"""Free pages hold nothing after a bulk import (server/store/sqlite/free_pages.py): the import frees
pages without zeroing them (``secure_delete = FAST``) and zeroes the free list once when it ends;
a killed import's mark makes the next purge do it. Read from the file itself, page by page."""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import pytest

from server.store.sqlite import SqliteStore, connection, free_pages
from tests.conformance.factory import corp, day, make


def _free_pages(path: Path) -> list[bytes]:
    """The content of every free-list page (trunks and leaves) of the checkpointed file: a trunk's
    bytes after its list of page numbers, a leaf's after its first 8 (a former overflow page's
    next-page number, or the header of a dropped table's empty root page)."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    size = struct.unpack(">H", data[16:18])[0]
    pages, trunk = [], struct.unpack(">I", data[32:36])[0]
    while trunk:
        page = data[(trunk - 1) * size : trunk * size]
        count = struct.unpack(">I", page[4:8])[0]
        leaves = struct.unpack(f">{count}I", page[8 : 8 + 4 * count])
        pages.append(page[8 + 4 * count :])
        pages += [data[(leaf - 1) * size + 8 : leaf * size] for leaf in leaves]
        trunk = struct.unpack(">I", page[:4])[0]
    return pages


def _import(store: SqliteStore, count: int) -> None:
    """Merges of the staged keys free the staging table's pages: an import that frees pages."""
    with store.bulk_import():
        for start in range(0, count, 50):
            store.put_messages([make(f"m{i}", date=day(1 + i % 20), body="words " * 400 + f"w{i}",
                                     mailboxes=[corp(f"box{i % 30}")], to=[f"x{i}@partner.cn"])
                                for i in range(start, start + 50)])  # fmt: skip


def _content(pages: list[bytes]) -> int:
    return sum(1 for page in pages if page.strip(b"\0"))


@pytest.fixture
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "STAGE_ROWS", 100)  # a merge (and its freed pages) every few puts
    monkeypatch.setattr(connection, "GROUP_CHANGES", 1)


def test_an_import_leaves_only_zeroed_free_pages(tmp_path: Path, small_runs: None) -> None:
    store = SqliteStore(tmp_path / "archive.sqlite3")
    _import(store, 400)
    conn = store._conn()
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1  # restored after the import
    assert not free_pages.unzeroed(conn)
    store.close()
    pages = _free_pages(tmp_path / "archive.sqlite3")
    assert pages, "the import freed no page: the test shows nothing"
    assert _content(pages) == 0


def test_without_the_final_zeroing_freed_pages_keep_content(tmp_path: Path, small_runs: None,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """What the zeroing is for (and what makes the test above able to fail)."""
    monkeypatch.setattr(connection, "fill_free_pages", lambda conn: 0)
    monkeypatch.setattr(connection, "drop_fill", lambda conn: None)
    store = SqliteStore(tmp_path / "archive.sqlite3")
    _import(store, 400)
    store.close()
    assert _content(_free_pages(tmp_path / "archive.sqlite3")) > 0


def test_a_killed_imports_free_pages_are_zeroed_by_the_next_purge(tmp_path: Path, small_runs: None,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    path = tmp_path / "archive.sqlite3"
    with monkeypatch.context() as patch:  # the import "dies" before its end: no zeroing, the mark stays
        patch.setattr(connection, "fill_free_pages", lambda conn: 0)
        patch.setattr(connection, "drop_fill", lambda conn: None)
        store = SqliteStore(path)
        _import(store, 400)
        store.close()
    store = SqliteStore(path)
    assert free_pages.unzeroed(store._conn())
    assert store.delete_messages(["m1"]) == 1
    assert not free_pages.unzeroed(store._conn())
    store.close()
    assert _content(_free_pages(path)) == 0


def test_an_import_into_a_file_with_a_large_free_list_keeps_zeroing_as_it_frees(
        tmp_path: Path, small_runs: None, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(connection, "FAST_MAX_FREE_PAGES", -1)
    store = SqliteStore(tmp_path / "archive.sqlite3")
    _import(store, 400)
    assert not free_pages.unzeroed(store._conn())  # never marked: secure_delete stayed on
    store.close()
    assert _content(_free_pages(tmp_path / "archive.sqlite3")) == 0


def test_an_import_after_a_killed_one_zeroes_first_and_keeps_its_own_mark(tmp_path: Path) -> None:
    """The zeroing a killed import's mark asks for clears the mark: the new import marks after it,
    so a kill of this one too still leaves the mark for the next import or purge."""
    store = SqliteStore(tmp_path / "archive.sqlite3")
    with store._write() as conn:
        free_pages.mark_unzeroed(conn)  # as a killed import leaves it
    with store.bulk_import():
        assert free_pages.unzeroed(store._conn())
    assert not free_pages.unzeroed(store._conn())
    store.close()
