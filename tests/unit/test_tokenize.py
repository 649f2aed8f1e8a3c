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
