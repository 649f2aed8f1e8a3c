"""Everything the message view says *about* a message besides its content: flag badges, parse
problems in words, the bounce's delivery report, and why the body area would otherwise be empty.

Gathered in one place so the view and its tests see the same decisions, and so the web layer
stays a thin template over them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from server.display.dsn import DeliveryReport, delivery_report
from server.display.flags import Badge, badges
from server.display.problems import Problem, explain
from server.display.source import is_outlook_msg
from server.mailview import MailView, parse_tree
from server.model import Message

_TAG = re.compile(r"<[^>]*>|&nbsp;|&#160;")


class EmptyBody(StrEnum):
    OUTLOOK_MSG = "outlook_msg"  # an OLE compound file (.msg) saved as .eml: no MIME at all
    ATTACHMENTS_ONLY = "attachments_only"  # no text, but attachments carry the content
    NOTHING = "nothing"  # the body decodes to nothing


@dataclass
class MessageNotes:
    badges: list[Badge] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    report: DeliveryReport | None = None
    empty: EmptyBody | None = None


def message_notes(message: Message, raw: bytes, mail: MailView) -> MessageNotes:
    report = delivery_report(parse_tree(raw), raw) if "bounce" in message.flags or b"delivery-status" in raw else None
    return MessageNotes(badges(message), explain(message.parse_errors), report, empty_body(raw, mail))


def empty_body(raw: bytes, mail: MailView) -> EmptyBody | None:
    """Why there is nothing to show as the body (None: there is)."""
    if is_outlook_msg(raw):
        return EmptyBody.OUTLOOK_MSG
    if mail.text.strip() or (mail.html and (_TAG.sub("", mail.html).strip() or "<img" in mail.html.lower())):
        return None
    return EmptyBody.ATTACHMENTS_ONLY if mail.attachments else EmptyBody.NOTHING
