"""The keyword query language (DESIGN.md §5, docs/search.md), parsed once into a small tree.

Both backends translate the same tree (FTS5 MATCH text, an Elasticsearch bool query) and the
highlighter walks it, so the UI, the API and the command line agree on what a keyword means:

* words must all match (AND; an explicit upper-case ``AND`` is allowed and changes nothing);
* ``"quoted phrase"`` matches the words in that order;
* ``OR`` (upper case) between two words, phrases or groups; it binds tighter than the implicit
  AND, as in Gmail and Google Vault: ``invoice contract OR agreement`` is
  ``invoice AND (contract OR agreement)``;
* ``( ... )`` groups;
* ``-word``, ``-"phrase"``, ``-( ... )`` (or upper-case ``NOT``) exclude;
* ``word*`` is a prefix of one word, at least 3 letters or digits before the ``*``;
* Chinese, Japanese and Korean text matches as a substring (each character is a token; see
  tokenize.py), so it needs no ``*``.

Anything else that looks like syntax is refused with a message naming the part (``KeywordError``)
rather than being silently searched as words: an unbalanced quote or parenthesis, a lone ``OR``,
``*`` anywhere but at the end of a word, ``subject:...``-style field searches, a search of only
exclusions. Punctuation-only words (``&``, ``...``) carry no letters or digits and are ignored,
as the index ignores them.
"""

from __future__ import annotations

import re

from server.query.frozen import Frozen
from server.query.tokenize import is_cjk, tokens
from server.tuples import NamedTuple

MAX_KEYWORD_CHARS = 1000
MAX_TERMS = 64
MAX_DEPTH = 8  # nested parentheses
MIN_PREFIX = 3  # letters or digits before '*'
SHORT_PREFIX = "'*' needs at least %(n)s letters or digits before it (%(part)s)"
# Field prefixes other archives accept; here they are form fields, so say so instead of searching "from".
FIELD_NAMES = frozenset(
    ("subject", "body", "from", "to", "cc", "bcc", "sender", "recipient", "attachment", "attachments", "filename",
     "file", "has", "is", "in", "label", "before", "after", "date", "older_than", "newer_than", "header",
     "mailbox", "department", "size", "larger", "smaller", "text", "title")
)  # fmt: skip
_FIELD = re.compile(r"^([A-Za-z_]+):")
_WORD_END = re.compile(r'[\s()"]')


class KeywordError(ValueError):
    """Keyword syntax the language does not have; ``str(error)`` names the part.

    ``template`` (English, ``%(name)s`` placeholders) and ``values`` are kept apart so the console
    can show the same sentence in the page's language; ``str()`` is the English one for the API/CLI.
    """

    def __init__(self, template: str, **values: object) -> None:
        self.template = template
        self.values = {k: str(v) for k, v in values.items()}
        super().__init__(template % self.values if values else template)


class Term(Frozen):
    """A word or a quoted phrase: its tokens in order; ``prefix``: the one token is a prefix."""

    __slots__ = ("tokens", "prefix")
    tokens: tuple[str, ...]
    prefix: bool

    def __init__(self, tokens: tuple[str, ...], prefix: bool = False) -> None:
        super().__init__(tokens, prefix)

    def __str__(self) -> str:
        if self.prefix:
            return f"{self.tokens[0]}*"
        return self.tokens[0] if len(self.tokens) == 1 else '"' + " ".join(self.tokens) + '"'


class Not(Frozen):
    __slots__ = ("child",)
    child: Node

    def __str__(self) -> str:
        return f"-{_grouped(self.child)}"


class And(Frozen):
    """Every positive child matches and no ``Not`` child does (at least one child is positive)."""

    __slots__ = ("children",)
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " ".join(_grouped(c) for c in self.children)


class Or(Frozen):
    """At least one child matches (no child is a ``Not``)."""

    __slots__ = ("children",)
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(_grouped(c) for c in self.children)


Node = Term | Not | And | Or


def _grouped(node: Node) -> str:
    return f"({node})" if isinstance(node, And | Or) else str(node)


_SPACE = re.compile(r"\s")


def positive_terms(node: Node | None) -> list[Term]:
    """The terms a match can be made of (none under a ``Not``), in query order, each once: what the
    highlighter marks."""
    found: list[Term] = []

    def walk(n: Node) -> None:
        if isinstance(n, Term):
            if n not in found:
                found.append(n)
        elif isinstance(n, And | Or):
            for child in n.children:
                walk(child)

    if node is not None:
        walk(node)
    return found


def term_count(node: Node | None) -> int:
    if node is None:
        return 0
    if isinstance(node, Term):
        return 1
    if isinstance(node, Not):
        return term_count(node.child)
    return sum(term_count(c) for c in node.children)


class _Lexeme(NamedTuple):
    kind: str  # "(", ")", "-", "OR", "AND", "word", "phrase"
    text: str  # as typed (for errors)


def _snippet(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _is_punctuation(text: str, i: int) -> bool:
    """Whether the chunk starting at ``i`` (up to whitespace) is only punctuation, like the dash in
    ``Q3 report - final`` or ``-->``: ignored like any word without letters or digits."""
    match = _SPACE.search(text, i)
    chunk = text[i : match.start() if match else len(text)]
    return not tokens(chunk) and not any(c in chunk for c in '()"')


def _lex(text: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            out.append(_Lexeme(char, char))
            i += 1
        elif char == "-" and not _is_punctuation(text, i):
            out.append(_Lexeme("-", "-"))
            i += 1
        elif char == '"':
            start, end = i, text.find('"', i + 1)
            if end < 0:
                raise KeywordError("unbalanced quote in %(part)s: close the phrase with another \"", part=_snippet(text[i:]))
            out.append(_Lexeme("phrase", text[i + 1 : end]))
            i = end + 1
            if i < n and text[i] == "*":
                phrase = _snippet(f'"{text[start + 1 : end]}"*')
                raise KeywordError("'*' after a phrase is not supported (%(part)s): prefix search works on one word, e.g. deliver*",
                                   part=phrase)  # fmt: skip
        else:
            match = _WORD_END.search(text, i)
            end = match.start() if match else n
            word = text[i:end]
            out.append(_Lexeme(word if word in ("OR", "AND", "NOT") else "word", word))
            i = end
    return out


def _word(text: str) -> Term | None:
    field = _FIELD.match(text)
    if field and field.group(1).lower() in FIELD_NAMES:
        raise KeywordError(
            "field searches like %(field)s are not supported (%(part)s): use the sender, recipient "
            "and scope fields, or quote the text to search for it", field=repr(field.group(0)), part=_snippet(text)
        )
    star = text.find("*")
    if star >= 0 and star != len(text) - 1:
        raise KeywordError("'*' is only allowed at the end of a word, for prefix search (%(part)s)", part=_snippet(text))
    if star < 0:
        found = tuple(tokens(text))
        return Term(found) if found else None
    found = tuple(tokens(text[:-1]))
    if not found:
        raise KeywordError(SHORT_PREFIX, n=MIN_PREFIX, part=_snippet(text))
    if any(is_cjk(t) for t in found):
        raise KeywordError(
            "Chinese, Japanese and Korean text already matches as a substring: remove the '*' (%(part)s)",
            part=_snippet(text),
        )
    if len(found) > 1:
        raise KeywordError(
            "'*' works on a single word, but %(part)s has several parts (%(parts)s): "
            "search the first parts as separate words", part=_snippet(text), parts=" ".join(found)
        )
    if len(found[0]) < MIN_PREFIX:
        raise KeywordError(SHORT_PREFIX, n=MIN_PREFIX, part=_snippet(text))
    return Term(found, prefix=True)


class _Parser:
    """Recursive descent: sequence := clause+ ; clause := unary (OR unary)* ;
    unary := ('-' | NOT) primary | primary ; primary := '(' sequence ')' | word | phrase."""

    def __init__(self, lexemes: list[_Lexeme]) -> None:
        self.lexemes = lexemes
        self.pos = 0

    def peek(self) -> str | None:
        return self.lexemes[self.pos].kind if self.pos < len(self.lexemes) else None

    def take(self) -> _Lexeme:
        lexeme = self.lexemes[self.pos]
        self.pos += 1
        return lexeme

    def sequence(self, depth: int) -> list[Node | None]:
        items: list[Node | None] = []
        while self.peek() not in (None, ")"):
            if self.peek() == "AND":
                self.take()
                if not items or self.peek() in (None, ")", "OR", "AND"):
                    raise KeywordError("'AND' needs a word, phrase or group on both sides")
                continue
            items.append(self.clause(depth))
        return items

    def clause(self, depth: int) -> Node | None:
        parts = [self.unary(depth)]
        while self.peek() == "OR":
            self.take()
            if self.peek() in (None, ")", "OR", "AND"):
                raise KeywordError("'OR' needs a word, phrase or group on both sides")
            parts.append(self.unary(depth))
        if len(parts) == 1:
            return parts[0]
        negated = next((p for p in parts if isinstance(p, Not)), None)
        if negated is not None:
            raise KeywordError(
                "an exclusion cannot be one side of OR (%(part)s): put it outside the OR, e.g. (a OR b) -c", part=negated
            )
        kept = list(dict.fromkeys(p for p in parts if p is not None))
        return None if not kept else kept[0] if len(kept) == 1 else Or(tuple(kept))

    def unary(self, depth: int) -> Node | None:
        if self.peek() in ("-", "NOT"):
            marker = self.take().text
            if self.peek() in ("-", "NOT"):
                raise KeywordError("%(marker)s twice in a row: exclude once", marker=repr(marker))
            if self.peek() in (None, ")", "OR", "AND"):
                raise KeywordError("%(marker)s must be followed by the word, phrase or group to exclude", marker=repr(marker))
            child = self.primary(depth)
            return None if child is None else Not(child)
        return self.primary(depth)

    def primary(self, depth: int) -> Node | None:
        if self.peek() == "OR":
            raise KeywordError("'OR' needs a word, phrase or group on both sides")
        lexeme = self.take()
        if lexeme.kind == ")":
            raise KeywordError("unbalanced parenthesis: ')' without a matching '('")
        if lexeme.kind == "(":
            if depth >= MAX_DEPTH:
                raise KeywordError("parentheses nested more than %(n)s deep", n=MAX_DEPTH)
            items = self.sequence(depth + 1)
            if self.peek() != ")":
                raise KeywordError("unbalanced parenthesis: '(' without a matching ')'")
            self.take()
            if not items:
                raise KeywordError("empty parentheses '()': put words inside or remove them")
            return _conjunction(items)
        if lexeme.kind == "phrase":
            found = tuple(tokens(lexeme.text))
            return Term(found) if found else None
        return _word(lexeme.text)


def _conjunction(items: list[Node | None]) -> Node | None:
    kept: list[Node] = []
    for item in items:
        for child in item.children if isinstance(item, And) else (item,):
            if child is not None and child not in kept:
                kept.append(child)
    if not kept:
        return None
    if all(isinstance(c, Not) for c in kept):
        raise KeywordError("add a word to search for: %(part)s only excludes", part=" ".join(map(str, kept)))
    return kept[0] if len(kept) == 1 else And(tuple(kept))


def parse_keyword(text: str) -> Node | None:
    """The keyword as a tree, or None when it has no letters or digits at all (e.g. empty)."""
    if len(text) > MAX_KEYWORD_CHARS:
        raise KeywordError("too long (%(n)s characters; at most %(max)s)", n=f"{len(text):,}", max=f"{MAX_KEYWORD_CHARS:,}")
    parser = _Parser(_lex(text))
    items = parser.sequence(0)
    if parser.peek() == ")":
        raise KeywordError("unbalanced parenthesis: ')' without a matching '('")
    node = _conjunction(items)
    if term_count(node) > MAX_TERMS:
        raise KeywordError("too many words and phrases (%(n)s; at most %(max)s)", n=term_count(node), max=MAX_TERMS)
    return node
