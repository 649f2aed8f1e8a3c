"""Why a message matched: the keyword's matches in its subject, body and attachment names, as
HTML with each match in ``<mark>`` and everything else escaped (DESIGN.md §6, ``highlight``).

Matching follows the index, not a second idea of it: each positive term of the query tree becomes
a regular expression that matches where, and only where, the term's tokens stand in order in
tokenize.py's token stream of the text (a word token only as a whole token, a prefix at a token's
start, CJK characters anywhere, any non-token characters between the tokens of a phrase), with
NFKC and case folding as the index has them. Excluded terms are never marked, nor a field outside
the search scope. Offsets are those of the stored text, so the reader sees the original characters.

Cost is bounded: only the messages of the page shown are highlighted, a body is scanned up to the
indexed length (tokenize.MAX_INDEXED_CHARS) and at most 64 matches a term. Most text is matched as
stored (lower-cased, or through character classes of everything that normalises to each character:
``_Tables``), in C; only text with characters whose normalised form is longer or that combine with
their neighbour is normalised first (``_Normalised``). Figures: docs/performance.md.
"""

from __future__ import annotations

import html as htmllib
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

from markupsafe import Markup, escape

from server.model import Message
from server.query.criteria import SCOPES, Criteria
from server.query.keywords import KeywordError, Node, Term, parse_keyword, positive_terms
from server.query.tokenize import _CJK, MAX_INDEXED_CHARS, is_cjk

FRAGMENT_CHARS = 200  # about this long, plus the rest of a word at either end
CONTEXT_CHARS = 60  # text shown before the first match of a fragment
MAX_FRAGMENTS = 3  # body fragments per message
SNAP_CHARS = 20  # how far a cut may move to land on whitespace
MAX_SUBJECT_CHARS = 400  # longer subjects are cut around their matches like a body
ELLIPSIS = "…"
_WORD = rf"[^\W_{_CJK}]"  # a character of a (non-CJK) word token
_GAP = rf"(?:[^\w{_CJK}]|_)*"  # characters that belong to no token, between the tokens of a phrase
_SPACES = re.compile(r"\s+")
FIELDS = (("subject", "subject"), ("body", "body"), ("attachment", "attachment_names"))  # scope -> highlight key


_ASTRAL = "\U00010000-\U0001ffff\U0002f800-\U0002ffff\U00031350-\U0010ffff"  # outside the CJK extensions: not tabulated


class _Tables:
    """What normalisation does to each character, so that most text is matched as it is stored.

    ``sources``: a one-character form -> the (escaped) characters that normalise to it, other than
    itself (``A``, ``Ａ`` for ``a``); a pattern of classes built from them matches stored text
    directly, in C, without normalising it. ``slow``: characters for which that is not exact (a form
    of several characters, a character that composes with its neighbour, one whose form is in another
    token class, and the astral planes outside the CJK extensions); a text holding one is normalised.
    ``special`` characters (normalising to a letter or digit other than their lower case: Ａ, ①): a
    text without these nor slow ones normalises to its ``str.lower()``, so it is matched lower-cased
    with plain literals, the fastest case. ``forms``, ``odd``, ``clusters``: for the slow path.

    Each pattern is compiled when first used (2-7 ms each: most text needs only ``unusual``, a
    command-line ``search --json`` often nothing else). Not a dataclass: see ``Marker``.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.sources: dict[str, str] = data["sources"]
        self.forms: dict[int, str] = data["forms"]
        self._data = data

    @cached_property
    def slow(self) -> re.Pattern[str]:
        return re.compile(f"[{self._data['slow']}{_ASTRAL}]")

    @cached_property
    def unusual(self) -> re.Pattern[str]:  # slow or special: one scan decides that most text is plain
        return re.compile(f"[{self._data['slow']}{self._data['special']}{_ASTRAL}]")

    @cached_property
    def odd(self) -> re.Pattern[str]:
        return re.compile(f"[{self._data['odd']}{_ASTRAL}]")

    @cached_property
    def clusters(self) -> re.Pattern[str]:  # a character followed by characters that combine with it
        return re.compile(f"(?s).?[{self._data['joiners']}]+")


def _kind(char: str) -> str:
    """The character's part in tokenize.py's tokens: a CJK token, part of a word, or a separator."""
    return "cjk" if is_cjk(char) else ("word" if char.isalnum() else "gap")


def _char_class(chars: Iterable[str]) -> str:
    return "".join(re.escape(c) for c in chars)


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Built once per process: from the stored ``normtables`` when they were generated with this
    interpreter's Unicode version, else from ``unicodedata`` over the BMP (~0.1 s of CPU, which every
    command-line ``search --json`` over mail with a character not in NFKC form, such as full-width
    punctuation, paid; the stored ones cost only the regex compiles each needs)."""
    from server.query import normtables

    return _Tables(normtables.DATA if unicodedata.unidata_version == normtables.UNIDATA_VERSION else table_data())


def table_data() -> dict[str, Any]:
    """What ``_Tables`` is made of (character classes as pattern text), from ``unicodedata``."""
    bmp = [chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000]
    # starters composed with the character before them: Indic vowel signs, Hangul vowel and final jamo
    seconds = {chr(c) for c in [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]}
    for char in bmp:
        parts = unicodedata.decomposition(char).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(chr(int(parts[1], 16)))
    sources: dict[str, list[str]] = {}
    forms: dict[int, str] = {}
    slow, special, odd, joiners = [], [], [], []
    for char in bmp:
        form = unicodedata.normalize("NFKC", char).casefold()
        joiner = bool(unicodedata.combining(char) or char in seconds or (form and unicodedata.combining(form[0])))
        if form == char and not joiner:
            continue
        if form != char:
            forms[ord(char)] = form
        if len(form) != 1:
            odd.append(char)
        if joiner:
            joiners.append(char)
        if joiner or len(form) != 1 or _kind(char) != _kind(form):
            slow.append(char)
        else:
            sources.setdefault(form, []).append(char)
            if form != char.lower() and _kind(form) != "gap":
                special.append(char)
    return {"sources": {form: _char_class(chars) for form, chars in sources.items()}, "forms": forms,
            "slow": _char_class(slow), "special": _char_class(special), "odd": _char_class(odd),
            "joiners": _char_class(joiners)}  # fmt: skip


def table_module() -> str:
    """The text of ``server/query/normtables.py`` (a test compares the two)."""
    return (f'"""{NORMTABLES_HEADER}"""\n\nUNIDATA_VERSION = {unicodedata.unidata_version!r}\n'
            f"DATA = {ascii(table_data())}\n")  # fmt: skip


NORMTABLES_HEADER = (
    "What server.query.highlight's character tables are made of, for the Unicode version below.\n\n"
    "Generated, do not edit: python -c 'from server.query.highlight import table_module; \\\n"
    "open(\"server/query/normtables.py\", \"w\").write(table_module())'\n"
)


def _literal(token: str, *, plain: bool) -> str:
    """The token as a pattern: ``plain`` (over lower-cased text) the token itself; else each
    character, or any character normalising to it."""
    if plain:
        return re.escape(token)
    sources = _tables().sources
    return "".join(f"[{re.escape(c)}{sources[c]}]" if c in sources else re.escape(c) for c in token)


def _token_pattern(token: str, prefix: bool, plain: bool) -> str:
    """The token's characters first, its "no word character before it" check after them (a
    fixed-width lookbehind), so the regex engine scans for the first character quickly."""
    body = _literal(token, plain=plain)
    if is_cjk(token):
        return body
    start = rf"{body}(?<!{_WORD}{body})"
    return rf"{start}{_WORD}*" if prefix else rf"{start}(?!{_WORD})"


@lru_cache(maxsize=1)
def _word_char() -> re.Pattern[str]:
    """``_WORD`` compiled once: its class holds the CJK ranges, ~5 ms to compile each time a
    pattern contains it (so one-word terms check their ends with this instead)."""
    return re.compile(_WORD)


def compile_now() -> None:
    """Build the tables and compile the patterns every keyword search may need, now. For a
    long-running server (``mailarchive serve``): otherwise the first keyword search after a start
    pays ~25 ms of CPU for them (issue 18 item 3); the command line keeps compiling only what it
    uses (start-up, item 4)."""
    tables = _tables()
    _ = tables.slow, tables.unusual, tables.odd, tables.clusters, _word_char()  # each compiles on first access


def _term_regex(term: Term, plain: bool) -> re.Pattern[str]:
    """One term's pattern. A one-word term (the common case) is its literal alone, the word
    boundaries being checked by ``TermPattern.accept``; a phrase or a CJK word keeps them inside."""
    if len(term.tokens) == 1 and not is_cjk(term.tokens[0]):
        return re.compile(_literal(term.tokens[0], plain=plain))
    return re.compile(_GAP.join(_token_pattern(t, term.prefix, plain) for t in term.tokens))


class TermPattern:
    """One term's pattern over lower-cased text (``plain``) and over stored or normalised text
    (``classes``, compiled when first needed: most text is plain). One pattern per term, not an
    alternation: a pattern that starts with a literal is searched for with the regex engine's fast
    literal scan."""

    def __init__(self, term: Term) -> None:
        self.term = term
        self.bare = len(term.tokens) == 1 and not is_cjk(term.tokens[0])  # boundaries checked in accept()
        self.plain = _term_regex(term, True)
        self._classes: re.Pattern[str] | None = None

    @property
    def classes(self) -> re.Pattern[str]:
        if self._classes is None:
            self._classes = _term_regex(self.term, False)
        return self._classes

    def accept(self, text: str, start: int, end: int) -> int | None:
        """The end of the match of a one-word term found at ``start``..``end``, or None when a
        word character touches it (what ``(?<!W)``, ``(?!W)`` and ``W*`` say in a phrase's pattern)."""
        if not self.bare:
            return end
        word = _word_char()
        if start > 0 and word.match(text, start - 1):
            return None
        if self.term.prefix:
            while end < len(text) and word.match(text, end):
                end += 1
            return end
        return None if end < len(text) and word.match(text, end) else end


Patterns = tuple[TermPattern, ...]


@lru_cache(maxsize=256)
def term_patterns(terms: tuple[Term, ...]) -> Patterns:
    return tuple(TermPattern(term) for term in terms)


class _Normalised:
    """``text`` as tokenize.py sees it, with a map from its offsets back to ``text``'s (the slow
    path, for text holding a character of ``_Tables.slow``).

    Stretches without combining characters are normalised in C and map character by character,
    shifted at the characters whose form has another length (``ß`` -> ``ss``); each character
    followed by combining ones (``e`` + U+0301, a Hangul syllable + a final jamo) is normalised as
    one cluster and maps as a whole.
    """

    def __init__(self, text: str) -> None:
        self._tables = _tables()
        self._starts: list[int] = []  # per entry: where it starts in the normalised text,
        self._index: list[int] = []  # ... where in the original, how many original characters,
        self._width: list[int] = []
        self._length: list[int] = []  # ... how long its form is, and the total shift after it
        self._shift: list[int] = []
        self._total = 0
        pieces: list[str] = []
        position = 0
        for cluster in self._tables.clusters.finditer(text):
            self._plain(text, position, cluster.start(), pieces)
            form = unicodedata.normalize("NFKC", cluster.group()).casefold()
            self._entry(cluster.start(), cluster.end() - cluster.start(), len(form))
            pieces.append(form)
            position = cluster.end()
        self._plain(text, position, len(text), pieces)
        self.text = "".join(pieces)

    def _plain(self, text: str, start: int, end: int, pieces: list[str]) -> None:
        if start == end:
            return
        pieces.append(unicodedata.normalize("NFKC", text[start:end]).casefold())
        for match in self._tables.odd.finditer(text, start, end):
            char = match.group()
            length = len(self._tables.forms.get(ord(char)) or unicodedata.normalize("NFKC", char).casefold())
            if length != 1:
                self._entry(match.start(), 1, length)

    def _entry(self, index: int, width: int, length: int) -> None:
        self._starts.append(index + self._total)
        self._index.append(index)
        self._width.append(width)
        self._length.append(length)
        self._total += length - width
        self._shift.append(self._total)

    def to_original(self, offset: int, *, end: bool) -> int:
        at = bisect_right(self._starts, offset) - 1
        if at < 0:
            return offset
        start = self._starts[at]
        if offset < start + self._length[at]:  # inside one entry's form: all of its characters
            return self._index[at] + (self._width[at] if end and offset > start else 0)
        return offset - self._shift[at]


def match_spans(text: str, patterns: Patterns, *, limit: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets in ``text`` of the terms' matches, in order, overlapping ones merged
    (a phrase and its own word both match: one mark), at most ``limit`` (per term while searching)."""
    if not patterns or not text:
        return []
    text = text[:MAX_INDEXED_CHARS]
    norm, plain = None, False
    folded = text.casefold() if unicodedata.is_normalized("NFKC", text) else None  # (a quick check, in C)
    if folded is not None and len(folded) == len(text):
        searched, plain = folded, True  # its normalised form, character for character
    elif folded is None and not _tables().unusual.search(text):
        searched, plain = text.lower(), True  # the same
    elif not _tables().slow.search(text):
        searched = text  # matched as stored, through the patterns' character classes
    else:
        norm = _Normalised(text)
        searched = norm.text
    found: list[tuple[int, int]] = []
    for pattern in patterns:
        regex, position, count = pattern.plain if plain else pattern.classes, 0, 0
        # each search resumes one character after the last match's start, so overlapping
        # occurrences ("a a" in "a a a") are all found
        while (limit is None or count < limit) and (match := regex.search(searched, position)) is not None:
            position = match.start() + 1
            end = pattern.accept(searched, match.start(), match.end())
            if end is not None and end > match.start():
                found.append((match.start(), end))
                count += 1
    spans: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if norm is not None:
            start, end = norm.to_original(start, end=False), norm.to_original(end, end=True)
        if spans and start <= spans[-1][1]:  # overlaps (or touches) the previous one: one mark
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        elif limit is None or len(spans) < limit:
            spans.append((start, end))
    return spans


_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use stand-ins for the tags while the text is escaped


def mark(text: str, spans: Iterable[tuple[int, int]], start: int = 0, end: int | None = None, *,
         collapse: bool = True) -> Markup:  # fmt: skip
    """``text[start:end]`` escaped with the spans inside it in ``<mark>``; ``collapse``: whitespace
    runs become one space (fragments), else the text keeps its lines (the message view).

    The tags go in as two private-use characters (any already in the text become U+FFFD), the
    whole piece is escaped at once, then they become the tags: a few C calls per fragment."""
    end = len(text) if end is None else end
    window = text[start:end]
    if _OPEN in window or _CLOSE in window:
        window = window.replace(_OPEN, "\ufffd").replace(_CLOSE, "\ufffd")
    pieces, last, size = [], 0, len(window)
    for s, e in spans:  # in order
        s, e = s - start, e - start
        if e > size:
            break
        if s < last:
            continue
        pieces += [window[last:s], _OPEN, window[s:e], _CLOSE]
        last = e
    pieces.append(window[last:])
    joined = "".join(pieces)
    if collapse:
        joined = _SPACES.sub(" ", joined)
    return Markup(htmllib.escape(joined).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>"))


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
        piece = str(mark(text, spans, start, end)).strip()
        out.append(f"{ELLIPSIS if start > 0 else ''}{piece}{ELLIPSIS if end < len(text) else ''}")
        i, previous_end = j + 1, end
        while i < len(spans) and spans[i][0] < end:  # cut by this fragment's end: not shown again
            i += 1
    return out


def _field_fragments(key: str, value: str | list[str], regex: Patterns) -> list[str]:
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
    regex = term_patterns(tuple(positive_terms(query)))
    if not regex:
        return result
    values = {"subject": subject, "body": body, "attachment_names": attachment_names}
    for scope_name, key in FIELDS:
        if scope_name in scope:
            result[key] = _field_fragments(key, values[key], regex)
    return result


def mark_all(text: str, query: Node | None) -> Markup:
    """All of ``text`` escaped, every match of the query marked (the message view's body)."""
    return mark(text, match_spans(text, term_patterns(tuple(positive_terms(query)))), collapse=False)



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
    regex = term_patterns(tuple(positive_terms(query)))
    if not regex or not html:
        return html
    parts = _TAG.split(html)
    for i in range(0, len(parts), 2):  # even indices are text, odd ones the tags
        text = htmllib.unescape(parts[i])
        spans = match_spans(text, regex)
        if spans:
            parts[i] = str(mark(text, spans, collapse=False))
    return "".join(parts)


class Marker(NamedTuple):
    """Marks one search's keyword in a message being read (the message view): its text or HTML
    body, subject and attachment names, each only when that field was searched. A NamedTuple (and
    ``_Tables`` a plain class), not dataclasses: ``search --json`` imports this module, and the
    dataclasses module with two classes built cost its start-up ~33 M instructions."""

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
