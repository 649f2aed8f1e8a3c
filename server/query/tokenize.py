"""One tokenizer for both backends, so keyword search means the same in SQLite and Elasticsearch.

Text is NFKC-normalised and case-folded; a token is a run of letters/digits, except that every
CJK character (Han, kana, Hangul) is a token of its own. Indexing stores the tokens joined by
single spaces; each backend then only splits on whitespace (FTS5 ``unicode61`` over
letter/digit tokens, Elasticsearch's ``whitespace`` tokenizer), so no analyzer difference between
the engines can change a result. A keyword word becomes a *phrase* of its tokens: ``合同`` is the
phrase ``合 同`` (substring match), ``e-mail`` is the phrase ``e mail``.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = (
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs, extension A, compatibility
    "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"  # hangul
    "\U00020000-\U0002fa1f"  # CJK extensions B-F and supplement
)
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
MAX_INDEXED_CHARS = 1_000_000  # body text beyond this is kept in the raw message, not indexed


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def index_text(text: str) -> str:
    """The whitespace-joined token string both backends index."""
    return " ".join(tokens(text[:MAX_INDEXED_CHARS]))
