"""The SQLite schema step that adds sender/recipient domain keys to an existing archive."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.store.sqlite import SqliteStore
from server.store.sqlite.schema import MIGRATIONS
from tests.conformance.factory import crit, make, put

DOMAIN_STEP = next(i for i, m in enumerate(MIGRATIONS) if m.run is not None and m.run.__name__ == "backfill_domains")


def test_an_archive_from_before_the_domain_keys_is_backfilled(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    store = SqliteStore(path)
    put(store, [make("a", sender="Ann@Corp.Example", to=["x@partner.cn"], cc=["odd@@weird"], subject="one"),
                make("b", sender="", to=["y@Partner.CN"], subject="two")])  # fmt: skip
    store.close()
    with sqlite3.connect(path) as conn:  # as the previous schema version left it: no domain keys
        conn.execute("DELETE FROM message_keys WHERE key >= 'rd:' AND key < 'rd;' OR key >= 'sd:' AND key < 'sd;'")
        conn.execute(f"PRAGMA user_version = {DOMAIN_STEP}")
    store = SqliteStore(path)
    try:
        assert [m.id for m in store.search(crit(sender="@corp.example")).results] == ["a"]
        assert [m.id for m in store.search(crit(recipient="@partner.cn")).results] == ["b", "a"]
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        keys = {k for (k,) in conn.execute("SELECT key FROM message_keys WHERE key LIKE '_d:%'")}
    assert keys == {"sd:corp.example", "rd:partner.cn", "rd:weird"}
