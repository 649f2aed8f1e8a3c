"""One tokenizer for both backends, so keyword search means the same in SQLite and Elasticsearch.

Text is NFKC-normalised and case-folded; a token is a run of letters/digits, except that every
CJK character (Han, kana, Hangul) is a token of its own. Indexing stores the tokens joined by
single spaces; each backend then only splits on whitespace (FTS5 ``unicode61`` over
letter/digit tokens, Elasticsearch's ``whitespace`` tokenizer), so no analyzer difference between
the engines can change a result. A keyword word becomes a *phrase* of its tokens: ``合同`` is the
phrase ``合 同`` (substring match), ``e-mail`` is the phrase ``e mail``.
"""

from __future__ import annotations

import functools
import re

_CJK_RANGES = (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),  # CJK ideographs, extension A, compatibility
    (0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F),  # hangul
    (0x20000, 0x2FA1F),  # CJK extensions B-F and supplement
)  # fmt: skip
_CJK = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CJK_RANGES)  # the same ranges inside a regex [...]
_ASCII_TOKEN = re.compile(r"[a-z0-9]+")  # what the full pattern finds in lower-cased ASCII
MAX_INDEXED_CHARS = 1_000_000  # body text beyond this is kept in the raw message, not indexed


def is_cjk(char: str) -> bool:
    """One CJK character (a token of its own)? Compares code points: compiling a regex class of
    these ranges costs ~5 ms, a noticeable part of a command-line search's start-up."""
    if len(char) != 1:
        return False
    point = ord(char)
    return any(lo <= point <= hi for lo, hi in _CJK_RANGES)


@functools.cache
def token_pattern() -> re.Pattern[str]:
    """A CJK character, or a run of other letters and digits (compiled on first use: ~5 ms)."""
    return re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


def tokens(text: str) -> list[str]:
    """The tokens of ``text``. ASCII text, the common keyword and much of the mail, takes a short
    cut with the same result: NFKC leaves ASCII as it is, case folding is ``lower()`` there, and
    its letters and digits are ``[a-z0-9]`` (a test compares the two on every ASCII character)."""
    if text.isascii():
        return _ASCII_TOKEN.findall(text.lower())
    import unicodedata  # here: a 1.2 MB extension that ASCII text (most keywords) never needs

    return token_pattern().findall(unicodedata.normalize("NFKC", text).casefold())


def index_text(text: str) -> str:
    """The whitespace-joined token string both backends index."""
    return " ".join(tokens(text[:MAX_INDEXED_CHARS]))
