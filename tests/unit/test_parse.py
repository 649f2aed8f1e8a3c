"""parse(): fields, charsets, bodies, attachments, dates, and never raising on broken input."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from server.indexing.mime import attachment_payload
from server.indexing.parse import attachment_names, parse
from tests.support.mail import make_mail, nested


def b64word(text: str, charset: str, label: str | None = None) -> str:
    return f"=?{label or charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def raw_mail(headers: str, body: bytes = b"body\n") -> bytes:
    return headers.strip().replace("\n", "\r\n").encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body


def test_basic_fields_are_read_and_addresses_lower_cased():
    raw = make_mail(subject="Quarterly report", sender="Alice Example <Alice@Corp.Example>",
                    to=["Bob@Corp.example", "carol@partner.example"], cc=["Dave <DAVE@corp.example>"],
                    message_id="<abc@mail.test>")
    mail = parse(raw)
    assert (mail.subject, mail.sender, mail.sender_name) == ("Quarterly report", "alice@corp.example", "Alice Example")
    assert mail.to == ["bob@corp.example", "carol@partner.example"]
    assert mail.cc == ["dave@corp.example"]
    assert mail.message_id == "<abc@mail.test>"
    assert mail.sha256 == hashlib.sha256(raw).hexdigest() and mail.size == len(raw)
    assert mail.date == datetime(2024, 3, 14, 9, 26, 53, tzinfo=UTC)
    assert mail.parse_errors == []


@pytest.mark.parametrize(
    ("text", "charset", "label"),
    [
        ("合同审批 镕", "gb18030", "gb2312"),  # GBK-only character under a GB2312 label
        ("年度預算 報告", "big5", "big5"),
        ("日本語の件名", "iso2022_jp", "iso-2022-jp"),
        ("Größe café", "utf-8", "utf-8"),
        ("Résumé reçu", "latin-1", "iso-8859-1"),
        ("GB18030 測試 𠀀", "gb18030", "gb18030"),
    ],
)
def test_encoded_word_subjects_decode_in_any_charset(text, charset, label):
    mail = parse(raw_mail(f"From: a@x.example\nSubject: {b64word(text, charset, label)}\n"))
    assert mail.subject == text
    assert mail.parse_errors == []


def test_raw_utf8_headers_decode_as_utf8_first_without_a_note():
    """RFC 6532: raw UTF-8 in headers is allowed (SMTPUTF8), so it is not a guess."""
    mail = parse("From: 王小明 <wang@corp.example>\r\nSubject: 季度报告 Größe\r\n\r\nbody\r\n".encode())
    assert (mail.subject, mail.sender_name, mail.parse_errors) == ("季度报告 Größe", "王小明", [])


@pytest.mark.parametrize(
    ("subject", "codec", "declared", "read_as"),
    [
        ("季度报告", "gb18030", "", "gb18030"),  # undeclared: GB18030 when it reads as Chinese
        ("Größe und Maße", "latin-1", "", "cp1252"),  # undeclared Latin-1 is not taken for GBK
        ("Informações da reunião", "latin-1", "", "cp1252"),  # "çõ" is a valid GB2312 pair; still Latin-1
        ("季度報告", "big5", "big5", "big5hkscs"),  # declared by the body part: that charset first
        ("Réunion générale", "latin-1", "iso-8859-1", "cp1252"),
    ],
)
def test_undeclared_8bit_headers_fall_back_in_the_documented_order(subject, codec, declared, read_as):
    content_type = f"Content-Type: text/plain; charset={declared}\r\n" if declared else ""
    raw = b"From: a@x.example\r\nSubject: " + subject.encode(codec) + b"\r\n" + content_type.encode() + b"\r\nbody\r\n"
    mail = parse(raw)
    assert mail.subject == subject
    assert mail.parse_errors == [f"header subject: undeclared 8-bit bytes, read as {read_as} (guessed)"]


def test_raw_utf8_attachment_names_are_kept():
    """What Postfix relays from ``swaks --attach-name 合同草案.pdf`` with SMTPUTF8: a raw UTF-8 name."""
    raw = ("From: a@x.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
           "--XX\r\nContent-Type: text/plain\r\n\r\nsee the draft\r\n--XX\r\n"
           'Content-Type: application/pdf; name="合同草案.pdf"\r\n'
           'Content-Disposition: attachment; filename="合同草案.pdf"\r\n'
           "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n").encode()
    mail = parse(raw)
    assert attachment_names(mail) == ["合同草案.pdf"] and mail.parse_errors == []
    assert attachment_payload(raw, 0)[0].name == "合同草案.pdf"
    gbk = raw.replace("合同草案".encode(), "合同草案".encode("gb18030"))
    mail = parse(gbk)
    assert attachment_names(mail) == ["合同草案.pdf"]
    assert mail.parse_errors == ["attachment name '合同草案.pdf': undeclared 8-bit bytes, read as gb18030 (guessed)"]


def test_display_names_decoded_after_address_split():
    name = b64word("王, 小明", "utf-8")
    mail = parse(raw_mail(f'From: {name} <wang@corp.example>\nTo: "Li, Lei" <li@corp.example>, x@y.example\n'))
    assert mail.sender_name == "王, 小明" and mail.sender == "wang@corp.example"
    assert mail.to == ["li@corp.example", "x@y.example"]


def test_plain_text_is_preferred_and_html_is_stripped_when_alone():
    both = parse(make_mail(body="plain words here", html="<p>html words</p>"))
    assert "plain words here" in both.body_text and "html" not in both.body_text
    raw = raw_mail("From: a@x.example\nContent-Type: text/html; charset=utf-8",
                   b"<html><head><style>p{color:red}</style></head><body><p>Hello&nbsp;<b>world</b></p>"
                   b"<script>var x=1;</script><p>second &amp; last</p></body></html>")
    text = parse(raw).body_text
    assert "Hello" in text and "world" in text and "second & last" in text
    assert "<" not in text and "color" not in text and "var x" not in text


def test_attachments_with_encoded_names_in_several_charsets():
    raw = make_mail(attachments=[("报价单.xlsx", b"PK\x03\x04data", "application/vnd.ms-excel"),
                                 ("notes.txt", b"some notes", "text/plain")])
    mail = parse(raw)
    assert attachment_names(mail) == ["报价单.xlsx", "notes.txt"]
    first = mail.attachments[0]
    assert (first.type, first.size, first.sha256) == ("application/vnd.ms-excel", 8, hashlib.sha256(b"PK\x03\x04data").hexdigest())
    assert "some notes" not in mail.body_text  # an attached text file is not the body
    attachment, payload = attachment_payload(raw, 1)
    assert attachment.name == "notes.txt" and payload == b"some notes"
    assert attachment_payload(raw, 2) is None


def test_rfc2231_and_rfc2047_file_names_with_mislabelled_charsets():
    gbk = "".join(f"%{b:02X}" for b in "合同镕.doc".encode("gbk"))
    big5_word = b64word("報價.pdf", "big5")
    body = (
        "--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        f"--B\r\nContent-Type: application/msword\r\nContent-Disposition: attachment; filename*=gb2312''{gbk}\r\n\r\nxx\r\n"
        f'--B\r\nContent-Type: application/pdf; name="{big5_word}"\r\nContent-Disposition: attachment\r\n\r\nyy\r\n--B--\r\n'
    ).encode()
    mail = parse(raw_mail("From: a@x.example\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B", body))
    assert attachment_names(mail) == ["合同镕.doc", "報價.pdf"]


def test_nested_message_attachment_names_are_searchable():
    inner = make_mail(subject="Original contract", attachments=[("contract-v2.pdf", b"%PDF-1.4", "application/pdf")])
    mail = parse(nested("Fwd: contract", inner, name="original.eml"))
    assert attachment_names(mail) == ["original.eml", "contract-v2.pdf"]
    assert mail.attachments[0].type == "message/rfc822"
    assert "Forwarding" in mail.body_text


@pytest.mark.parametrize("subject", ["Budget 2024", "预算 2024 年度"])
def test_unnamed_nested_message_is_named_after_its_subject(subject):
    raw = nested("Fwd", make_mail(subject=subject), name="")
    assert attachment_names(parse(raw))[0] == f"{subject}.eml"


@pytest.mark.parametrize(
    ("date_header", "expected", "error"),
    [
        ("Date: Thu, 14 Mar 2024 17:26:53 +0800\n", datetime(2024, 3, 14, 9, 26, 53, tzinfo=UTC), False),
        ("", None, False),  # missing: arrival time, not an error (nothing was lost)
        ("Date: the day after tomorrow\n", None, True),  # present but unreadable: recorded
    ],
)
def test_date_in_utc_missing_or_unreadable(date_header, expected, error):
    mail = parse(raw_mail(f"From: a@x.example\n{date_header}Subject: s\n"))
    assert mail.date == expected
    assert any(e.startswith("date:") for e in mail.parse_errors) == error


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"Subject: =?unknown-charset?B?////?=\r\nFrom: <<<>>>@@\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n",
        b"From: " + b"(" * 5000 + b"a@b.c\r\n\r\n",
        b"Subject: " + b"a" * 200_000 + b"\r\n\r\nbody",
        b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(3000)),
    ],
)
def test_broken_input_never_raises(raw):
    mail = parse(raw)
    assert mail.sha256 == hashlib.sha256(raw).hexdigest()
    assert mail.id


def test_content_types_and_report_type_are_recorded():
    body = (
        b"--R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
        b"Final-Recipient: rfc822; nobody@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n--R--\r\n"
    )
    mail = parse(raw_mail("From: MAILER-DAEMON@mx.example\nContent-Type: multipart/report; report-type=delivery-status; boundary=R", body))
    assert mail.report_type == "delivery-status"
    assert "message/delivery-status" in mail.content_types
    assert mail.body_text == "Your message could not be delivered."


@pytest.mark.corpus
def test_files_inside_winmail_dat_are_listed(corpus_dir):
    mail = parse((corpus_dir / "mailcore2/summary/1808-winmail-dat.eml").read_bytes())
    assert attachment_names(mail) == ["winmail.dat", "GIR - LINUX.doc"]
