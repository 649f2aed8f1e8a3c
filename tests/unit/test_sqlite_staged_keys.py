"""Filter keys staged during a bulk import (server/store/sqlite/staged_keys.py): searches see an
import's messages group by group as before, the staged rows reach ``message_keys`` in sorted runs
and at the end of the import, and purges, merged copies and crashes leave the same tables.
(The conformance suite runs whole against a store that stages every put: ``sqlite-staged``.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.store.sqlite import SqliteStore, connection
from server.store.sqlite.schema import MIGRATIONS, STAGED_KEYS_V1
from tests.conformance.factory import corp, crit, day, make
from tests.support.staging import StagingSqliteStore


def _rows(store: SqliteStore, table: str) -> list[tuple]:
    return sorted(store._conn().execute(f"SELECT key, rid FROM {table}").fetchall())


def _items() -> list:
    return [make(f"m{i}", date=day(1 + i % 5), sender=corp(f"s{i % 3}"), to=[f"x{i}@partner.cn"],
                 mailboxes=[corp("alice"), corp(f"box{i % 4}")], departments=["/Sales/East" if i % 2 else "/Ops"])
            for i in range(12)]  # fmt: skip


def _answers(store: SqliteStore) -> list:
    """What searches of every filter kind, a count, and both key aggregations answer."""
    out: list = []
    for params in ({"mailbox": corp("alice")}, {"mailbox": corp("box1")}, {"sender": corp("s2")},
                   {"sender": "@corp.example"}, {"recipient": "@partner.cn"}, {"recipient": "x3@partner.cn"},
                   {"department": "/Sales", "include_subdepartments": True},
                   {"mailbox": corp("box2"), "department": "/Ops"}):  # fmt: skip
        page = store.search(crit(**params), limit=5)
        out.append((page.total, [m.id for m in page.results], store.count(crit(**params))))
    out.append(store.aggregate(None, "mailbox").buckets)
    out.append(store.aggregate(crit(sender=corp("s1")), "department").buckets)
    return out


def test_an_import_stages_its_keys_and_merges_them_when_it_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    direct = SqliteStore(tmp_path / "direct.sqlite3")
    direct.put_messages(_items())
    importer, other = SqliteStore(tmp_path / "import.sqlite3"), SqliteStore(tmp_path / "import.sqlite3")
    monkeypatch.setattr(connection, "GROUP_CHANGES", 1)  # every put commits its group: others see it
    with importer.bulk_import():
        importer.put_messages(_items()[:6])
        importer.put_messages(_items()[6:])
        assert _rows(other, "message_keys") == []  # every key is staged ...
        assert _rows(other, "message_keys_staged") == _rows(direct, "message_keys")
        assert _answers(other) == _answers(direct)  # ... and every read finds it there
    assert _rows(other, "message_keys_staged") == []
    assert _rows(other, "message_keys") == _rows(direct, "message_keys")
    assert _answers(other) == _answers(direct)
    for store in (direct, importer, other):
        store.close()


def test_staged_keys_are_merged_every_stage_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqliteStore(tmp_path / "archive.sqlite3")
    monkeypatch.setattr(connection, "STAGE_ROWS", 20)
    with store.bulk_import():
        store.put_messages(_items()[:2])  # fewer rows than STAGE_ROWS: staged
        staged = len(_rows(store, "message_keys_staged"))
        assert 0 < staged < 20 and _rows(store, "message_keys") == []
        store.put_messages(_items()[2:4])  # now past it: the group commits, then the merge
        assert _rows(store, "message_keys_staged") == [] and len(_rows(store, "message_keys")) > staged
    store.close()


def test_a_copy_merged_into_a_staged_message_adds_only_its_new_keys(tmp_path: Path) -> None:
    """A row in both tables would be counted twice; the merge writes only the keys it adds."""
    direct, staged = SqliteStore(tmp_path / "direct.sqlite3"), StagingSqliteStore(tmp_path / "staged.sqlite3")
    for store in (direct, staged):
        store.put_messages(_items())
    copy = make("m1", date=day(2), sender=corp("s1"), to=["x1@partner.cn"], mailboxes=[corp("carol")],
                departments=["/Sales/East"])  # fmt: skip
    journal = SqliteStore(tmp_path / "staged.sqlite3")  # journal mail: straight into message_keys
    assert journal.put_messages([copy])[0].status == "merged"
    journal.close()
    assert direct.put_messages([copy])[0].status == "merged"
    (rid,) = staged._conn().execute("SELECT rid FROM messages WHERE id = 'm1'").fetchone()
    assert _rows(staged, "message_keys") == [("m:carol@corp.example", rid)]  # the one key the copy adds
    assert not set(_rows(staged, "message_keys")) & set(_rows(staged, "message_keys_staged"))
    assert _answers(staged) == _answers(direct)
    assert staged.aggregate(None, "mailbox").buckets == direct.aggregate(None, "mailbox").buckets
    direct.close()
    staged.close()


def test_a_purge_during_an_import_merges_the_staged_keys_first(tmp_path: Path) -> None:
    direct, staged = SqliteStore(tmp_path / "direct.sqlite3"), StagingSqliteStore(tmp_path / "staged.sqlite3")
    for store in (direct, staged):
        store.put_messages(_items())
        assert store.delete_messages(["m0", "m4", "m8"]) == 3  # every message of box0
    assert _rows(staged, "message_keys_staged") == []
    assert _rows(staged, "message_keys") == _rows(direct, "message_keys")
    names = "SELECT address FROM mailbox_names ORDER BY address"
    assert staged._conn().execute(names).fetchall() == direct._conn().execute(names).fetchall()
    assert corp("box0") not in [a for (a,) in staged._conn().execute(names)]
    assert _answers(staged) == _answers(direct)
    direct.close()
    staged.close()


def test_keys_a_crash_left_staged_stay_visible_and_the_next_import_merges_them(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    direct = SqliteStore(tmp_path / "direct.sqlite3")
    direct.put_messages(_items())
    crashed = StagingSqliteStore(path)  # as if an import had died before its end: keys still staged
    crashed.put_messages(_items()[:8])
    crashed.close()
    store = SqliteStore(path)
    assert _rows(store, "message_keys_staged") and _rows(store, "message_keys") == []
    with store.bulk_import():  # the re-run stores the rest and merges everything staged
        store.put_messages(_items())
    assert _rows(store, "message_keys_staged") == []
    assert _rows(store, "message_keys") == _rows(direct, "message_keys")
    assert _answers(store) == _answers(direct)
    store.close()
    direct.close()


def test_an_archive_from_before_the_staging_table_gets_it(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    store = SqliteStore(path)
    store.put_messages(_items())
    store.close()
    with sqlite3.connect(path) as conn:  # as the previous schema version left it
        conn.execute("DROP TABLE message_keys_staged")
        conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(STAGED_KEYS_V1)}")
    direct = SqliteStore(tmp_path / "direct.sqlite3")
    direct.put_messages(_items())
    store = SqliteStore(path)
    with store.bulk_import():
        store.put_messages([make("late", mailboxes=[corp("alice")])])
    direct.put_messages([make("late", mailboxes=[corp("alice")])])
    assert _answers(store) == _answers(direct)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    store.close()
    direct.close()
