"""Highlighting marks exactly what the index matched: the same tokens, escaped HTML, bounded fragments."""

from __future__ import annotations

import random
import re

import pytest

from server.query.highlight import (
    FRAGMENT_CHARS,
    MAX_FRAGMENTS,
    SNAP_CHARS,
    Marker,
    highlight,
    mark_all,
    mark_html,
    match_spans,
    term_patterns,
)
from server.query.keywords import Term, parse_keyword, positive_terms
from server.query.tokenize import tokens

ALL = {"subject", "body", "attachment"}


def marked(html: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", html)


def hl(keyword: str, subject: str = "", body: str = "", names: tuple[str, ...] = (), scope=ALL) -> dict:  # noqa: ANN001
    return highlight(subject, body, list(names), parse_keyword(keyword), scope)


def test_shape_and_escaping() -> None:
    result = hl("budget", "<b>Budget</b> & plans", "the budget <script>", ("Budget.xlsx", "notes.txt"))
    assert result == {
        "subject": ["&lt;b&gt;<mark>Budget</mark>&lt;/b&gt; &amp; plans"],
        "body": ["the <mark>budget</mark> &lt;script&gt;"],
        "attachment_names": ["<mark>Budget</mark>.xlsx"],
    }


def test_no_keyword_or_no_match_gives_empty_lists() -> None:
    empty = {"subject": [], "body": [], "attachment_names": []}
    assert highlight("budget", "budget", ["budget"], None, ALL) == empty
    assert hl("contract", "budget", "budget", ("budget",)) == empty


def test_excluded_terms_are_never_marked() -> None:
    result = hl("invoice -contract", "invoice and contract", "contract then invoice")
    assert marked(result["subject"][0]) == ["invoice"] and marked(result["body"][0]) == ["invoice"]
    assert marked(hl("(invoice OR receipt) -(contract OR draft)", body="receipt draft contract invoice")["body"][0]) == \
        ["receipt", "invoice"]


def test_fields_outside_the_scope_are_not_marked() -> None:
    result = hl("budget", "budget", "budget", ("budget.pdf",), scope={"attachment"})
    assert result == {"subject": [], "body": [], "attachment_names": ["<mark>budget</mark>.pdf"]}


def test_words_whole_prefixes_at_token_start_and_phrases_across_punctuation() -> None:
    body = "report reports re-port, reporting; e-mail E-Mail email deliver delivery undelivered"
    assert marked(hl("report", body=body)["body"][0]) == ["report"]
    assert marked(hl("report*", body=body)["body"][0]) == ["report", "reports", "reporting"]
    assert marked(hl("e-mail", body=body)["body"][0]) == ["e-mail", "E-Mail"]
    assert marked(hl("deliv*", body=body)["body"][0]) == ["deliver", "delivery"]
    assert marked(hl('"re port"', body=body)["body"][0]) == ["re-port"]


def test_a_phrase_is_marked_whole() -> None:
    assert marked(hl('budget "budget review"', body="the budget review and the budget")["body"][0]) == \
        ["budget review", "budget"]


def test_cjk_substrings_and_normalisation() -> None:
    assert hl("合同", "签订合同。合 同")["subject"] == ["签订<mark>合同</mark>。<mark>合 同</mark>"]
    assert hl("会議", body="明日の会議は")["body"] == ["明日の<mark>会議</mark>は"]
    # NFKC and case folding as in the index, original characters shown: full-width letters, ß -> ss
    assert hl("abc strasse", "ＡＢＣ Straße x")["subject"] == ["<mark>ＡＢＣ</mark> <mark>Straße</mark> x"]
    assert hl("größe", "Die GRÖSSE, ß")["subject"] == ["Die <mark>GRÖSSE</mark>, ß"]
    assert marked(hl("ssa*", "ßabc ssa")["subject"][0]) == ["ßabc", "ssa"]


def test_offsets_stay_right_after_characters_that_expand() -> None:
    text = "ß" * 5 + " ﬁnal budget " + "ǰ" * 3 + " budget"
    assert marked(mark_all(text, parse_keyword("budget final"))) == ["ﬁnal", "budget", "budget"]


def test_body_fragments_are_bounded_and_cut_at_words() -> None:
    body = " ".join(f"w{n}" for n in range(2000)) + " budget " + " ".join(f"v{n}" for n in range(2000)) + " budget end"
    fragments = hl("budget", body=body)["body"]
    assert len(fragments) == 2
    for fragment in fragments:
        text = re.sub(r"</?mark>", "", fragment)
        assert len(text) <= FRAGMENT_CHARS + 2 * SNAP_CHARS + 2 and "<mark>budget</mark>" in fragment
    assert fragments[0].startswith("…w") and fragments[0].endswith("…") and fragments[1].endswith("budget</mark> end")
    many = hl("x", body=("x " + "y " * 200) * 50)["body"]
    assert len(many) == MAX_FRAGMENTS


def test_newlines_collapse_in_fragments_but_not_in_the_message_view() -> None:
    assert hl("budget", body="line one\n\nbudget\tline")["body"] == ["line one <mark>budget</mark> line"]
    assert str(mark_all("one\nbudget\n", parse_keyword("budget"))) == "one\n<mark>budget</mark>\n"


def test_html_body_marks_text_nodes_only() -> None:
    html = '<p title="budget">The &amp; budget <a href="https://x/budget">budget</a> &lt;budget&gt;</p>'
    assert mark_html(html, parse_keyword("budget")) == (
        '<p title="budget">The &amp; <mark>budget</mark> <a href="https://x/budget"><mark>budget</mark></a> '
        "&lt;<mark>budget</mark>&gt;</p>"
    )
    assert mark_html("<b>x&lt;</b>", None) == "<b>x&lt;</b>"


def test_marker_from_the_result_link() -> None:
    marks = Marker.from_args("budget -draft", "body,attachment")
    assert str(marks.body_text("a budget draft")) == "a <mark>budget</mark> draft"
    assert str(marks.subject("budget <x>")) == "budget &lt;x&gt;"  # subject was not searched
    assert str(marks.attachment_name("budget.pdf")) == "<mark>budget</mark>.pdf"
    assert marks.url_args() == {"keyword": "budget -draft", "scope": "body,attachment"}
    broken = Marker.from_args('"unbalanced', "")
    assert str(broken.body_text("unbalanced <")) == "unbalanced &lt;" and broken.url_args() == {}


# --- the highlighter agrees with the tokenizer --------------------------------------------------
ALPHABET = ["a", "b", "ab", "ba", "A", "B", " ", "-", "_", ".", "合", "同", "ss", "Ａ", "ｂ", "1", "\n", "é", "・"]
RARE = ["ß", "ﬁ", "e\u0301", "\u0301", "ｶﾞ", "가\u11a8"]  # the slow path: longer forms, combining characters


def _covered_tokens(text: str, term: Term) -> int:
    """How many tokens of the stream belong to an occurrence of the term (the index's view)."""
    stream, n = tokens(text), len(term.tokens)
    if term.prefix:
        return sum(1 for t in stream if t.startswith(term.tokens[0]))
    covered: set[int] = set()
    for i in range(len(stream) - n + 1):
        if tuple(stream[i : i + n]) == term.tokens:
            covered.update(range(i, i + n))
    return len(covered)


@pytest.mark.parametrize("seed", range(3))
def test_marks_are_exactly_the_token_matches(seed: int) -> None:
    """Random texts over awkward characters: the marks cover exactly the tokens the index sees as
    occurrences of the term, and each mark starts with the term."""
    rng = random.Random(seed)
    for n in range(200):
        text = "".join(rng.choice(ALPHABET + RARE * (n % 3 == 0)) for _ in range(rng.randint(1, 30)))
        stream = tokens(text)
        if not stream:
            continue
        start = rng.randrange(len(stream))
        terms = [Term(tuple(stream[start : start + rng.randint(1, 3)])), Term(("a",)), Term(("合", "同"))]
        if not re.fullmatch("[合同・]", stream[start]):
            terms.append(Term((stream[start],), prefix=True))
        for term in terms:
            pieces = [tuple(tokens(text[s:e])) for s, e in match_spans(text, term_patterns((term,)))]
            assert sum(map(len, pieces)) == _covered_tokens(text, term), (text, term)
            for got in pieces:
                assert got[0].startswith(term.tokens[0]) if term.prefix else got[: len(term.tokens)] == term.tokens


def test_only_positive_terms_get_a_pattern() -> None:
    assert len(term_patterns(tuple(positive_terms(parse_keyword("-a b (c OR d) -e"))))) == 3
    assert term_patterns(()) == ()


def test_stored_text_is_matched_as_normalised_without_normalising_it() -> None:
    """Full-width letters, upper case and compatibility characters match through the patterns'
    character classes (the fast path), and ASCII text through lower-casing."""
    patterns = term_patterns((Term(("abc",)), Term(("合", "同"))))
    assert match_spans("ＡＢｃ 合同 Abc abcd", patterns) == [(0, 3), (4, 6), (7, 10)]
    assert match_spans("x ABC, abc.", patterns) == [(2, 5), (7, 10)]


def test_private_use_characters_in_the_text_cannot_become_tags() -> None:
    assert str(mark_all("a \ue000budget\ue001 <b>", parse_keyword("budget"))) == "a \ufffd<mark>budget</mark>\ufffd &lt;b&gt;"
    assert hl("budget", body="\ue001 budget \ue000")["body"] == ["\ufffd <mark>budget</mark> \ufffd"]


def test_the_stored_character_tables_are_what_unicodedata_gives() -> None:
    """``server/query/normtables.py`` (what a command-line ``search --json`` builds its tables from,
    instead of scanning the BMP) is the generated text, and the data of this interpreter's Unicode
    version; on another version ``_tables`` computes them."""
    import unicodedata
    from pathlib import Path

    from server.query import highlight, normtables

    if unicodedata.unidata_version != normtables.UNIDATA_VERSION:
        pytest.skip(f"tables generated for Unicode {normtables.UNIDATA_VERSION}, this is {unicodedata.unidata_version}")
    assert Path(normtables.__file__).read_text() == highlight.table_module()
    assert highlight.table_data() == normtables.DATA


def test_compile_now_leaves_nothing_for_the_first_keyword_search() -> None:
    """``mailarchive serve`` compiles these at start (issue 18 item 3): the first search's marks
    then need no table or class pattern compiled on its path."""
    from server.query import highlight

    highlight.compile_now()
    assert {"slow", "unusual", "odd", "clusters"} <= set(vars(highlight._tables()))
    hits = highlight._word_char.cache_info().hits
    rows = highlight.highlight("Contract renewal", "the contract", [], parse_keyword("contract"),
                               frozenset({"subject", "body"}))  # fmt: skip
    assert rows["subject"] and highlight._word_char.cache_info().hits > hits
