"""The shared tokenizer decides what keyword search means in both backends."""

from __future__ import annotations

from server.query.tokenize import index_text, tokens


def test_cjk_characters_are_single_tokens_and_words_stay_whole():
    assert tokens("Q3合同审批 Report") == ["q3", "合", "同", "审", "批", "report"]
    assert tokens("日本語のメール") == ["日", "本", "語", "の", "メ", "ー", "ル"]


def test_nfkc_and_case_folding():
    assert tokens("ＡＢＣ１２３ Straße") == ["abc123", "strasse"]


def test_punctuation_and_underscore_split():
    assert index_text("foo_bar, e-mail! (x)") == "foo bar e mail x"


def test_the_ascii_short_cut_finds_what_the_full_pattern_finds():
    from server.query.tokenize import token_pattern

    every_ascii = "".join(map(chr, range(128)))
    samples = [every_ascii, every_ascii[::-1], "Re: Q3_Budget-Review (FINAL) v2.0 x@y.example\r\n\tTAB", " ".join(every_ascii)]
    for text in samples:
        assert tokens(text) == token_pattern().findall(text.casefold())
