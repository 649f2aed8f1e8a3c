"""Build real RFC 5322 messages for tests, so no test depends on hand-written MIME text.

    raw = make_mail(subject="Quarterly report", sender="alice@corp.example", to=["bob@corp.example"],
                    body="see attached", attachments=[("report.pdf", b"%PDF...", "application/pdf")])

Every argument has a default; the result is ``bytes`` with CRLF line endings, as SMTP delivers them.
Non-ASCII subjects, names and attachment names are encoded (RFC 2047 / RFC 2231) in ``charset``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

SMTP = policy.SMTP.clone(max_line_length=78)
_counter = itertools.count(1)
DEFAULT_DATE = datetime(2024, 3, 14, 9, 26, 53, tzinfo=UTC)


def make_mail(
    *,
    subject: str = "Test message",
    sender: str = "alice@corp.example",
    to: Sequence[str] = ("bob@corp.example",),
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    body: str = "Hello,\nthis is a test message.\n",
    html: str | None = None,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    headers: Mapping[str, str] | None = None,
    date: datetime | None = DEFAULT_DATE,
    message_id: str | None = None,
    charset: str = "utf-8",
) -> bytes:
    """A message; ``message_id=None`` generates a unique one, ``""`` leaves the header out, as does ``date=None``.

    ``headers`` are added after the standard ones (trace headers such as Received go first, as relays
    prepend them). ``attachments`` are ``(file name, payload, "type/subtype")``.
    """
    msg = EmailMessage(policy=SMTP)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg["From"] = sender
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if bcc:
        msg["Bcc"] = ", ".join(bcc)
    msg["Subject"] = subject
    if date is not None:
        msg["Date"] = format_datetime(date)
    if message_id is None:
        message_id = f"<test-{next(_counter)}-{id(msg):x}@mail.test>"
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body, charset=charset)
    if html is not None:
        msg.add_alternative(html, subtype="html", charset=charset)
    for name, payload, ctype in attachments:
        maintype, _, subtype = ctype.partition("/")
        if maintype == "message":
            msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename=name)
            part = msg.get_payload()[-1]
            part.replace_header("Content-Type", ctype)
        else:
            msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def with_trace(raw: bytes, *, rcpt: str, relay: str = "mx1.corp.example") -> bytes:
    """The copy of ``raw`` a relay delivers to ``rcpt``: trace headers prepended, content untouched."""
    trace = (
        f"Return-Path: <bounce@{relay}>\r\n"
        f"Delivered-To: {rcpt}\r\n"
        f"X-Original-To: {rcpt}\r\n"
        f"Received: from {relay} by store.corp.example with LMTP id {abs(hash(rcpt)) % 10**8} for <{rcpt}>;"
        " Thu, 14 Mar 2024 09:27:00 +0000\r\n"
    )
    return trace.encode() + raw


def nested(outer_subject: str, inner: bytes, *, name: str = "forwarded.eml", **kw) -> bytes:  # noqa: ANN003
    """A message carrying ``inner`` as a message/rfc822 attachment (forward as attachment)."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = kw.pop("sender", "carol@corp.example")
    msg["To"] = ", ".join(kw.pop("to", ["dave@corp.example"]))
    msg["Subject"] = outer_subject
    msg["Date"] = format_datetime(kw.pop("date", DEFAULT_DATE))
    msg["Message-ID"] = f"<nested-{next(_counter)}@mail.test>"
    msg.set_content(kw.pop("body", "Forwarding the message below.\n"))
    from email import message_from_bytes

    msg.add_attachment(message_from_bytes(inner, policy=SMTP), filename=name)
    return msg.as_bytes()


def mbox_of(messages: Sequence[bytes]) -> bytes:
    """An mboxrd file holding ``messages`` (``From `` lines in bodies quoted as ``>From ``)."""
    out = bytearray()
    for raw in messages:
        out += b"From MAILER-DAEMON Thu Mar 14 09:26:53 2024\n"
        text = raw.replace(b"\r\n", b"\n")
        for line in (text[:-1] if text.endswith(b"\n") else text).split(b"\n"):
            if line.lstrip(b">").startswith(b"From "):
                line = b">" + line
            out += line + b"\n"
        out += b"\n"
    return bytes(out)
