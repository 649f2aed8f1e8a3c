"""Receiver settings from the environment / mailarchive.toml, and journal-address decoding."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest

from server.config import Config, ConfigError
from server.indexing.smtp import SmtpSettings, envelope_mailboxes, smtp_settings


def test_defaults_are_loopback_50mb_1000_recipients(config: Config) -> None:
    settings = smtp_settings(config, env={})
    assert (settings.bind, settings.port) == ("127.0.0.1", 2525)
    assert settings.allow_networks == SmtpSettings().allow_networks
    assert (settings.max_message_size, settings.max_recipients) == (50 * 1024 * 1024, 1000)
    assert settings.spool_dir == config.data_dir / "spool"
    assert settings.tls_cert is None and settings.auth_file is None


def test_environment_wins_over_toml(config: Config) -> None:
    config = replace(config, extra={"smtp_max_recipients": 10, "smtp_allow_networks": ["10.0.0.0/8"],
                                    "smtp_require_tls": True})
    settings = smtp_settings(config, env={"MAILARCHIVE_SMTP_MAX_RECIPIENTS": "20",
                                          "MAILARCHIVE_SMTP_JOURNAL_ADDRESSES": "Archive@Journal.example, x@y.example"})
    assert settings.max_recipients == 20
    assert settings.allow_networks == (ipaddress.ip_network("10.0.0.0/8"),)
    assert settings.require_tls is True
    assert settings.journal_addresses == ("archive@journal.example", "x@y.example")
    assert smtp_settings(config, env={"MAILARCHIVE_SMTP_ALLOW_NETWORKS": "none"}).allow_networks == ()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAILARCHIVE_SMTP_MAX_MESSAGE_SIZE": "50MB"}, "MAILARCHIVE_SMTP_MAX_MESSAGE_SIZE"),
        ({"MAILARCHIVE_SMTP_ALLOW_NETWORKS": "10.0.0.0/33"}, "MAILARCHIVE_SMTP_ALLOW_NETWORKS"),
        ({"MAILARCHIVE_SMTP_TLS_CERT": "/etc/cert.pem"}, "must be set together"),
    ],
)
def test_bad_values_name_the_variable(config: Config, env: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        smtp_settings(config, env=env)


def test_journal_addresses_dropped_and_tagged_form_decoded() -> None:
    journal = ("archive@journal.corp.example",)
    rcpts = ["Archive@journal.corp.example", "archive+Bob=corp.example@journal.corp.example", "carol@corp.example",
             "bob@corp.example", "other+x=y.example@journal.corp.example", "archive+notag@journal.corp.example"]
    assert envelope_mailboxes(rcpts, journal) == (
        "bob@corp.example", "carol@corp.example", "other+x=y.example@journal.corp.example",
        "archive+notag@journal.corp.example")
    assert envelope_mailboxes(rcpts[2:4], ()) == ("carol@corp.example", "bob@corp.example")
