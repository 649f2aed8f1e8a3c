"""The keyword language's parser: the tree both backends translate, and the errors users see.

What each tree matches is checked on both backends in tests/conformance/test_keyword_syntax.py.
"""

from __future__ import annotations

import pytest

from server.query.keywords import (
    MAX_KEYWORD_CHARS,
    MAX_TERMS,
    And,
    KeywordError,
    Not,
    Or,
    Term,
    parse_keyword,
    positive_terms,
)


def t(*tokens: str, prefix: bool = False) -> Term:
    return Term(tuple(tokens), prefix)


TREES = [
    ("invoice", t("invoice")),
    ("Invoice contract", And((t("invoice"), t("contract")))),
    ("invoice AND contract", And((t("invoice"), t("contract")))),
    ("invoice -contract", And((t("invoice"), Not(t("contract"))))),
    ("invoice NOT contract", And((t("invoice"), Not(t("contract"))))),
    ('invoice -"draft contract"', And((t("invoice"), Not(t("draft", "contract"))))),
    ("invoice OR contract", Or((t("invoice"), t("contract")))),
    ("a b OR c", And((t("a"), Or((t("b"), t("c")))))),  # OR binds tighter than AND
    ("(a b) OR c", Or((And((t("a"), t("b"))), t("c")))),
    ("a -(b OR c)", And((t("a"), Not(Or((t("b"), t("c"))))))),
    ("a (b (c d))", And((t("a"), t("b"), t("c"), t("d")))),  # nested ANDs flatten
    ("deliver*", t("deliver", prefix=True)),
    ("DELIV*", t("deliv", prefix=True)),
    ("合同", t("合", "同")),
    ('"合同 审批"', t("合", "同", "审", "批")),
    ("e-mail", t("e", "mail")),  # an inner hyphen is punctuation, as in the index
    ("budget Budget", t("budget")),  # duplicates collapse
    ("Q3 report - final", And((t("q3"), t("report"), t("final")))),  # a lone dash is punctuation
    ("a & b ...", And((t("a"), t("b")))),
    ("http://example.com", t("http", "example", "com")),  # not a field name: just words
    ("foo(bar)", And((t("foo"), t("bar")))),
    ('"or" "AND"', And((t("or"), t("and")))),  # quoted operators are words
    ("or", t("or")),  # lower case is a word
]


@pytest.mark.parametrize(("text", "tree"), TREES, ids=[k for k, _ in TREES])
def test_tree(text: str, tree: object) -> None:
    assert parse_keyword(text) == tree


@pytest.mark.parametrize("text", ["", "   ", "&", '""', "-- ..."])
def test_nothing_to_search(text: str) -> None:
    assert parse_keyword(text) is None


ERRORS = [
    ('"annual budget', "unbalanced quote in '\"annual budget'"),
    ('a "b" "c', "unbalanced quote"),
    ("(a OR b", "'(' without a matching ')'"),
    ("a OR b)", "')' without a matching '('"),
    ("()", "empty parentheses"),
    ("OR invoice", "'OR' needs a word, phrase or group on both sides"),
    ("invoice OR", "'OR' needs a word"),
    ("invoice OR OR contract", "'OR' needs a word"),
    ("(invoice OR) x", "'OR' needs a word"),
    ("AND invoice", "'AND' needs a word"),
    ("invoice AND", "'AND' needs a word"),
    ("-invoice", "add a word to search for: -invoice only excludes"),
    ('-"draft" -x', "add a word to search for"),
    ("a (-b)", "add a word to search for: -b only excludes"),
    ("a OR -b", "an exclusion cannot be one side of OR (-b)"),
    ("--invoice", "'-' twice in a row"),
    ("NOT -invoice", "'NOT' twice in a row"),
    ("invoice NOT", "'NOT' must be followed by"),
    ("de*", "at least 3 letters or digits before it ('de*')"),
    ("*", "at least 3 letters or digits"),
    ("*voice", "'*' is only allowed at the end of a word"),
    ("in*voice", "'*' is only allowed at the end of a word"),
    ("deliver**", "'*' is only allowed at the end of a word"),
    ("合同*", "already matches as a substring: remove the '*'"),
    ("e-mai*", "'*' works on a single word"),
    ('"draft contr"*', "'*' after a phrase is not supported"),
    ("subject:invoice", "field searches like 'subject:' are not supported"),
    ("From:bob", "field searches like 'From:'"),
    ("a " + "(" * 9 + "b" + ")" * 9, "nested more than 8 deep"),
    ("x" * (MAX_KEYWORD_CHARS + 1), "too long (1,001 characters; at most 1,000)"),
    (" ".join(f"w{n}" for n in range(MAX_TERMS + 1)), f"too many words and phrases ({MAX_TERMS + 1}; at most {MAX_TERMS})"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[k[:40] for k, _ in ERRORS])
def test_unsupported_syntax_names_the_part(text: str, message: str) -> None:
    with pytest.raises(KeywordError) as error:
        parse_keyword(text)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_limits_are_inclusive() -> None:
    assert parse_keyword("x" * MAX_KEYWORD_CHARS) == t("x" * MAX_KEYWORD_CHARS)
    assert isinstance(parse_keyword(" ".join(f"w{n}" for n in range(MAX_TERMS))), And)


def test_positive_terms_leave_out_exclusions() -> None:
    tree = parse_keyword('budget (review OR deliv*) -contract -(draft OR "合同")')
    assert positive_terms(tree) == [t("budget"), t("review"), t("deliv", prefix=True)]


def test_display_form_reparses_to_the_same_tree() -> None:
    for text, tree in TREES:
        assert parse_keyword(str(tree)) == tree, text
