"""The text index's FTS5 settings (schema.py): a new archive, an upgraded one and a re-indexed one
all get them (re-creating the table for a re-index would otherwise drop them)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.store.sqlite import SqliteStore
from server.store.sqlite.schema import FTS_HASH_V1, MIGRATIONS, rebuild_text_index
from tests.conformance.factory import make

WANTED = {"automerge": 16, "crisismerge": 32, "hashsize": 16 * 1024 * 1024}


def _settings(path: Path) -> dict:
    with sqlite3.connect(path) as conn:
        return {k: v for k, v in conn.execute("SELECT k, v FROM message_text_config") if k in WANTED}


def test_a_new_archive_has_them(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "a.sqlite3").close()
    assert _settings(tmp_path / "a.sqlite3") == WANTED


def test_an_archive_from_before_them_gets_them(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    store = SqliteStore(path)
    store.put_messages([make("m1", subject="ledger")])
    store.close()
    with sqlite3.connect(path) as conn:  # as the release before FTS_HASH_V1 left it
        conn.execute("DELETE FROM message_text_config WHERE k IN ('hashsize', 'crisismerge')")
        conn.execute("INSERT INTO message_text (message_text, rank) VALUES ('automerge', 8)")
        conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(FTS_HASH_V1)}")
    store = SqliteStore(path)
    assert store.count() == 1
    store.close()
    assert _settings(path) == WANTED


def test_a_reindexed_table_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    store = SqliteStore(path)
    store.put_messages([make("m1", subject="ledger")])
    with store._write() as conn:
        rebuild_text_index(conn)
    store.close()
    assert _settings(path) == WANTED
