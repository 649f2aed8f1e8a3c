"""Small presentation helpers for the search and message pages: keyword highlighting, sizes,
time-range quick picks, the department tree. No Flask here, so they are tested directly.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from server.query.tokenize import _CJK

QUICK_PICKS = (7, 30, 90)  # "last N days" links on the search form
_GAP = r"[\W_]*"  # what may stand between the tokens of a phrase in the original text
_CJK_CHAR = re.compile(f"[{_CJK}]")


def _phrase_pattern(tokens: tuple[str, ...]) -> str:
    """Tokens in order; a word token only matches a whole word (as the index does), CJK anywhere."""
    parts = []
    for token in tokens:
        body = re.escape(token)
        parts.append(body if _CJK_CHAR.fullmatch(token) else rf"(?<![^\W_]){body}(?![^\W_])")
    return _GAP.join(parts)


def highlight(text: str, phrases: tuple[tuple[str, ...], ...]) -> Markup:
    """``text`` HTML-escaped, with every match of the search phrases wrapped in ``<mark>``.

    Each piece is escaped on its own, so nothing in ``text`` can become markup.
    """
    if not text or not phrases:
        return escape(text or "")
    pattern = re.compile("|".join(f"(?:{_phrase_pattern(p)})" for p in phrases), re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        if match.end() == match.start():
            continue
        out.append(escape(text[last:match.start()]))
        out.append(Markup("<mark>") + escape(match.group(0)) + Markup("</mark>"))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def today_in(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def quick_ranges(tz: str) -> list[tuple[int, str, str]]:
    """(days, from, to) for each quick pick: the last N days up to and including today."""
    today = today_in(tz)
    return [(days, (today - timedelta(days=days - 1)).isoformat(), today.isoformat()) for days in QUICK_PICKS]


def department_options(paths: list[str]) -> list[tuple[str, str, int]]:
    """(path, label, depth) in tree order, for an indented picker: ``/Sales/East`` -> ("East", 1)."""
    return [(path, path.rstrip("/").rsplit("/", 1)[-1], path.count("/") - 1) for path in sorted(paths, key=lambda p: p.split("/"))]
