"""Department keys as tokens of the SQLite text index (fts_text.py, the ``keys`` column): their
form, the plan that folds a department into the MATCH, what merges and purges leave in the
index, and the migration of an archive from before the column. (Conformance: the answers are
Elasticsearch's, tests/conformance/test_department_keywords.py.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.store.common import codec
from server.store.sqlite import SqliteStore, schema
from server.store.sqlite.fts_text import KEY_MARK, key_token, text_columns
from server.store.sqlite.keys import DEPARTMENT, DEPARTMENT_PATH
from server.store.sqlite.query import plan
from server.store.sqlite.schema import CJK_BIGRAMS_V1, DEPARTMENT_TOKENS_V1, MIGRATIONS
from tests.conformance.factory import ALICE, LI, crit, day, make, search_ids

ZH = "/法务部/合规"


def _terms(path: Path) -> dict[str, int]:
    """Every token of the text index with its number of rows (fts5vocab)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, message_text, row)")
        return dict(conn.execute("SELECT term, doc FROM temp.terms"))


def _integrity(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO message_text (message_text, rank) VALUES ('integrity-check', 0)")


def test_a_token_is_the_mark_the_kind_and_the_hex_of_the_utf8() -> None:
    assert key_token(DEPARTMENT_PATH, "/Sales") == "\ue000p2f53616c6573"
    assert key_token(DEPARTMENT, ZH) == KEY_MARK + "d" + ZH.encode().hex()


def test_keyword_and_department_is_one_match_without_a_department_filter(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "archive.sqlite3")
    with store._read() as conn:
        query = plan(crit(keyword="renewal", department="/Sales", include_subdepartments="true", mailbox=ALICE), conn)
        alone = plan(crit(department="/Sales", include_subdepartments="true"), conn)
    assert query.params == [f'("renewal") AND "{key_token(DEPARTMENT_PATH, "/Sales")}"']
    assert [flt.keys for flt in query.filters] == [[f"m:{ALICE}"]]  # the mailbox stays a key filter
    assert alone.params == ["p:/Sales"]  # no keyword: the department's key rows drive, as before
    store.close()


def test_merges_and_purges_leave_exactly_the_tokens_of_what_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    store = SqliteStore(path)
    first = make("m", date=day(1), subject="renewal", body="合同", mailboxes=[ALICE], departments=["/Sales/East"])
    copy = make("m", date=day(1), subject="renewal", mailboxes=[LI], departments=[ZH], raw=b"Subject: copy\r\n\r\nx\r\n")
    store.put_messages([first, make("kept", date=day(2), subject="renewal", departments=["/Sales/East"])])
    before = _terms(path)
    store.put_messages([copy])
    after = _terms(path)
    assert after[key_token(DEPARTMENT, ZH)] == 1 and after[key_token(DEPARTMENT_PATH, "/法务部")] == 1
    assert after[key_token(DEPARTMENT_PATH, "/Sales")] == before[key_token(DEPARTMENT_PATH, "/Sales")] == 2
    assert after["renewal"] == before["renewal"] == 2  # the row was rewritten, not added to
    _integrity(path)
    assert store.delete_messages(["m"]) == 1
    gone = _terms(path)
    assert key_token(DEPARTMENT, ZH) not in gone and key_token(DEPARTMENT_PATH, "/法务部") not in gone
    assert gone[key_token(DEPARTMENT_PATH, "/Sales")] == 1 and gone["renewal"] == 1 and "合同" not in gone
    assert search_ids(store, keyword="renewal", department="/法务部", include_subdepartments="true") == []
    _integrity(path)
    store.close()


def _as_before_the_keys_column(path: Path, version: int) -> None:
    """The text table as the schema before DEPARTMENT_TOKENS_V1 built it, at ``version``."""
    with sqlite3.connect(path) as conn:
        docs = conn.execute("SELECT rid, doc FROM message_docs").fetchall()
        conn.execute("DROP TABLE message_text")
        conn.execute(schema.MESSAGE_TEXT_SQL.replace("attachment, keys", "attachment"))
        for rid, blob in docs:
            doc = codec.unpack_doc(blob)
            columns = text_columns(doc["subject"], doc["body_text"], doc["attachment_names"])
            conn.execute("INSERT INTO message_text (rowid, subject, body, attachment) VALUES (?, ?, ?, ?)", (rid, *columns))
        conn.execute(f"PRAGMA user_version = {version}")


def _columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[1] for row in conn.execute("PRAGMA table_info(message_text)")]


@pytest.mark.parametrize("step", [DEPARTMENT_TOKENS_V1, CJK_BIGRAMS_V1], ids=["previous", "before-bigrams"])
def test_an_archive_from_before_the_keys_column_is_reindexed_once(tmp_path: Path, step: schema.Migration,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    path = tmp_path / "archive.sqlite3"
    store = SqliteStore(path)
    store.put_messages([make("zh", date=day(1), subject="续约 renewal", body="合同", departments=[ZH]),
                        make("east", date=day(2), subject="renewal", departments=["/Sales/East"])])  # fmt: skip
    store.close()
    _as_before_the_keys_column(path, MIGRATIONS.index(step))
    assert _columns(path) == ["subject", "body", "attachment"]
    rebuilds = []
    real = schema.rebuild_text_index
    monkeypatch.setattr(schema, "rebuild_text_index", lambda conn, why: rebuilds.append(why) or real(conn, why))
    store = SqliteStore(path)
    assert _columns(path) == ["subject", "body", "attachment", "keys"]
    assert rebuilds == ([] if step is CJK_BIGRAMS_V1 else ["department keys in the text index"])  # the bigram step built it
    assert search_ids(store, keyword="renewal", department="/法务部", include_subdepartments="true") == ["zh"]
    assert search_ids(store, keyword="合同", department=ZH) == ["zh"]
    assert search_ids(store, keyword="renewal", department="/Sales/East") == ["east"]
    assert store.delete_messages(["zh", "east"]) == 2
    assert _terms(path) == {}
    store.close()
