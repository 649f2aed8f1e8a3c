"""``raws.refs`` (schema step "reference counts on raw blobs"): the purge's "is this blob still
referred to?" without the random-digest index ``message_meta_sha256``, and the migration that
counts the references of an existing archive. (Conformance: a shared blob goes with the last
message that uses it, on every backend.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.store.sqlite import SqliteStore
from server.store.sqlite.schema import MIGRATIONS, RAW_REFS_V1
from tests.conformance.factory import make


def _refs(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT sha256, refs FROM raws"))


def test_references_are_counted_at_put_and_purge(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    store = SqliteStore(path)
    shared = b"Subject: same bytes\r\n\r\nbody\r\n"
    one, two, alone = make("one", raw=shared), make("two", raw=shared), make("alone")
    store.put_messages([one, two, alone, make("one", raw=shared)])  # a copy of "one" merges: no new reference
    assert _refs(path) == {one[0].sha256: 2, alone[0].sha256: 1}
    assert store.delete_messages(["one"]) == 1
    assert _refs(path) == {one[0].sha256: 1, alone[0].sha256: 1} and store.get_raw(one[0].sha256) == shared
    assert store.delete_messages(["two", "alone"]) == 2
    assert _refs(path) == {}
    store.close()


def test_an_archive_from_before_the_reference_counts_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    store = SqliteStore(path)
    shared = b"Subject: same bytes\r\n\r\nbody\r\n"
    one, two, alone = make("one", raw=shared), make("two", raw=shared), make("alone")
    store.put_messages([one, two, alone])
    store.close()
    with sqlite3.connect(path) as conn:  # as the previous schema version left it, plus a blob nobody refers to
        conn.execute("ALTER TABLE raws DROP COLUMN refs")
        conn.execute("CREATE INDEX message_meta_sha256 ON message_meta (sha256)")
        conn.execute("INSERT INTO raws (sha256, size, data) VALUES ('f' || substr(?, 2), 1, x'00')", (alone[0].sha256,))
        conn.execute(f"PRAGMA user_version = {MIGRATIONS.index(RAW_REFS_V1)}")
    store = SqliteStore(path)
    orphan = "f" + alone[0].sha256[1:]
    assert _refs(path) == {one[0].sha256: 2, alone[0].sha256: 1, orphan: 0}
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'message_meta_sha256'").fetchone() is None
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert store.delete_messages(["one"]) == 1 and store.get_raw(one[0].sha256) == shared
    assert store.delete_messages(["two"]) == 1 and store.get_raw(one[0].sha256) is None
    assert sorted(store.raw_keys()) == sorted([alone[0].sha256, orphan])  # the orphan is left to reconcile, as before
    store.close()
