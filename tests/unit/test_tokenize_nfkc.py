"""``tokenize.nfkc`` skips the composition over CJK ideographs: it must be NFKC exactly.

NFKC of a text equals NFKC of the stretches between those ideographs (the ideographs kept) when
each ideograph is its own normal form, has combining class 0, and is neither half of any canonical
composition. Those properties are checked here over the running Python's whole Unicode database,
so a new Unicode version that broke them would fail this test, not change search results; a
differential test over mixed text (compatibility forms, combining marks, kana, Hangul) backs it up.
"""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from server.query.tokenize import IDEOGRAPHS, nfkc


def _ideographs() -> list[str]:
    return [chr(c) for lo, hi in IDEOGRAPHS for c in range(lo, hi + 1)]


def test_each_ideograph_is_its_own_normal_form_and_a_starter():
    for char in _ideographs():
        assert unicodedata.decomposition(char) == ""
        assert unicodedata.combining(char) == 0
        assert unicodedata.is_normalized("NFKC", char)


def test_no_canonical_decomposition_of_two_characters_holds_an_ideograph():
    """... in two characters, so no composition has an ideograph as either half (compositions are
    the inverses of the two-character canonical decompositions; singletons such as the
    compatibility ideographs U+F900.. never compose, and NFKC maps them in the stretches)."""
    ideographs = {ord(c) for c in _ideographs()}
    for point in range(sys.maxunicode + 1):
        mapping = unicodedata.decomposition(chr(point))
        if mapping and not mapping.startswith("<") and len(mapping.split()) > 1:
            assert not {int(part, 16) for part in mapping.split()} & ideographs, hex(point)


def test_an_ideograph_beside_any_character_changes_nothing_around_it():
    for char in ("\u4e00", "\u3400", "\u9fa5"):
        for point in range(0x3100):  # Latin, combining marks, compatibility forms, jamo, kana
            other = chr(point)
            if 0xD800 <= point <= 0xDFFF:
                continue
            assert nfkc(char + other) == unicodedata.normalize("NFKC", char + other)
            assert nfkc(other + char) == unicodedata.normalize("NFKC", other + char)


_PIECES = st.sampled_from([
    "合", "同", "审", "批", "丂", "㐀", "\u9fff", "，", "。", "（", "）", "Ａ", "１", "ﬁ", "①", "㍿", "ｶ", "ﾞ",
    "か", "\u3099", "가", "\u1100", "\u1161", "\u11a8", "e", "\u0301", "\u0323", "\u0308", "¨", " ", "\n", "x",
    "豈", "\uf900", "Å", "\u212b", "ǅ", "\u0345", "\u1e9b", "ς", "Σ", "\U0002f800", "\U00020000",
])  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.characters(codec="utf-8")), max_size=40))
def test_nfkc_equals_the_stdlib_on_mixed_text(pieces):
    text = "".join(pieces)
    assert nfkc(text) == unicodedata.normalize("NFKC", text)
