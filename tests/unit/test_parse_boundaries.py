"""The stand-in for feedparser's per-part boundary regex (server.indexing.boundaries) and the
multipart-container count: both must decide exactly what the code they replace decided."""

from __future__ import annotations

import email.feedparser
import email.policy
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.indexing import boundaries, tree
from server.indexing.parse import parse

_GROUPS = ("sep", "end", "ws", "linesep")
_pieces = st.sampled_from(["", "-", "--", "---", " ", "\t", " \t ", "\r\n", "\r", "\n", "\n\n", "\r\r", "x", "--\r\n", "\x0c"])


def _feedparser_regex(sep: str) -> re.Pattern[str]:
    """The pattern exactly as email.feedparser builds it."""
    return re.compile("(?P<sep>" + re.escape(sep) + r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$")


@settings(max_examples=3000, deadline=None)
@given(st.text(st.sampled_from("ab-=_.+*?()[]{}|^$\\# \t:\u00e9\u4e2d"), min_size=1, max_size=12).map(lambda b: "--" + b),
       st.lists(_pieces, max_size=5), st.booleans())  # fmt: skip
def test_a_boundary_line_matches_what_the_regex_matches_with_the_same_groups(sep, tail, prefixed):
    line = ("" if prefixed else "-") + sep + "".join(tail)
    expected = _feedparser_regex(sep).match(line)
    got = boundaries.BoundaryLine(sep).match(line)
    assert (got is None) == (expected is None), line
    if expected is not None:
        assert [got.group(g) for g in _GROUPS] == [expected.group(g) for g in _GROUPS], repr(line)


def test_only_feedparsers_exact_pattern_is_replaced():
    sep = "--=_Part.1+(x)"
    pattern = _feedparser_regex(sep).pattern
    assert boundaries.boundary_separator(pattern) == sep
    assert boundaries.boundary_separator(pattern.replace("[ \\t]*", "[ ]*")) is None
    assert boundaries.boundary_separator(pattern.replace("Part", "Pa\\rt")) is None  # not re.escape's output
    boundaries.install()
    assert isinstance(email.feedparser.re.compile(pattern), boundaries.BoundaryLine)
    assert isinstance(email.feedparser.re.compile(pattern, re.I), re.Pattern)
    assert email.feedparser.re.escape("a.b") == "a\\.b"  # everything else is ``re``'s own


def test_the_stdlib_parser_really_uses_the_stand_in(monkeypatch):
    """If a Python release changes feedparser's pattern, the stand-in is silently unused: this says so."""
    built = []
    monkeypatch.setattr(boundaries.BoundaryLine, "__init__", lambda self, sep: built.append(sep) or setattr(self, "sep", sep)
                        or setattr(self, "_size", len(sep)))  # fmt: skip
    mail = parse(b'Content-Type: multipart/mixed; boundary="b+1"\n\n--b+1\nContent-Type: text/plain\n\nhello\n--b+1--\n')
    assert mail.body_text == "hello"
    assert built == ["--b+1"]


def _tree_dump(msg):  # noqa: ANN001, ANN202
    if msg is None:
        return None
    payload = msg._payload  # noqa: SLF001
    return [msg._headers, msg.preamble, msg.epilogue, [f"{type(d).__name__}:{d}" for d in msg.defects],  # noqa: SLF001
            [_tree_dump(p) for p in payload] if isinstance(payload, list) else payload]  # fmt: skip


def test_every_corpus_message_parses_to_the_same_tree_and_fields_with_and_without_it(corpus_dir, monkeypatch):
    files = sorted(f for f in corpus_dir.rglob("*") if f.is_file() and f.suffix == ".eml")
    raws = [f.read_bytes() for f in files]
    assert len(raws) > 300

    def everything() -> list:
        out = []
        for raw in raws:
            errors: list[str] = []
            out.append((_tree_dump(tree.message_tree(raw, errors)), errors, parse(raw)))
        return out

    boundaries.install()
    with_it = everything()
    with monkeypatch.context() as m:
        m.setattr(boundaries, "install", lambda: None)
        m.setattr(email.feedparser, "re", re)
        m.setattr(email.feedparser, "NLCRE_eol", re.compile(boundaries.LineEnd.EOL_PATTERN))
        without = everything()
    assert with_it == without


def test_too_many_multipart_containers_are_counted_exactly_whatever_the_case():
    params = b"".join(b'X-N: %s =\n' % (b"BoUnDaRy" if i % 2 else b"boundary") for i in range(tree.MAX_MULTIPARTS + 1))
    errors: list[str] = []
    assert tree.message_tree(b"Subject: x\n" + params + b"\nbody boundary\n", errors) is None
    assert errors == [f"mime: {tree.MAX_MULTIPARTS + 1} multipart containers, more than {tree.MAX_MULTIPARTS}; body not indexed"]
    # the word alone, without "=", is not a container: over the limit in words, not in containers
    errors = []
    words = b" ".join([b"Boundary"] * (tree.MAX_MULTIPARTS + 5))
    assert tree.message_tree(b"Subject: x\n\n" + words + b"\n", errors) is not None
    assert errors == []


@pytest.mark.parametrize("line", ["--b\n", "--b--\r\n", "--b \t\r", "--b", "--b--", "--b\n\n", "--b  x\n", "--bb\n"])
def test_boundary_line_examples(line):
    got, expected = boundaries.BoundaryLine("--b").match(line), _feedparser_regex("--b").match(line)
    assert (got is None) == (expected is None)
    if got is not None:
        assert [got.group(g) for g in _GROUPS] == [expected.group(g) for g in _GROUPS]


def test_the_whole_text_fed_at_once_builds_the_tree_message_from_bytes_builds(corpus_dir):
    """``tree.compat32_tree`` skips the parser's StringIO and 8,192-character reads: same tree, defects
    included, for every corpus message and for line ends falling on the old chunk edges."""
    raws = [f.read_bytes() for f in sorted(corpus_dir.rglob("*.eml")) if f.is_file()]
    body = b"x" * 8190
    raws += [b"Subject: a\r\n\r\n" + body[: 8192 - 15 + k] + b"\r\n--\rtail\r" for k in range(-3, 4)]
    raws += [b"Subject: a\n" + b"X: " + b"y" * 20000 + b"\n\n\xe4\xb8\xad", b"no header", b"", b"\r\r\r", b"S: \xff\n\n" * 3000]
    raws += [b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + body + b"\r\n--b\r\n\r\npart\r\n--b--" + b"\r" * 9000]
    for raw in raws:
        assert _tree_dump(tree.compat32_tree(raw)) == _tree_dump(email.message_from_bytes(raw, policy=email.policy.compat32)), raw[:80]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(["", "a", " ", "\r", "\n", "\r\n", "\n\r", "\x0c", "\u2028", "--b"]), max_size=8))
def test_the_line_end_stand_in_finds_what_feedparsers_regex_finds(pieces):
    text = "".join(pieces)
    expected = re.compile(boundaries.LineEnd.EOL_PATTERN).search(text)
    got = boundaries.LineEnd.search(text)
    assert (got is None) == (expected is None), repr(text)
    if expected is not None:
        assert got.group(0) == got.group(1) == expected.group(0) == expected.group(1), repr(text)


def test_feedparser_searches_line_ends_with_the_stand_in(monkeypatch):
    """If a Python release renamed or changed ``NLCRE_eol``, install() would leave it alone: this says so."""
    boundaries.install()
    assert isinstance(email.feedparser.NLCRE_eol, boundaries.LineEnd)
    searched = []
    monkeypatch.setattr(boundaries.LineEnd, "search", staticmethod(lambda text: searched.append(text)))
    parse(b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nhello\n--b--\n')
    assert "hello\n" in searched
