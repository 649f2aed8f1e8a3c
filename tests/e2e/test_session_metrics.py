"""SMTP and POP3 session counts in ``/metrics``: real sessions (smtplib, poplib) against the real
receivers, counted by those daemons into the store's durable counters and read by a separate web
app's scrape, as a web node reads what the receiver nodes counted."""

from __future__ import annotations

import ipaddress
import poplib
import smtplib

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from server.config import Config, with_overrides
from tests.support.mail import make_mail
from tests.support.pop3 import PASSWORD, archive, enable, pop3_config, pop3_daemon
from tests.support.smtp import receiver_settings, running_service
from tests.support.web import running_app

pytestmark = pytest.mark.e2e
TOKEN = "scrape-secret-sessions-0123456789"


def _scrape(config: Config) -> dict[tuple[str, tuple], float]:
    with running_app(with_overrides(config, metrics_token=TOKEN)) as app:
        response = _get(app)
    samples = {}
    for family in text_string_to_metric_families(response):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _get(app: Flask) -> str:
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _session(samples: dict, service: str, outcome: str) -> float:
    return samples[("mailarchive_sessions_total", (("outcome", outcome), ("service", service)))]


def test_smtp_sessions_and_refused_clients_are_counted(config: Config) -> None:
    assert _session(_scrape(config), "smtp", "opened") == 0
    allowed = receiver_settings(config)
    with running_service(config, allowed) as service:
        for n in range(2):
            with smtplib.SMTP("127.0.0.1", service.socket.getsockname()[1], timeout=10) as client:
                client.sendmail("journal@corp.example", ["archive@corp.example"], make_mail(subject=f"s{n}"))
    closed = receiver_settings(config, allow_networks=(ipaddress.ip_network("10.0.0.0/8"),))
    with running_service(config, closed) as service, \
            smtplib.SMTP("127.0.0.1", service.socket.getsockname()[1], timeout=10) as client:
        client.ehlo()
        code, text = client.mail("journal@corp.example")
        assert code == 550 and b"not allowed" in text, (code, text)  # not from this network
    samples = _scrape(config)  # the receivers flushed their counts when they stopped
    assert _session(samples, "smtp", "opened") == 3
    assert _session(samples, "smtp", "refused_client") == 1


def test_pop3_sessions_logins_and_retrieved_octets_are_counted(config: Config) -> None:
    cfg = pop3_config(config)
    enable(cfg)
    archive(cfg, [make_mail(subject="one", body="a" * 500), make_mail(subject="two", body="b" * 900)])
    retrieved = 0
    with pop3_daemon(cfg) as daemon:
        pop = poplib.POP3("127.0.0.1", daemon.port, timeout=10)
        pop.user("archive")
        pop.pass_(PASSWORD)
        for number in (1, 2):
            _, _, octets = pop.retr(number)
            retrieved += octets
        pop.quit()
        failed = poplib.POP3("127.0.0.1", daemon.port, timeout=10)
        failed.user("archive")
        with pytest.raises(poplib.error_proto):
            failed.pass_("wrong password")
        failed.quit()
        poplib.POP3("127.0.0.1", daemon.port, timeout=10).quit()  # connected, never logged in
    samples = _scrape(cfg)
    assert _session(samples, "pop3", "logged_in") == 1
    assert _session(samples, "pop3", "login_failed") == 1
    assert _session(samples, "pop3", "no_login") == 1
    assert _session(samples, "pop3", "refused_busy") == 0
    assert samples[("mailarchive_pop3_retrieved_messages_total", ())] == 2
    assert samples[("mailarchive_pop3_retrieved_bytes_total", ())] == retrieved + 2 * len(b".\r\n")  # as sent
    assert _session(samples, "smtp", "opened") == 0


def test_pop3_sessions_refused_for_being_too_many_are_counted(config: Config) -> None:
    from pop3d.listener import Limits

    cfg = pop3_config(config)
    enable(cfg)
    with pop3_daemon(cfg, limits=Limits(max_sessions=1)) as daemon:
        first = poplib.POP3("127.0.0.1", daemon.port, timeout=10)
        with pytest.raises(poplib.error_proto, match="too many"):
            poplib.POP3("127.0.0.1", daemon.port, timeout=10)
        first.quit()
    samples = _scrape(cfg)
    assert _session(samples, "pop3", "refused_busy") == 1 and _session(samples, "pop3", "no_login") == 1

