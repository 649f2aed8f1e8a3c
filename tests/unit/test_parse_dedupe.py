"""The dedupe key: copies that differ only on the way are one message; anything else is a different one."""

from __future__ import annotations

import re
from pathlib import Path

from server.indexing.dedupe import PER_COPY, message_key
from server.indexing.parse import parse
from tests.support.mail import make_mail, with_trace

RAW = make_mail(subject="Board minutes", to=["board@corp.example"], body="Minutes attached.\n", message_id="<bm@corp>")


def key(raw: bytes) -> str:
    return parse(raw).id


def test_id_is_url_safe_stable_and_derived_from_message_id_and_content():
    assert re.fullmatch(r"[a-z2-7]{32}", key(RAW))
    assert key(RAW) == key(RAW) == message_key(RAW, "<bm@corp>")
    assert message_key(RAW, "<other@corp>") != key(RAW)


def test_trace_fields_line_endings_and_mailbox_state_do_not_matter():
    copies = [
        with_trace(RAW, rcpt="ann@corp.example"),
        with_trace(with_trace(RAW, rcpt="ben@corp.example", relay="mx2"), rcpt="ben@corp.example", relay="mx3"),
        RAW.replace(b"\r\n", b"\n"),
        b"X-Envelope-From: <x@y>\r\nDKIM-Signature: v=1; a=rsa-sha256;\r\n\tb=abc\r\nARC-Seal: i=1\r\n" + RAW,
        RAW.replace(b"Subject:", b"Status: RO\r\nX-Mozilla-Status: 0001\r\nX-UID: 77\r\nSubject:"),
        RAW.replace(b"Subject:", b"Bcc: secret@corp.example\r\nSubject:"),  # the sender's copy
        RAW + b"\r\n",
    ]
    assert {key(c) for c in copies} == {key(RAW)}


def test_any_content_difference_makes_another_message():
    variants = [
        RAW.replace(b"Minutes attached.", b"Minutes attached!"),
        RAW.replace(b"Board minutes", b"Board Minutes"),
        RAW.replace(b"To: board@corp.example", b"To: board@corp.example, ceo@corp.example"),
        RAW.replace(b"<bm@corp>", b"<bm2@corp>"),
        RAW.replace(b"Subject:", b"X-Priority: 1\r\nSubject:"),
    ]
    keys = [key(v) for v in variants]
    assert len(set(keys)) == len(variants) and key(RAW) not in keys


def test_without_message_id_the_content_decides():
    one = make_mail(subject="No id", message_id="", body="same\n")
    other = make_mail(subject="No id", message_id="", body="different\n")
    assert key(one) == key(with_trace(one, rcpt="x@corp.example")) != key(other)


def test_gmail_takeout_exchange_and_scanner_fields_are_per_copy():
    """Two users' Takeout copies, two Exchange mailboxes' copies, a scanned and an unscanned copy: one message."""
    def copy(*fields: str) -> bytes:
        return "".join(f"{f}\r\n" for f in fields).encode() + RAW

    copies = [
        copy("X-GM-THRID: 1790000000000000001", "X-Gmail-Labels: Inbox,Important,Opened"),
        copy("X-GM-THRID: 1790000000000000777", "X-Gmail-Labels: Archived,Category Updates"),
        copy("X-MS-Exchange-Organization-SCL: -1", "X-MS-Has-Attach: ", "X-MS-TNEF-Correlator: ",
             "X-Microsoft-Antispam: BCL:0;", "X-Forefront-Antispam-Report: CIP:255.255.255.255;"),
        copy("X-MS-Exchange-Inbox-Rules-Loop: ann@corp.example", "X-Forwarded-To: ann@home.example"),
        copy("X-Spam-Status: No, score=-1.0", "X-Spam-Flag: NO", "X-Virus-Scanned: amavisd-new",
             "X-Amavis-Alert: none"),
        copy("X-Spam: yes", "X-Spam-Level: *****", "X-Spam-Flag: YES"),
    ]
    assert {key(c) for c in copies} == {key(RAW)}


def test_the_documented_per_copy_list_is_the_one_the_key_uses():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ingestion.md").read_text()
    missing = [name for names in PER_COPY.values() for name in names.split() if f"`{name}`" not in doc.lower()]
    assert missing == [], f"docs/ingestion.md does not list {missing}"
