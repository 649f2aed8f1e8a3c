"""File names for downloads and zip entries, and the ``Content-Disposition`` header that carries them.

Subjects and attachment names come from strangers: they may hold slashes, ``..``, control and
bidi-override characters, Windows device names or hundreds of CJK characters. A name made here is
safe to write on Windows, macOS and Linux and inside a zip, and stays readable (CJK kept).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from urllib.parse import quote

MAX_NAME_BYTES = 180  # well under the 255-byte limit of common file systems, room for a counter
_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
_SPACES = re.compile(r"\s{2,}|[^\S ]")  # what "\s+ -> one space" changes; a single space is left as it is
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,8}")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def _visible(char: str) -> str:
    """Control, format (bidi overrides, zero-width) and unassigned characters become ``_``."""
    return "_" if unicodedata.category(char).startswith("C") else char


def truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 without splitting a character."""
    if text.isascii():  # one byte a character (isascii is O(1) on str)
        return text[:max_bytes]
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore")


def safe_filename(name: str, *, default: str = "file", max_bytes: int = MAX_NAME_BYTES) -> str:
    """A single path component: no separators, no control characters, no leading dots, bounded length.

    The extension (if short and plain) is kept when the stem has to be shortened. Export All names
    every message with it, so the common case (plain text) takes no per-character Python step.
    """
    text = name or ""
    if not text.isascii():  # ASCII text is already NFC
        text = unicodedata.normalize("NFC", text)
    text = _FORBIDDEN.sub("_", text)
    if not text.isprintable():  # the common case needs no per-character look-up
        text = "".join(_visible(c) for c in text)
    text = _SPACES.sub(" ", text).strip(" ._")
    if not text:
        return default
    stem, dot, ext = text.rpartition(".")
    if not dot or not _EXTENSION.fullmatch(ext):
        stem, ext = text, ""
    suffix = f".{ext}" if ext else ""
    stem = truncate_utf8(stem, max_bytes - len(suffix)).rstrip(" .") or default
    if _RESERVED.match(stem):
        stem = "_" + stem
    return stem + suffix


def eml_filename(date: datetime, subject: str, *, prefix: str = "") -> str:
    """``2025-03-14_0926_Quarterly report.eml``: sorts by date, says what it is. The date is put
    together by hand: ``strftime`` costs twice as much, and the year is written as ``%Y`` writes it."""
    stem = (f"{prefix}{date.year}-{date.month:02d}-{date.day:02d}_{date.hour:02d}{date.minute:02d}_"
            f"{subject.strip() or 'no subject'}")
    return safe_filename(stem + ".eml", default="message.eml")


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients plus the exact name as UTF-8 ``filename*``."""
    kind = "inline" if inline else "attachment"
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r'[^A-Za-z0-9._ -]', "_", fallback).strip() or "download"
    if fallback.startswith("."):
        fallback = "download" + fallback
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
