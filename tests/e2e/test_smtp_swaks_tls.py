"""Other real clients and the optional security features: swaks (Debian package), STARTTLS, SMTP AUTH."""

from __future__ import annotations

import shutil
import smtplib
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from server.config import Config, SmtpConfig
from server.indexing.spool import Spool
from tests.support.mail import make_mail
from tests.support.smtp import receiver_settings, self_signed_cert, spool_receiver

pytestmark = pytest.mark.e2e

PASSWORD = "journal-secret"


def swaks(settings: SmtpConfig, *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("swaks") is None:
        pytest.skip("swaks not installed (make test installs it: Debian package swaks)")
    return subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(settings.port), "--helo", "mta.corp.example",
         "--timeout", "20", *args],
        capture_output=True, text=True, timeout=60,
    )


@pytest.fixture
def plain(config: Config) -> Iterator[tuple[SmtpConfig, Spool]]:
    settings = receiver_settings(config, max_message_size=10_000)
    with spool_receiver(config, settings) as spool:
        yield settings, spool


@pytest.fixture
def secured(config: Config, tmp_path: Path) -> Iterator[tuple[SmtpConfig, Spool]]:
    """STARTTLS offered, AUTH required from everywhere (no network is trusted without it)."""
    cert, key = self_signed_cert(tmp_path)
    users = tmp_path / "smtp-users"
    users.write_text(f"# journal senders\npostfix:{PasswordHasher().hash(PASSWORD)}\n")
    settings = receiver_settings(
        config, tls_cert=str(cert), tls_key=str(key), auth_file=str(users), allow_networks=()
    )
    with spool_receiver(config, settings) as spool:
        yield settings, spool


def test_swaks_delivers_with_envelope(plain: tuple[SmtpConfig, Spool]) -> None:
    settings, spool = plain
    result = swaks(settings, "--from", "alice@corp.example", "--to", "bob@corp.example,hidden@corp.example",
                   "--header", "Subject: via swaks", "--body", "hello from swaks")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "250 2.0.0 OK: queued as" in result.stdout
    [name] = spool.pending()
    message = spool.load(name)
    assert message.envelope_to == ("bob@corp.example", "hidden@corp.example")
    assert b"Subject: via swaks\r\n" in message.raw and b"hello from swaks" in message.raw


def test_swaks_raw_data_with_bare_lf_is_kept(plain: tuple[SmtpConfig, Spool], tmp_path: Path) -> None:
    data = tmp_path / "bare-lf.eml"
    content = b"Subject: bare LF\r\nFrom: alice@corp.example\r\n\r\nunix line\nanother\r\n..stuffed\r\n"
    data.write_bytes(content + b".\r\n")
    result = swaks(plain[0], "--from", "alice@corp.example", "--to", "bob@corp.example",
                   "--data", str(data), "--no-data-fixup")
    assert result.returncode == 0, result.stdout + result.stderr
    [name] = plain[1].pending()
    assert plain[1].load(name).raw == content.replace(b"..stuffed", b".stuffed")


def test_swaks_too_big_is_refused_with_552(plain: tuple[SmtpConfig, Spool]) -> None:
    result = swaks(plain[0], "--from", "alice@corp.example", "--to", "bob@corp.example",
                   "--body", "x" * 20_000)
    assert result.returncode != 0
    assert "552 5.3.4" in result.stdout
    assert plain[1].pending() == []


def test_swaks_starttls_and_auth(secured: tuple[SmtpConfig, Spool]) -> None:
    settings, spool = secured
    refused = swaks(settings, "--from", "alice@corp.example", "--to", "bob@corp.example", "-tls")
    assert refused.returncode != 0 and "530 5.7.0 Authentication required" in refused.stdout
    result = swaks(settings, "--from", "alice@corp.example", "--to", "bob@corp.example", "-tls",
                   "--auth", "PLAIN", "--auth-user", "postfix", "--auth-password", PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(spool.pending()) == 1


def test_auth_is_offered_only_after_starttls(secured: tuple[SmtpConfig, Spool]) -> None:
    settings, spool = secured
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", settings.port, timeout=10) as smtp:
        smtp.ehlo("mta.corp.example")
        assert smtp.has_extn("starttls") and not smtp.has_extn("auth")
        assert smtp.docmd("MAIL FROM:<alice@corp.example>")[0] == 530
        smtp.starttls(context=context)
        smtp.ehlo("mta.corp.example")
        assert "PLAIN" in smtp.esmtp_features["auth"]
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login("postfix", "wrong")
        smtp.login("postfix", PASSWORD)
        assert smtp.sendmail("alice@corp.example", ["bob@corp.example"], make_mail()) == {}
    assert len(spool.pending()) == 1


def test_required_tls_refuses_plaintext_mail(config: Config, tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    settings = receiver_settings(config, tls_cert=str(cert), tls_key=str(key), require_tls=True)
    with spool_receiver(config, settings) as spool, smtplib.SMTP("127.0.0.1", settings.port, timeout=10) as smtp:
        smtp.ehlo("mta.corp.example")
        assert smtp.docmd("MAIL FROM:<alice@corp.example>")[0] == 530
        assert spool.pending() == []
