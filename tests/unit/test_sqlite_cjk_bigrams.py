"""The SQLite text index stores CJK runs as bigrams (fts_text.py); a keyword must still match
exactly the messages the plain one-character-per-token phrase matches, which is what
Elasticsearch indexes. Checked on real FTS5 tables: the old form and the new, side by side."""

from __future__ import annotations

import random
import sqlite3

import pytest

from server.query.keywords import Term, parse_keyword
from server.query.tokenize import index_text, tokens
from server.store.sqlite.fts_text import NAME_GAP, bigram_phrase, bigram_text, text_columns
from server.store.sqlite.query import fts_expression
from server.store.sqlite.schema import MESSAGE_TEXT_SQL

SCOPE = frozenset(("subject", "body", "attachment"))
CHARS = "合同会议纪要上海报价发票同合"
TEXTS = [
    "合同", "会议纪要：合同审批", "关于合同的会议", "合 同", "合。同", "合同abc", "abc合同", "abc 合", "合", "同合同",
    "e-mail合同 review", "上海 shanghai 上海", "報價 ｶﾀｶﾅ 한국어 회의", "plain english only", "発票合",
]  # fmt: skip


def _random_texts(rng: random.Random, n: int) -> list[str]:
    words = ["po", "abc", "x1", " ", "，", "。"]
    return ["".join(rng.choice(CHARS) if rng.random() < 0.7 else rng.choice(words) for _ in range(rng.randint(1, 12)))
            for _ in range(n)]  # fmt: skip


def _queries(texts: list[str]) -> list[str]:
    """Every substring up to four characters of every text, and some words around them."""
    found = {"合", "同", "合同", "会议", "纪要", "合同abc", "abc合", "abc 合", "e mail合同", "合 同", "上海 shanghai",
             "한국", "회의", "ｶﾀｶﾅ", "po合", "合po", "同 合", "deliv"}  # fmt: skip
    for text in texts:
        for i in range(len(text)):
            for j in range(i + 1, min(len(text), i + 4) + 1):
                found.add(text[i:j])
    return sorted(q for q in found if tokens(q))


@pytest.fixture()
def tables() -> tuple[sqlite3.Connection, list[str]]:
    conn = sqlite3.connect(":memory:")
    conn.execute(MESSAGE_TEXT_SQL.replace("message_text", "bigrams"))
    conn.execute(MESSAGE_TEXT_SQL.replace("message_text", "unigrams"))
    texts = TEXTS + _random_texts(random.Random(7), 300)
    for rid, text in enumerate(texts, 1):
        conn.execute("INSERT INTO bigrams (rowid, subject, body, attachment) VALUES (?, ?, ?, ?)", (rid, *text_columns(text, "", [])))
        conn.execute("INSERT INTO unigrams (rowid, subject) VALUES (?, ?)", (rid, index_text(text)))
    return conn, texts


def _unigram_match(node: object) -> str:
    """The expression the index used before bigrams: every term a plain phrase of its tokens."""
    if isinstance(node, Term):
        return '"' + " ".join(node.tokens) + '"' + ("*" if node.prefix else "")
    raise AssertionError(node)


def test_every_substring_query_matches_what_the_unigram_phrase_matches(tables: tuple[sqlite3.Connection, list[str]]) -> None:
    conn, texts = tables
    queries = _queries(texts)
    assert len(queries) > 500
    compared = 0
    for query in queries:
        node = Term(tuple(tokens(query)))  # what the quoted phrase "<query>" parses to
        new = {r for (r,) in conn.execute("SELECT rowid FROM bigrams WHERE bigrams MATCH ?", (fts_expression(node, SCOPE),))}
        old = {r for (r,) in conn.execute("SELECT rowid FROM unigrams WHERE unigrams MATCH ?", (_unigram_match(node),))}
        assert new == old, query
        compared += bool(old)
    assert compared > 300  # queries that match something


def test_boolean_queries_follow_the_token_stream_truth(tables: tuple[sqlite3.Connection, list[str]]) -> None:
    conn, texts = tables

    def has(text: str, phrase: str) -> bool:
        return f" {' '.join(tokens(phrase))} " in f" {' '.join(tokens(text))} "

    cases = {"合同 -会议": lambda t: has(t, "合同") and not has(t, "会议"), "合同 OR 报价": lambda t: has(t, "合同") or has(t, "报价"),
             "合 上海": lambda t: has(t, "合") and has(t, "上海")}  # fmt: skip
    for query, truth in cases.items():
        found = {r for (r,) in conn.execute("SELECT rowid FROM bigrams WHERE bigrams MATCH ?", (fts_expression(parse_keyword(query), SCOPE),))}
        assert found == {i for i, t in enumerate(texts, 1) if truth(t)}, query


def test_index_form() -> None:
    assert bigram_text("a 会 议 纪 要 b") == "a 会议 议纪 纪要 要 b"
    assert bigram_text("plain text") == "plain text"
    assert bigram_text("合 · 同") == "合 · 同"  # no pair across two attachment names
    assert text_columns("合同", "", ["合", "同"]) == ("合同 同", "", f"合{NAME_GAP}同")


def test_query_form() -> None:
    assert bigram_phrase(("合", "同"), False) == (["合同"], False)
    assert bigram_phrase(("会", "议", "纪", "要"), False) == (["会议", "议纪", "纪要"], False)
    assert bigram_phrase(("合",), False) == (["合"], True)  # one character: X and every XY
    assert bigram_phrase(("abc", "合"), False) == (["abc", "合"], True)
    assert bigram_phrase(("合", "abc"), False) == (["合", "abc"], False)
    assert bigram_phrase(("deliv",), True) == (["deliv"], True)
