"""What to call a message that has no subject, or no headers at all, in a list or a page title.

A headerless fragment (a saved body, a truncated export) has nothing a list row normally shows;
"(no subject)" over a blank row tells the investigator nothing. The first words of the body do,
and "(no headers)" says plainly what kind of thing it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.display.source import OLE_SIGNATURE
from server.model import Message

PREVIEW_CHARS = 80
_OLE_TEXT = OLE_SIGNATURE.decode("latin-1")  # how ingestion's text of an Outlook .msg begins
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f]")


@dataclass(frozen=True)
class Title:
    text: str  # the subject, or the first words of the body ("" if none)
    placeholder: str  # catalog key shown before or instead of ``text``: "" when there is a subject


def title(message: Message) -> Title:
    if message.subject.strip():
        return Title(message.subject, "")
    if message.body_text.startswith(_OLE_TEXT):
        return Title("", "(Outlook .msg item, not Internet mail)")
    if _CONTROLS.search(message.body_text[:PREVIEW_CHARS * 4]):  # binary junk says nothing
        return Title("", "(no headers, binary content)" if is_headerless(message) else "(no subject)")
    placeholder = "(no headers)" if is_headerless(message) else "(no subject)"
    return Title(first_words(message.body_text), placeholder)


def is_headerless(message: Message) -> bool:
    """Nothing that headers would have given: no sender, recipients, subject or Message-ID."""
    return not (message.sender or message.recipients or message.subject or message.message_id)


def first_words(text: str, limit: int = PREVIEW_CHARS) -> str:
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    cut = words[:limit].rsplit(" ", 1)[0] if " " in words[:limit] else words[:limit]
    return cut + "…"
