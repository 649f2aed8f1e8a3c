"""Receiver settings (the ``[smtp]`` section) from the environment / mailarchive.toml, and journal-address decoding."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from server.config import Config, ConfigError, load_config
from server.indexing.smtp import envelope_mailboxes


def test_defaults_are_loopback_50mb_1000_recipients(config: Config) -> None:
    smtp = config.smtp
    assert (smtp.bind, smtp.port) == ("127.0.0.1", 2525)
    assert smtp.allow_networks == (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    assert (smtp.max_message_size, smtp.max_recipients) == (50 * 1024 * 1024, 1000)
    assert config.spool_dir == config.data_dir / "spool"
    assert smtp.tls_cert is None and smtp.auth_file is None


def test_environment_wins_over_toml(tmp_path: Path) -> None:
    toml = tmp_path / "mailarchive.toml"
    toml.write_text('[smtp]\nmax_recipients = 10\nallow_networks = ["10.0.0.0/8"]\nrequire_tls = true\n')
    env = {"MAILARCHIVE_CONFIG": str(toml), "MAILARCHIVE_SMTP_MAX_RECIPIENTS": "20",
           "MAILARCHIVE_SMTP_JOURNAL_ADDRESSES": "Archive@Journal.example, x@y.example"}
    smtp = load_config(env).smtp
    assert smtp.max_recipients == 20
    assert smtp.allow_networks == (ipaddress.ip_network("10.0.0.0/8"),)
    assert smtp.require_tls is True
    assert smtp.journal_addresses == ("archive@journal.example", "x@y.example")
    assert load_config({**env, "MAILARCHIVE_SMTP_ALLOW_NETWORKS": "none"}).smtp.allow_networks == ()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAILARCHIVE_SMTP_MAX_MESSAGE_SIZE": "50MB"}, "MAILARCHIVE_SMTP_MAX_MESSAGE_SIZE"),
        ({"MAILARCHIVE_SMTP_ALLOW_NETWORKS": "10.0.0.0/33"}, "MAILARCHIVE_SMTP_ALLOW_NETWORKS"),
        ({"MAILARCHIVE_SMTP_TLS_CERT": "/etc/cert.pem"}, "must be set together"),
    ],
)
def test_bad_values_name_the_variable(env: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({"MAILARCHIVE_CONFIG": "none", **env})


def test_journal_addresses_dropped_and_tagged_form_decoded() -> None:
    journal = ("archive@journal.corp.example",)
    rcpts = ["Archive@journal.corp.example", "archive+Bob=corp.example@journal.corp.example", "carol@corp.example",
             "bob@corp.example", "other+x=y.example@journal.corp.example", "archive+notag@journal.corp.example"]
    assert envelope_mailboxes(rcpts, journal) == (
        "bob@corp.example", "carol@corp.example", "other+x=y.example@journal.corp.example",
        "archive+notag@journal.corp.example")
    assert envelope_mailboxes(rcpts[2:4], ()) == ("carol@corp.example", "bob@corp.example")
