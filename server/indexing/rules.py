"""Archiving rules of DESIGN.md §4 that look at one message: monitoring copies and flags.

Monitoring copies (rule 4) are not archived. Auto-replies, auto-forwards, spam (rule 5), system
notifications and bounces (rule 7) are archived and flagged, so they can be found or filtered out.
A bounce is a system notification too, so it carries both flags.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Sequence

from server.archiving import ArchiveSettings
from server.indexing.parse import ParsedMail
from server.model import Flag

_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?reply|autoreply|out of (the )?office|abwesenheitsnotiz|自动回复|自動回覆|自動応答)\b", re.I
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliverable|undelivered mail|delivery status notification \(failure\)|mail delivery failed"
    r"|returned mail|delivery failure|failure notice|退信|未能送达)", re.I
)
_DAEMONS = ("mailer-daemon@", "postmaster@", "mail-daemon@")
_SPAM_SUBJECT = re.compile(r"^\s*(\[spam\]|\*{3}\s*spam\s*\*{3}|\{spam\})", re.I)
_REPORTS = {"delivery-status": Flag.BOUNCE, "disposition-notification": Flag.SYSTEM, "feedback-report": Flag.SYSTEM}


def _values(mail: ParsedMail, name: str) -> list[str]:
    return [v.lower() for v in mail.headers.get(name, [])]


def _first(mail: ParsedMail, name: str) -> str:
    values = _values(mail, name)
    return values[0].strip() if values else ""


def is_monitoring_copy(mail: ParsedMail, envelope_to: Sequence[str], settings: ArchiveSettings, *,
                       journaled: bool) -> bool:
    """A copy made for a monitoring mailbox: addressed only to monitoring addresses, or marked.

    With a known envelope, every envelope recipient must be a monitoring address; without one (an
    import), the delivery fields (Delivered-To, X-Original-To) or else the To/Cc fields decide.
    The marker header is the company MTA's word, so it counts only when configured with a secret
    value, and only on journaled mail (``journaled``: it came through the SMTP receiver, which takes
    mail only from its allowed networks or authenticated clients): otherwise any sender could keep
    mail out of the archive.
    """
    if journaled and has_monitoring_marker(mail, settings):
        return True
    monitors = set(settings.monitoring_addresses)
    if not monitors:
        return False
    delivered = [*_values(mail, "delivered-to"), *_values(mail, "x-original-to")]
    for candidates in (envelope_to, delivered, [*mail.to, *mail.cc]):
        addresses = {a.strip().strip("<>").lower() for a in candidates if a.strip()}
        if addresses:
            return addresses <= monitors
    return False


def has_monitoring_marker(mail: ParsedMail, settings: ArchiveSettings) -> bool:
    """The configured marker header carrying the configured secret (compared in constant time)."""
    if not (settings.monitoring_header and settings.monitoring_secret):
        return False
    secret = settings.monitoring_secret.encode()
    values = mail.headers.get(settings.monitoring_header.lower(), [])
    return any(hmac.compare_digest(value.strip().encode("utf-8", "replace"), secret) for value in values)


def flags(mail: ParsedMail) -> list[str]:
    found: set[str] = set()
    found.update(_auto_flags(mail))
    if _is_spam(mail):
        found.add(Flag.SPAM)
    found.update(_system_flags(mail))
    if Flag.BOUNCE in found:
        found.add(Flag.SYSTEM)
    return sorted(found)


def _auto_flags(mail: ParsedMail) -> Iterable[str]:
    auto = _first(mail, "auto-submitted")
    precedence = _first(mail, "precedence")
    if auto.startswith("auto-replied") or precedence == "auto_reply":
        yield Flag.AUTO_REPLY
    if any(h in mail.headers for h in ("x-autoreply", "x-autorespond", "x-auto-reply")):
        yield Flag.AUTO_REPLY
    if _AUTO_REPLY_SUBJECT.match(mail.subject):
        yield Flag.AUTO_REPLY
    if auto.startswith("auto-forwarded") or _first(mail, "x-autoforwarded") in ("true", "yes"):
        yield Flag.AUTO_FORWARD
    if any(h in mail.headers for h in ("x-ms-exchange-inbox-rules-loop", "x-forwarded-to", "x-forwarded-for")):
        yield Flag.AUTO_FORWARD
    if auto.startswith(("auto-generated", "auto-notified")):
        yield Flag.SYSTEM


def _is_spam(mail: ParsedMail) -> bool:
    if _first(mail, "x-spam-flag").startswith("yes") or _first(mail, "x-spam-status").startswith("yes"):
        return True
    if _first(mail, "x-spam") in ("yes", "true", "spam") or _first(mail, "x-ms-exchange-organization-scl") in (
        "5", "6", "7", "8", "9",
    ):
        return True
    return bool(_SPAM_SUBJECT.match(mail.subject))


def _system_flags(mail: ParsedMail) -> Iterable[str]:
    if mail.report_type in _REPORTS:
        yield _REPORTS[mail.report_type]
    if "message/delivery-status" in mail.content_types or "message/global-delivery-status" in mail.content_types:
        yield Flag.BOUNCE
    if "message/disposition-notification" in mail.content_types:
        yield Flag.SYSTEM
    from_daemon = mail.sender.startswith(_DAEMONS) or mail.sender in ("mailer-daemon", "postmaster")
    if from_daemon:
        yield Flag.BOUNCE if _BOUNCE_SUBJECT.match(mail.subject) else Flag.SYSTEM
    elif _BOUNCE_SUBJECT.match(mail.subject) and _first(mail, "return-path") in ("<>", ""):
        yield Flag.BOUNCE
