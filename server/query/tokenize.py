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


# The CJK unified ideographs of the basic block and extension A: each is its own NFKC form (no
# decomposition, combining class 0), and none is part of a canonical composition, so NFKC of a text
# is NFKC of the stretches between them, the ideographs kept as they are. CPython's composition step
# searches its table linearly for every starter, ~1,000 instructions for an ideograph: skipping
# them took 11 % of a parser process's instructions off (Chinese mail; tests/unit/test_tokenize_nfkc.py
# checks the properties over every code point of the running Python's Unicode database).
IDEOGRAPHS = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF))


@functools.cache
def _between_ideographs() -> re.Pattern[str]:
    """A run of characters that are not such ideographs (compiled on first use)."""
    return re.compile("[^" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in IDEOGRAPHS) + "]+")


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, without running the composition over ideographs."""
    import unicodedata

    if unicodedata.is_normalized("NFKC", text):  # the quick check: most text, nothing to do
        return text
    normalize = unicodedata.normalize
    return _between_ideographs().sub(lambda run: normalize("NFKC", run.group()), text)


def tokens(text: str) -> list[str]:
    """The tokens of ``text``. ASCII text, the common keyword and much of the mail, takes a short
    cut with the same result: NFKC leaves ASCII as it is, case folding is ``lower()`` there, and
    its letters and digits are ``[a-z0-9]`` (a test compares the two on every ASCII character)."""
    if text.isascii():
        return _ASCII_TOKEN.findall(text.lower())
    return token_pattern().findall(nfkc(text).casefold())  # unicodedata: imported by nfkc (1.2 MB, not for ASCII)


def index_text(text: str) -> str:
    """The whitespace-joined token string both backends index."""
    return " ".join(tokens(text[:MAX_INDEXED_CHARS]))
