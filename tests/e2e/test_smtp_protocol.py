"""The journal receiver on the wire: real smtplib sessions against the real server and its spool.

What was acknowledged is read back from the spool, byte for byte: that is what the store receives.
"""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.config import Config, SmtpConfig
from server.indexing.spool import Spool, SpooledMessage
from tests.support.mail import make_mail
from tests.support.smtp import receiver_settings, spool_receiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(config: Config) -> SmtpConfig:
    return receiver_settings(config, max_message_size=20_000, max_recipients=5)


@pytest.fixture
def spool(config: Config, settings: SmtpConfig) -> Iterator[Spool]:
    with spool_receiver(config, settings) as spool:
        yield spool


@pytest.fixture
def client(settings: SmtpConfig, spool: Spool) -> Iterator[smtplib.SMTP]:
    with smtplib.SMTP("127.0.0.1", settings.port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        yield smtp


def spooled(spool: Spool) -> list[SpooledMessage]:
    return [spool.load(name) for name in spool.pending()]


def send_raw_data(client: smtplib.SMTP, wire: bytes) -> tuple[int, bytes]:
    """DATA with the bytes exactly as given (already dot-stuffed, terminator included)."""
    assert client.docmd("DATA")[0] == 354
    client.send(wire)
    return client.getreply()


def test_message_bytes_are_kept_exactly(client: smtplib.SMTP, spool: Spool) -> None:
    body = (
        b"Subject: exact\r\n\r\n"
        b".leading dot\r\n..two dots\r\n.\r\n"  # not an end: smtplib stuffs it
        b"bare LF\nline\n.dot after bare LF\n"
        b"bare CR\rin the middle\r\n"
        + b"long line " * 600 + b"\r\n"  # 6000 octets, longer than RFC 5321's 1000
        + "8-bit: caf\u00e9 \u4e2d\u6587\r\n".encode()
        + b"\xff\xfe not UTF-8 either\r\n"
    )
    refused = client.sendmail("alice@corp.example", ["bob@corp.example"], body, mail_options=["BODY=8BITMIME"])
    assert refused == {}
    [message] = spooled(spool)
    assert message.raw == body
    assert message.envelope_from == "alice@corp.example"
    assert message.envelope_to == ("bob@corp.example",)


def test_only_crlf_dot_crlf_ends_the_data(client: smtplib.SMTP, spool: Spool) -> None:
    """A bare-LF dot line must neither end the message nor let a second one be smuggled in."""
    client.mail("alice@corp.example")
    client.rcpt("bob@corp.example")
    wire = b"Subject: one\r\n\r\nfirst\n.\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<bob@corp.example>\r\n.\r\n"
    code, _ = send_raw_data(client, wire)
    assert code == 250
    [message] = spooled(spool)
    assert message.raw == b"Subject: one\r\n\r\nfirst\n\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<bob@corp.example>\r\n"


def test_reply_250_names_the_spooled_file(client: smtplib.SMTP, spool: Spool) -> None:
    client.mail("alice@corp.example")
    client.rcpt("bob@corp.example")
    code, text = send_raw_data(client, make_mail() + b".\r\n")
    assert code == 250 and text.startswith(b"2.0.0 OK: queued as ")
    assert spool.pending() == [text.decode().rsplit(" ", 1)[1] + ".msg"]


def test_smtputf8_envelope(client: smtplib.SMTP, spool: Spool) -> None:
    assert client.has_extn("smtputf8") and client.has_extn("8bitmime")
    raw = make_mail(sender="j\u00fcrgen@b\u00fcro.example", to=["\u674e\u96f7@\u516c\u53f8.example"])
    client.sendmail("j\u00fcrgen@b\u00fcro.example", ["\u674e\u96f7@\u516c\u53f8.example"], raw,
                    mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [message] = spooled(spool)
    assert message.envelope_from == "j\u00fcrgen@b\u00fcro.example"
    assert message.envelope_to == ("\u674e\u96f7@\u516c\u53f8.example",)
    assert message.raw == raw


def test_null_sender_of_bounces_is_accepted(client: smtplib.SMTP, spool: Spool) -> None:
    client.sendmail("<>", ["bob@corp.example"], make_mail(subject="Undelivered Mail Returned to Sender"))
    [message] = spooled(spool)
    assert message.envelope_from == ""


def test_size_is_advertised_and_enforced(client: smtplib.SMTP, spool: Spool, settings: SmtpConfig) -> None:
    assert int(client.esmtp_features["size"]) == settings.max_message_size
    assert client.docmd(f"MAIL FROM:<a@corp.example> SIZE={settings.max_message_size + 1}") == (
        552, b"5.3.4 Error: message size exceeds fixed maximum message size")
    assert client.docmd("MAIL FROM:<a@corp.example> SIZE=12x")[0] == 501
    # A client that declares nothing is refused after the data, and the session goes on.
    client.mail("a@corp.example")
    client.rcpt("bob@corp.example")
    code, text = send_raw_data(client, b"x" * 500 + b"\r\n" + (b"y" * 998 + b"\r\n") * 25 + b".\r\n")
    assert (code, text[:5]) == (552, b"5.3.4")
    assert spool.pending() == []
    assert client.sendmail("a@corp.example", ["bob@corp.example"], make_mail()) == {}
    assert len(spool.pending()) == 1


def test_too_many_recipients(client: smtplib.SMTP, spool: Spool) -> None:
    recipients = [f"user{i}@corp.example" for i in range(7)]
    refused = client.sendmail("alice@corp.example", recipients, make_mail())
    assert refused == {r: (452, b"4.5.3 Error: too many recipients") for r in recipients[5:]}
    [message] = spooled(spool)
    assert message.envelope_to == tuple(recipients[:5])


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        (["RCPT TO:<bob@corp.example>"], 503),  # no MAIL
        (["DATA"], 503),  # no RCPT
        (["MAIL FROM:<a@corp.example>", "MAIL FROM:<a@corp.example>"], 503),  # nested MAIL
        (["MAIL FROM:<a@corp.example>", "DATA"], 503),  # no RCPT
        (["MAIL FROM:<a@corp.example>", "RCPT TO:<bob@corp.example>", "DATA now"], 501),
        (["MAIL FROM:<a@@corp.example>"], 553),
        (["MAIL FROM: <not an address"], 501),
        (["MAIL FROM:<a@corp.example>", "RCPT TO:<nodomain>"], 501),
        (["MAIL TO:<a@corp.example>"], 501),
        (["MAIL FROM:<a@corp.example> FOO=BAR"], 555),
        (["HELO"], 501),
        (["XYZZY"], 500),
        (["MAIL FROM:<" + "a" * 600 + "@corp.example>"], 500),  # command line too long
    ],
)
def test_broken_commands_get_rfc_replies(
    client: smtplib.SMTP, spool: Spool, commands: list[str], expected: int
) -> None:
    *setup, last = commands
    for command in setup:
        assert client.docmd(command)[0] == 250
    assert client.docmd(last)[0] == expected
    client.rset()
    assert client.sendmail("a@corp.example", ["bob@corp.example"], make_mail()) == {}
    assert len(spool.pending()) == 1


def test_mail_before_helo_is_refused(settings: SmtpConfig, spool: Spool) -> None:
    with smtplib.SMTP("127.0.0.1", settings.port, timeout=10) as smtp:
        assert smtp.docmd("MAIL FROM:<a@corp.example>")[0] == 503


def test_connection_dropped_during_data_is_not_acknowledged(settings: SmtpConfig, spool: Spool) -> None:
    with socket.create_connection(("127.0.0.1", settings.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        for command in (b"EHLO x", b"MAIL FROM:<a@corp.example>", b"RCPT TO:<b@corp.example>", b"DATA"):
            sock.sendall(command + b"\r\n")
            while reader.readline()[3:4] == b"-":
                pass
        sock.sendall(b"Subject: half\r\n\r\nhalf a message\r\n")
    with smtplib.SMTP("127.0.0.1", settings.port, timeout=10) as smtp:  # the server is still fine
        assert smtp.noop()[0] == 250
    assert spool.pending() == []


def test_client_outside_allowed_networks_is_refused(config: Config, tmp_path: Path) -> None:
    import ipaddress

    settings = receiver_settings(config, allow_networks=(ipaddress.ip_network("10.0.0.0/8"),))
    with spool_receiver(config, settings) as spool, smtplib.SMTP("127.0.0.1", settings.port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        assert smtp.docmd("MAIL FROM:<a@corp.example>") == (
            550, b"5.7.1 Error: client 127.0.0.1 is not allowed to send journal mail")
        assert spool.pending() == []
