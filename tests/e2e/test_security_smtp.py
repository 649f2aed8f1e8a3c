"""Hostile envelopes on the wire: control characters (NUL above all) in MAIL FROM / RCPT TO get a
501 and nothing reaches the spool; the clean transaction after them still works."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from server.config import Config, SmtpConfig
from server.indexing.spool import Spool
from tests.support.smtp import receiver_settings, spool_receiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(config: Config) -> SmtpConfig:
    return receiver_settings(config)


@pytest.fixture
def spool(config: Config, settings: SmtpConfig) -> Iterator[Spool]:
    with spool_receiver(config, settings) as spool:
        yield spool


@pytest.mark.parametrize("bad", ["al\x00ice@example.com", "alice@exa\x00mple.com", "bob\x01@example.com", "b\x7fob@example.com"])
def test_control_characters_in_envelope_addresses_get_501(settings: SmtpConfig, spool: Spool, bad: str) -> None:
    with smtplib.SMTP("127.0.0.1", settings.port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        code, text = smtp.docmd("MAIL", f"FROM:<{bad}>")
        assert code == 501 and b"sender" in text
        assert smtp.docmd("MAIL", "FROM:<alice@example.com>")[0] == 250
        code, text = smtp.docmd("RCPT", f"TO:<{bad}>")
        assert code == 501 and b"recipient" in text
        assert smtp.docmd("RCPT", "TO:<carol@example.com>")[0] == 250
        smtp.data(b"Subject: fine\r\n\r\nfine\r\n")
    [name] = spool.pending()
    kept = spool.load(name)
    assert (kept.envelope_from, kept.envelope_to) == ("alice@example.com", ("carol@example.com",))
