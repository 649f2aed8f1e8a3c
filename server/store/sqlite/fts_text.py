"""What the SQLite text index stores: the shared tokenizer's tokens, with CJK runs as bigrams.

The shared tokenizer (server.query.tokenize) makes every CJK character a token of its own, so
``合同`` is the phrase ``合 同``. At a million messages the posting lists of single characters are
huge (``合`` is in a third of the synthetic mail) and FTS5 must compare the positions of both
lists for every message holding both: 110-180 ms for one two-character word over a year.

So this index stores each CJK token together with the CJK token after it (a bigram), the last
token of a CJK run as it is: ``a 会 议 纪 要 b`` becomes ``a 会议 议纪 纪要 要 b``. Every position
still holds exactly one token that *starts* with the character the tokenizer put there, so phrases
keep their positions, and a query is rewritten the same way (``bigram_phrase``):

* two adjacent CJK tokens of a phrase are one bigram token (``合同`` is the token ``合同``, looked up
  like an English word: ~30 ms for the same year);
* a CJK token followed by a non-CJK token is itself (in the text, too, it ends its run);
* a last CJK token after a CJK token is already inside the previous bigram and is dropped;
* a CJK token with no CJK token on either side in the query (a one-character keyword, or the last
  token after a word) could be followed by anything in the text: it becomes a prefix, which FTS5
  matches against ``X`` and every ``XY``, exactly the positions holding ``X``.

A phrase therefore matches exactly the messages the unigram phrase matched (the conformance suite
checks both backends give the same answers); Elasticsearch keeps the plain tokens. Only this
index changes, and schema.py rebuilds it once for an existing archive.

The fourth column, ``keys``, holds one token per department and per department path of the
message (``key_token``), so that a keyword AND a department tree is one MATCH, which FTS5 answers
by intersecting two doclists, instead of a keyword match checked against an in-memory set of the
department's rows (~0.26 us a row of the set, built per statement: 206 ms p95 at 1M messages for
a department of ~490k rows over a year). A token is a private-use character, the key kind and
the value's UTF-8 in lower-case hex: the ``ascii`` tokenizer splits on every ASCII non-alphanumeric
character and folds ASCII case, and hex survives both whatever the department's name (Chinese
included); the shared tokenizer never produces a private-use character (it is neither a letter
nor a digit), so no keyword, prefix or not, can match one even in a query without a column filter.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Sequence

from server.query.tokenize import _CJK, index_text, is_cjk
from server.store.sqlite.keys import DEPARTMENT, DEPARTMENT_PATH

# Attachment names are indexed as one text with this token between names, so that a phrase cannot
# match across two names (Elasticsearch keeps a position gap between array values). The Python
# tokenizer never produces it (it is not a letter or digit), so no query can match it.
NAME_GAP = " \u00b7 "
INSERT_TEXT = "INSERT INTO message_text (rowid, subject, body, attachment, keys) VALUES (?, ?, ?, ?, ?)"
# a contentless FTS5 row is deleted by inserting the command with exactly its indexed values
DELETE_TEXT = "INSERT INTO message_text (message_text, rowid, subject, body, attachment, keys) VALUES ('delete', ?, ?, ?, ?, ?)"
KEY_MARK = "\ue000"  # the first character of every key token (Unicode private use: never a keyword's)


@functools.cache
def _run_pattern() -> re.Pattern[str]:
    """Two or more CJK tokens in a row (compiled on first use)."""
    return re.compile(rf"[{_CJK}](?: [{_CJK}])+")


def _pairs(run: re.Match[str]) -> str:
    chars = run.group()[::2]  # every CJK token is one character, separated by single spaces
    return " ".join(map(operator.add, chars, chars[1:])) + " " + chars[-1]  # map: no Python frame per pair


def bigram_text(tokens: str) -> str:
    """A whitespace-joined token string with each CJK token joined to the CJK token after it.
    (One substitution per CJK run: 0.1 ms for a typical synthetic body of 400 CJK tokens; a
    lookahead per token took 0.55 ms.)"""
    if tokens.isascii():  # most text: nothing to do
        return tokens
    return _run_pattern().sub(_pairs, tokens)


def text_columns(subject: str, body: str, attachment_names: Sequence[str]) -> tuple[str, str, str]:
    """The three text columns of a message (``index_columns`` adds the fourth)."""
    names = NAME_GAP.join(index_text(n) for n in attachment_names)
    return bigram_text(index_text(subject)), bigram_text(index_text(body)), bigram_text(names)


def key_token(kind: str, value: str) -> str:
    """The ``keys`` column's token of a filter key (``keys.DEPARTMENT`` or ``DEPARTMENT_PATH``)."""
    return KEY_MARK + kind + value.encode().hex()


def key_text(doc: dict) -> str:
    """The ``keys`` column of a stored document: its departments and department paths."""
    departments = [key_token(DEPARTMENT, d) for d in doc.get("departments") or []]
    return " ".join(departments + [key_token(DEPARTMENT_PATH, p) for p in doc.get("department_paths") or []])


def document_text(doc: dict) -> tuple[str, str, str]:
    """``text_columns`` of a stored document (the fields a copy's merge never changes)."""
    return text_columns(doc.get("subject", ""), doc.get("body_text", ""), doc.get("attachment_names") or [])


def index_columns(doc: dict) -> tuple[str, str, str, str]:
    """All four FTS columns of a document: what the put inserts, the purge's 'delete' repeats and
    the re-index writes, from this one function (a contentless row is deleted with exactly the
    values it was inserted with, or its tokens stay behind)."""
    return (*document_text(doc), key_text(doc))


def bigram_phrase(tokens: Sequence[str], prefix: bool) -> tuple[list[str], bool]:
    """The index tokens of a phrase of the shared tokenizer's ``tokens``, and whether its last
    token is a prefix (see the module docstring for why each case matches what it did)."""
    out: list[str] = []
    last = len(tokens) - 1
    for i, token in enumerate(tokens):
        if not is_cjk(token):
            out.append(token)
        elif i < last and is_cjk(tokens[i + 1]):
            out.append(token + tokens[i + 1])
        elif i < last:
            out.append(token)
        elif i == 0 or not is_cjk(tokens[i - 1]):
            out.append(token)
            prefix = True
        # else: the last of a CJK run, already the second half of the previous bigram
    return out, prefix
