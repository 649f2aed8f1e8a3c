"""Small presentation helpers for the search and message pages: sizes,
time-range quick picks, the department tree. No Flask here, so they are tested directly.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from html import escape, unescape
from unicodedata import east_asian_width
from zoneinfo import ZoneInfo

QUICK_PICKS = (7, 30, 90)  # "last N days" links on the search form
ROW_LEAD_CHARS = 20  # columns of text a result row shows before a fragment's first match (CJK: 2 each)


def near_match(fragment: str, lead: int = ROW_LEAD_CHARS) -> str:
    """A highlight fragment (escaped text with ``<mark>`` tags) cut to at most ``lead`` columns of text
    before its first match. Why: a result row is one line, and the fragment's own context (60
    characters, 800 px of Chinese) pushed the match out of sight, so the row did not show why it
    matched. The cut is made on the unescaped text, so no entity is split."""
    at = fragment.find("<mark>")
    if at < 0:
        return fragment
    before = unescape(fragment[:at]).lstrip("…")
    start, width = len(before), 0
    while start > 0 and width + _columns(before[start - 1]) <= lead:
        start -= 1
        width += _columns(before[start])
    if start == 0:
        return fragment
    kept = before[start:]
    space = kept.find(" ", 0, len(kept) // 2)  # in spaced scripts start at a word
    return "…" + escape(kept[space + 1 :] if space >= 0 else kept, quote=False) + fragment[at:]


def _columns(char: str) -> int:
    """Display width in Latin letters: East Asian wide and fullwidth characters take two."""
    return 2 if east_asian_width(char) in "WF" else 1


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


_SCOPE_LABELS = {"subject": "Subject", "body": "Body", "attachment": "Attachment name"}


def criteria_summary(form: dict) -> list[tuple[str, str | list[str]]]:
    """(label key, value) for each criterion given: the one-line summary shown while the search
    form is collapsed above the results, so the reviewer always sees what the list is. The
    scopes come as a list of label keys (translated where shown)."""
    out = [("Time range", f"{form['from'][:10]} – {form['to'][:10]}")]
    for key, label in (("keyword", "Keyword"), ("mailbox", "Archived mailbox"), ("sender", "Sender"),
                       ("recipient", "Recipient"), ("department", "Department")):  # fmt: skip
        if form.get(key):
            out.append((label, form[key]))
    if form.get("keyword") and len(form.get("scopes", [])) < len(_SCOPE_LABELS):
        out.append(("Search keyword in", [_SCOPE_LABELS[s] for s in form["scopes"] if s in _SCOPE_LABELS]))
    return out
