"""Why a message matched: the keyword's matches in its subject, body and attachment names, as
HTML with each match in ``<mark>`` and everything else escaped (DESIGN.md §6, ``highlight``).

Matching follows the index, not a second idea of it: the text is normalised exactly as
tokenize.py does (NFKC, case folding) and each positive term of the query tree becomes a regular
expression over that normalised text that matches where, and only where, the term's tokens stand
in order in the token stream (a word token only as a whole token, a prefix at a token's start,
CJK characters anywhere, any non-token characters between the tokens of a phrase). Excluded terms
are never marked, and a field outside the search scope is never marked. The matches are then
mapped back to offsets in the stored text, so the reader sees the original characters.

Cost is bounded: only the messages of the page shown are highlighted, a body is scanned up to
the indexed length (tokenize.MAX_INDEXED_CHARS) and the scan stops once enough fragments are
found; normalising and matching run in C (``unicodedata``, ``re``, ``str.translate``), with no
Python loop over characters.
"""

from __future__ import annotations

import html as htmllib
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape

from server.model import Message
from server.query.criteria import SCOPES, Criteria
from server.query.keywords import KeywordError, Node, Term, parse_keyword, positive_terms
from server.query.tokenize import _CJK, MAX_INDEXED_CHARS

FRAGMENT_CHARS = 200  # about this long, plus the rest of a word at either end
CONTEXT_CHARS = 60  # text shown before the first match of a fragment
MAX_FRAGMENTS = 3  # body fragments per message
SNAP_CHARS = 20  # how far a cut may move to land on whitespace
MAX_SUBJECT_CHARS = 400  # longer subjects are cut around their matches like a body
ELLIPSIS = "…"
_WORD = rf"[^\W_{_CJK}]"  # a character of a (non-CJK) word token
_GAP = rf"(?:[^\w{_CJK}]|_)*"  # characters that belong to no token, between the tokens of a phrase
_CJK_CHAR = re.compile(f"[{_CJK}]")
_SPACES = re.compile(r"\s+")
FIELDS = (("subject", "subject"), ("body", "body"), ("attachment", "attachment_names"))  # scope -> highlight key


def _token_pattern(token: str, prefix: bool) -> str:
    body = re.escape(token)
    if _CJK_CHAR.fullmatch(token):
        return body
    return rf"(?<!{_WORD}){body}{_WORD}*" if prefix else rf"(?<!{_WORD}){body}(?!{_WORD})"


def _term_pattern(term: Term) -> str:
    return _GAP.join(_token_pattern(t, term.prefix) for t in term.tokens)


@lru_cache(maxsize=256)
def term_regex(terms: tuple[Term, ...]) -> re.Pattern[str] | None:
    """One pattern for all the terms over normalised text; longer phrases first, so that where a
    phrase and one of its words both match, the whole phrase is marked."""
    if not terms:
        return None
    ordered = sorted(terms, key=lambda t: -len(t.tokens))
    # in a lookahead, so overlapping occurrences ("a a" in "a a a") are all found; spans are merged
    return re.compile("(?=(" + "|".join(f"(?:{_term_pattern(t)})" for t in ordered) + "))")


_SEEN: set[str] = set()  # characters whose form is known (a few thousand in real mail)
_TABLE: dict[int, str] = {}  # str.translate table: character -> its NFKC + case-folded form, where it differs
_ODD: set[str] = set()  # characters whose form is not one character long (ß -> ss)


_JOINERS: set[str] = set()  # characters that may combine with the one before them under NFKC


@lru_cache(maxsize=1)
def _composing_seconds() -> frozenset[str]:
    """Starters that NFC/NFKC composes with the character before them (Hangul vowel and final
    jamo, some Indic vowel signs): the second half of a two-character canonical decomposition."""
    seconds = set()
    for code in range(0x10000):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(chr(int(parts[1], 16)))
    return frozenset(seconds)


def _learn(chars: set[str]) -> None:
    """Normalise the characters not seen before (a few microseconds each, once per process), so a
    text then costs only C-level work: set operations and one normalisation of the whole text."""
    new = chars - _SEEN
    if not new:
        return
    seconds = _composing_seconds()
    for char in new:
        form = unicodedata.normalize("NFKC", char).casefold()
        if form != char:
            _TABLE[ord(char)] = form
        if len(form) != 1:
            _ODD.add(char)
        if unicodedata.combining(char) or char in seconds or (form and unicodedata.combining(form[0])):
            _JOINERS.add(char)
        _SEEN.add(char)


class _Normalised:
    """``text`` as tokenize.py sees it, with a map from its offsets back to ``text``'s.

    Each distinct character is normalised once per process (``_learn``). Without characters that
    combine with their neighbour, the form of the whole text is the concatenation of the
    characters' forms, so offsets map exactly, shifted only at the characters whose form has
    another length (``ß`` -> ``ss``). With them (combining marks, half-width kana with sound marks:
    rare) the per-character form is matched, which can differ from the index at those characters.
    """

    def __init__(self, text: str) -> None:
        self.original = text
        self._starts: list[int] = []
        self._index: list[int] = []
        self._length: list[int] = []
        self._shift: list[int] = []
        if text.isascii():
            self.text = text.lower()
            return
        chars = set(text)
        _learn(chars)
        if chars & _JOINERS:  # composition across characters: match the per-character form (slow, rare)
            self.text = text.translate(_TABLE)
        else:  # the whole-text form is then the per-character one: normalise in C
            self.text = unicodedata.normalize("NFKC", text).casefold()
        odd = chars & _ODD
        if odd:  # (normalised start, original index, form length) of each such character
            shift = 0
            for match in re.finditer("[" + "".join(re.escape(c) for c in odd) + "]", text):
                length = len(_TABLE[ord(match.group())])
                self._starts.append(match.start() + shift)
                self._index.append(match.start())
                self._length.append(length)
                shift += length - 1
                self._shift.append(shift)

    def to_original(self, offset: int, *, end: bool) -> int:
        at = bisect_right(self._starts, offset) - 1
        if at < 0:
            return offset
        start, index, length = self._starts[at], self._index[at], self._length[at]
        if offset < start + length:  # inside one character's expansion: the whole character
            return index + (1 if end and offset > start else 0)
        return offset - self._shift[at]


def match_spans(text: str, regex: re.Pattern[str] | None, *, limit: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets in ``text`` of the matches, in order, at most ``limit``."""
    if regex is None or not text:
        return []
    norm = _Normalised(text[:MAX_INDEXED_CHARS])
    spans: list[tuple[int, int]] = []
    for match in regex.finditer(norm.text):
        start, end = match.span(1)
        if end == start:
            continue
        start, end = norm.to_original(start, end=False), norm.to_original(end, end=True)
        if spans and start <= spans[-1][1]:  # overlaps (or touches) the previous one: one mark
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            continue
        if limit is not None and len(spans) >= limit:
            break
        spans.append((start, end))
    return spans


def mark(text: str, spans: Iterable[tuple[int, int]], start: int = 0, end: int | None = None, *,
         collapse: bool = True) -> Markup:  # fmt: skip
    """``text[start:end]`` escaped with the spans inside it in ``<mark>``; ``collapse``: whitespace
    runs become one space (fragments), else the text keeps its lines (the message view)."""
    end = len(text) if end is None else end
    tidy = (lambda piece: escape(_SPACES.sub(" ", piece))) if collapse else escape
    out, last = [], start
    for s, e in spans:
        if s < last or e > end:
            continue
        out += [tidy(text[last:s]), Markup("<mark>"), tidy(text[s:e]), Markup("</mark>")]
        last = e
    out.append(tidy(text[last:end]))
    return Markup("").join(out)


def _snap_back(text: str, at: int) -> int:
    if at <= 0:
        return 0
    space = text.rfind(" ", max(0, at - SNAP_CHARS), at)
    newline = text.rfind("\n", max(0, at - SNAP_CHARS), at)
    cut = max(space, newline)
    return cut + 1 if cut >= 0 else at


def _snap_forward(text: str, at: int) -> int:
    if at >= len(text):
        return len(text)
    found = _SPACES.search(text, at, min(len(text), at + SNAP_CHARS))
    return found.start() if found else at


def fragments(text: str, spans: list[tuple[int, int]], *, max_fragments: int = MAX_FRAGMENTS,
              size: int = FRAGMENT_CHARS) -> list[str]:  # fmt: skip
    """Up to ``max_fragments`` pieces of about ``size`` characters around the spans, marked."""
    out: list[str] = []
    i, previous_end = 0, 0
    while i < len(spans) and len(out) < max_fragments:
        start = max(previous_end, _snap_back(text, max(0, spans[i][0] - CONTEXT_CHARS)))
        j = i
        while j + 1 < len(spans) and spans[j + 1][1] - start <= size:
            j += 1
        end = _snap_forward(text, max(spans[j][1], min(len(text), start + size)))
        piece = mark(text, spans, start, end).strip()
        out.append(f"{ELLIPSIS if start > 0 else ''}{piece}{ELLIPSIS if end < len(text) else ''}")
        i, previous_end = j + 1, end
        while i < len(spans) and spans[i][0] < end:  # cut by this fragment's end: not shown again
            i += 1
    return out


def _field_fragments(key: str, value: str | list[str], regex: re.Pattern[str]) -> list[str]:
    if key == "attachment_names":
        return [str(mark(name, spans)) for name in value if (spans := match_spans(name, regex))]
    assert isinstance(value, str)
    if key == "subject" and len(value) <= MAX_SUBJECT_CHARS:
        spans = match_spans(value, regex)
        return [str(mark(value, spans))] if spans else []
    spans = match_spans(value, regex, limit=64)  # enough to fill the fragments
    return fragments(value, spans)


def highlight(subject: str, body: str, attachment_names: list[str], query: Node | None,
              scope: Iterable[str]) -> dict[str, list[str]]:  # fmt: skip
    """``{"subject": [...], "body": [...], "attachment_names": [...]}``: HTML fragments with the
    query's matches in ``<mark>``; a field outside ``scope`` (subject, body, attachment) or without
    a match has an empty list."""
    result: dict[str, list[str]] = {key: [] for _, key in FIELDS}
    regex = term_regex(tuple(positive_terms(query)))
    if regex is None:
        return result
    values = {"subject": subject, "body": body, "attachment_names": attachment_names}
    for scope_name, key in FIELDS:
        if scope_name in scope:
            result[key] = _field_fragments(key, values[key], regex)
    return result


def mark_all(text: str, query: Node | None) -> Markup:
    """All of ``text`` escaped, every match of the query marked (the message view's body)."""
    return mark(text, match_spans(text, term_regex(tuple(positive_terms(query)))), collapse=False)



def highlight_message(message: Message, criteria: Criteria) -> dict[str, list[str]]:
    return highlight(message.subject, message.body_text, message.attachment_names, criteria.query, criteria.scope)


def result_rows(messages: Iterable[Message], criteria: Criteria) -> list[dict[str, Any]]:
    """The result list of ``search --json`` and ``GET /api/v1/messages``: each message's summary
    with its ``highlight`` (empty lists when there is no keyword)."""
    return [{**m.summary(), "highlight": highlight_message(m, criteria)} for m in messages]


_TAG = re.compile(r"""(<(?:[^>"']|"[^"]*"|'[^']*')*>)""")


def mark_html(html: str, query: Node | None) -> str:
    """Sanitized HTML with the query's matches in each text node marked (the message view's HTML
    body). Only text between tags changes: it is unescaped, matched and escaped again, so no input
    can add markup; a match split by a tag (``bud<b>get</b>``) is not marked."""
    regex = term_regex(tuple(positive_terms(query)))
    if regex is None or not html:
        return html
    parts = _TAG.split(html)
    for i in range(0, len(parts), 2):  # even indices are text, odd ones the tags
        text = htmllib.unescape(parts[i])
        spans = match_spans(text, regex)
        if spans:
            parts[i] = str(mark(text, spans, collapse=False))
    return "".join(parts)


@dataclass(frozen=True)
class Marker:
    """Marks one search's keyword in a message being read (the message view): its text or HTML
    body, subject and attachment names, each only when that field was searched."""

    query: Node | None = None
    scope: frozenset[str] = frozenset(SCOPES)
    keyword: str = ""

    @classmethod
    def from_args(cls, keyword: str | None, scope: str | None) -> Marker:
        """From the ``keyword`` and ``scope`` the result link carries; syntax the search page already
        refused simply marks nothing here."""
        try:
            query = parse_keyword((keyword or "").strip())
        except KeywordError:
            return cls()
        wanted = frozenset(s.strip() for s in (scope or "").split(",")) & frozenset(SCOPES)
        return cls(query, wanted or frozenset(SCOPES), (keyword or "").strip() if query else "")

    def _marks(self, field: str) -> bool:
        return self.query is not None and field in self.scope

    def subject(self, text: str) -> Markup:
        return mark_all(text, self.query) if self._marks("subject") else escape(text)

    def body_text(self, text: str) -> Markup:
        return mark_all(text, self.query) if self._marks("body") else escape(text)

    def body_html(self, html: str) -> str:
        return mark_html(html, self.query) if self._marks("body") else html

    def attachment_name(self, name: str) -> Markup:
        return mark_all(name, self.query) if self._marks("attachment") else escape(name)

    def url_args(self) -> dict[str, str]:
        """The query-string form, to pass on (to the HTML body's frame)."""
        return {"keyword": self.keyword, "scope": ",".join(s for s in SCOPES if s in self.scope)} if self.keyword else {}
