"""A bounce's delivery status in a few readable fields (RFC 3464 ``message/delivery-status``, RFC
6533 ``message/global-delivery-status``) plus the subject and recipients of the returned message
(``message/rfc822`` or ``text/rfc822-headers``).

An investigator asks of a bounce: which message, to whom, what happened, and what the far side
said. Mail clients hide the report part; here it is read field by field. Bounces without a
machine-readable report (many daemons write prose only) give ``None``: the view then shows the
body as it is.
"""

from __future__ import annotations

import email.message
import email.parser
import re
from dataclasses import dataclass, field

from server.indexing.charsets import MessageCharsets, decode_bytes, decode_header

_REPORT_TYPES = ("message/delivery-status", "message/global-delivery-status")
_RETURNED_MESSAGE = ("message/rfc822", "message/global")
_RETURNED_HEADERS = ("text/rfc822-headers", "message/global-headers")
_ADDRESS_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")  # rfc822, dns, smtp, x-postfix...
MAX_RECIPIENTS = 50  # a report about more is summarised by its first 50
ACTIONS = {  # RFC 3464 §2.3.3, as the console words them (catalog keys)
    "failed": "Failed",
    "delayed": "Delayed (still being retried)",
    "delivered": "Delivered",
    "relayed": "Relayed",
    "expanded": "Expanded (delivered to a list)",
}
# RFC 3463 status classes and the common subjects/details, enough to say what a code means.
_CLASSES = {"2": "Success", "4": "Temporary failure", "5": "Permanent failure"}
_DETAILS = {
    "1.0": "Address problem", "1.1": "Bad destination mailbox address", "1.2": "Bad destination system address",
    "1.3": "Bad destination mailbox address syntax", "1.6": "Destination mailbox has moved",
    "1.10": "Recipient address has a null MX", "2.0": "Mailbox problem", "2.1": "Mailbox disabled",
    "2.2": "Mailbox full", "2.3": "Message too large for the mailbox", "3.0": "Mail system problem",
    "3.4": "Message too big for the system", "4.0": "Network or routing problem", "4.1": "No answer from host",
    "4.2": "Bad connection", "4.3": "Directory server failure", "4.4": "Unable to route",
    "4.7": "Delivery time expired", "5.0": "Protocol problem", "6.0": "Content problem",
    "7.0": "Security or policy problem", "7.1": "Delivery not authorized, message refused",
    "7.26": "Multiple authentication checks failed",
}  # fmt: skip


@dataclass
class RecipientStatus:
    final_recipient: str = ""
    original_recipient: str = ""
    action: str = ""  # lower-case RFC 3464 value
    status: str = ""  # e.g. 5.1.1
    diagnostic_code: str = ""
    remote_mta: str = ""

    @property
    def action_label(self) -> str:
        return ACTIONS.get(self.action, self.action)

    @property
    def status_meaning(self) -> str:
        """``Permanent failure: Bad destination mailbox address`` for 5.1.1 ("" when unknown)."""
        parts = self.status.split(".")
        if len(parts) != 3 or parts[0] not in _CLASSES:
            return ""
        detail = _DETAILS.get(f"{parts[1]}.{parts[2]}") or _DETAILS.get(f"{parts[1]}.0", "")
        return f"{_CLASSES[parts[0]]}: {detail}" if detail else _CLASSES[parts[0]]


@dataclass
class DeliveryReport:
    reporting_mta: str = ""
    arrival_date: str = ""
    recipients: list[RecipientStatus] = field(default_factory=list)
    original_subject: str = ""
    original_to: str = ""
    original_from: str = ""
    original_date: str = ""
    original_message_id: str = ""


def delivery_report(tree: email.message.Message, raw: bytes) -> DeliveryReport | None:
    """The first delivery-status report in ``tree`` with its returned message, or None."""
    charsets = MessageCharsets(raw)
    report: DeliveryReport | None = None
    returned: email.message.Message | None = None
    for part in tree.walk():
        ctype = part.get_content_type()
        if ctype in _REPORT_TYPES and report is None:
            report = _read_report(_field_blocks(part))
        elif ctype in _RETURNED_MESSAGE and returned is None:
            inner = part.get_payload()
            returned = inner[0] if isinstance(inner, list) and inner else None
        elif ctype in _RETURNED_HEADERS and returned is None:
            returned = email.parser.HeaderParser().parsestr(_text(part))
    if report is None:
        return None
    if returned is not None:
        value = lambda name: _clean(returned.get(name, ""), charsets)  # noqa: E731
        report.original_subject, report.original_to = value("subject"), value("to")
        report.original_from, report.original_date = value("from"), value("date")
        report.original_message_id = value("message-id")
    return report


def _text(part: email.message.Message) -> str:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return decode_bytes(data, part.get_content_charset())[0]
    payload = part.get_payload()
    return payload if isinstance(payload, str) else ""


def _field_blocks(part: email.message.Message) -> list[email.message.Message]:
    """The report's field groups: the stdlib parses message/delivery-status into a list of them;
    other report types (and parsers) leave text, split here on blank lines."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, email.message.Message)]
    blocks = _text(part).replace("\r\n", "\n").split("\n\n")
    parser = email.parser.HeaderParser()
    return [parser.parsestr(block.strip() + "\n") for block in blocks if block.strip()]


def _read_report(blocks: list[email.message.Message]) -> DeliveryReport:
    report = DeliveryReport()
    if not blocks:
        return report
    first = blocks[0]
    report.reporting_mta = _typed(first.get("reporting-mta", ""))
    report.arrival_date = _unfold(first.get("arrival-date", ""))
    for block in blocks[1 : 1 + MAX_RECIPIENTS]:
        if not any(block.get(name) for name in ("final-recipient", "action", "status")):
            continue
        report.recipients.append(RecipientStatus(
            final_recipient=_typed(block.get("final-recipient", "")).strip("<>"),
            original_recipient=_typed(block.get("original-recipient", "")),
            action=_unfold(block.get("action", "")).lower(),
            status=_unfold(block.get("status", "")).split(" ")[0],
            diagnostic_code=_typed(block.get("diagnostic-code", "")),
            remote_mta=_typed(block.get("remote-mta", "")),
        ))  # fmt: skip
    return report


def _unfold(value: object) -> str:
    return " ".join(str(value or "").split())


def _typed(value: object) -> str:
    """``rfc822; bob@example.com`` -> ``bob@example.com``: the type prefix says nothing to a reader."""
    text = _unfold(value)
    kind, sep, rest = text.partition(";")
    return rest.strip() if sep and _ADDRESS_TYPE.match(kind.strip()) else text


def _clean(value: object, charsets: MessageCharsets) -> str:
    return decode_header(_unfold(value), charsets)[0].strip()
