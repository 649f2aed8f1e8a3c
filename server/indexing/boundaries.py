"""The stdlib MIME parser's boundary lines, matched without compiling a regex per multipart part.

``email.feedparser`` compiles ``(?P<sep>--BOUNDARY)(?P<end>--)?(?P<ws>[ \\t]*)(?P<linesep>\\r\\n|\\r|\\n)?$``
for every multipart part it reads. Boundaries are unique per message, so ``re``'s cache never hits:
on the bench mix that compile was ~0.26 ms a multipart part, about a tenth of the import's parse.
``install()`` gives feedparser a stand-in for its ``re`` module whose ``compile`` answers that one
pattern with ``BoundaryLine`` (a literal prefix test and a few string checks that match exactly the
lines the regex matches, with the groups feedparser reads) and hands every other pattern to ``re``.
A pattern it does not recognise as that shape, byte for byte, is compiled as before.

It also replaces feedparser's module-level ``NLCRE_eol`` (``(\\r\\n|\\r|\\n)\\Z``), which it searches
over every part's whole payload to drop the line end before the next boundary: a search with no
literal prefix tests every position, ~0.5 M instructions for a bench message (5 % of a parser
process). ``LineEnd`` looks at the last two characters and gives the same match.
"""

from __future__ import annotations

import email.feedparser
import re
from types import ModuleType
from typing import Any

_PREFIX = "(?P<sep>"
_SUFFIX = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_LINESEPS = ("\r\n", "\r", "\n")  # the regex's alternatives, in its order
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


class BoundaryMatch:
    """The groups of a boundary line, as the regex's match object gives them."""

    __slots__ = ("_groups",)

    def __init__(self, sep: str, end: str | None, ws: str, linesep: str | None) -> None:
        self._groups = {"sep": sep, "end": end, "ws": ws, "linesep": linesep}

    def group(self, name: str) -> str | None:
        return self._groups[name]


class BoundaryLine:
    """``re.compile(_PREFIX + re.escape(sep) + _SUFFIX)`` for ``match``: anchored at the start, and
    ``$`` matching at the end of the line or before a final newline."""

    __slots__ = ("sep", "_size")

    def __init__(self, sep: str) -> None:
        self.sep = sep
        self._size = len(sep)

    def match(self, line: str) -> BoundaryMatch | None:
        if not line.startswith(self.sep):
            return None
        rest = line[self._size :]
        # "--" cannot be given back: without it the rest starts with "-", which nothing after matches
        end = "--" if rest.startswith("--") else None
        if end:
            rest = rest[2:]
        tail = rest.lstrip(" \t")  # greedy, and giving a blank back leaves one nothing after matches
        ws = rest[: len(rest) - len(tail)]
        for linesep in _LINESEPS:
            if tail.startswith(linesep) and tail[len(linesep) :] in ("", "\n"):
                return BoundaryMatch(self.sep, end, ws, linesep)
        return BoundaryMatch(self.sep, end, ws, None) if tail in ("", "\n") else None


def boundary_separator(pattern: str) -> str | None:
    """The literal separator of feedparser's boundary pattern, or None for any other pattern."""
    if not (pattern.startswith(_PREFIX) and pattern.endswith(_SUFFIX)):
        return None
    escaped = pattern[len(_PREFIX) : len(pattern) - len(_SUFFIX)]
    sep = _ESCAPED.sub(r"\1", escaped)
    return sep if re.escape(sep) == escaped else None


class LineEndMatch:
    """The one group feedparser reads of an ``NLCRE_eol`` match (the whole match is the group)."""

    __slots__ = ("_end",)

    def __init__(self, end: str) -> None:
        self._end = end

    def group(self, index: int = 0) -> str:
        if index not in (0, 1):
            raise IndexError("no such group")
        return self._end


class LineEnd:
    r"""``re.compile(r"(\r\n|\r|\n)\Z")`` for ``search``: the leftmost match is a final CRLF, else a
    final CR or LF (``\Z``: the very end only)."""

    pattern = EOL_PATTERN = r"(\r\n|\r|\n)\Z"

    @staticmethod
    def search(text: str) -> LineEndMatch | None:
        if text.endswith("\r\n"):
            return LineEndMatch("\r\n")
        last = text[-1:]
        return LineEndMatch(last) if last in ("\r", "\n") else None


class _FeedparserRe(ModuleType):
    """``re`` as ``email.feedparser`` sees it once ``install()`` ran."""

    def __init__(self) -> None:
        super().__init__("re")

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - whatever ``re`` has
        return getattr(re, name)

    @staticmethod
    def compile(pattern: Any, flags: int = 0) -> Any:  # noqa: ANN401 - a pattern or a BoundaryLine
        sep = boundary_separator(pattern) if isinstance(pattern, str) and not flags else None
        return BoundaryLine(sep) if sep is not None else re.compile(pattern, flags)


def install() -> None:
    """Make ``email.feedparser`` use ``BoundaryLine`` (idempotent; every other pattern unchanged)."""
    if not isinstance(email.feedparser.re, _FeedparserRe):
        email.feedparser.re = _FeedparserRe()  # type: ignore[attr-defined]
    if getattr(email.feedparser.NLCRE_eol, "pattern", None) == LineEnd.EOL_PATTERN:  # the shape it replaces
        email.feedparser.NLCRE_eol = LineEnd()  # type: ignore[assignment]
