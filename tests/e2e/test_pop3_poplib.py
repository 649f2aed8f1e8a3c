"""The real POP3 daemon on a loopback port, driven by Python's poplib and by raw sockets.

Covers every command through poplib, STLS and the implicit-TLS port with a certificate made for
the test, and the robustness limits (line length, idle timeout, session cap, plaintext sent
after STLS) with raw sockets, where the exact bytes on the wire can be checked.
"""

from __future__ import annotations

import poplib
import socket
import ssl
from pathlib import Path

import pytest

from pop3d.listener import Limits
from pop3d.wire import crlf_lines
from server.config import Config
from server.daemons import bind_all, start_all, stop_all
from server.model import Message
from server.services.actor import Actor
from server.services.context import Services
from tests.support.mail import make_mail
from tests.support.pop3 import ACCOUNT, PASSWORD, archive, enable, pop3_config, pop3_daemon
from tests.support.smtp import self_signed_cert

pytestmark = pytest.mark.e2e
LF_MAIL = b"From: lf@corp.example\nSubject: written with LF\nMessage-ID: <lf-1@corp.example>\n\n.starts with a dot\n..two\nend\n"


@pytest.fixture
def cfg(config: Config) -> Config:
    config = pop3_config(config)
    enable(config)
    return config


@pytest.fixture
def mails(cfg: Config) -> list[Message]:
    return archive(cfg, [make_mail(subject="first", body="hello\n.\nworld\n"), LF_MAIL, make_mail(subject="third")])


def raw_bytes(config: Config, message: Message) -> bytes:
    with Services.open(config) as svc:
        raw = svc.store.get_raw(message.sha256)
    assert raw is not None
    return raw


def client_context(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # the test certificate names localhost; we connect to 127.0.0.1
    return context


def test_every_command_through_poplib(cfg: Config, mails: list[Message]) -> None:
    with pop3_daemon(cfg) as daemon:
        pop = poplib.POP3("127.0.0.1", daemon.port, timeout=10)
        assert pop.getwelcome() == b"+OK mailarchive POP3 server ready"
        assert {"USER", "UIDL", "TOP", "PIPELINING"} <= set(pop.capa())
        pop.user(ACCOUNT)
        assert pop.pass_(PASSWORD).startswith(b"+OK maildrop has 3 messages")
        assert pop.stat() == (3, sum(m.size for m in mails))
        assert pop.list()[1] == [f"{n} {m.size}".encode() for n, m in enumerate(mails, 1)]
        assert pop.uidl()[1] == [f"{n} {m.id}".encode() for n, m in enumerate(mails, 1)]
        assert pop.uidl(2) == f"+OK 2 {mails[1].id}".encode()
        for number, message in enumerate(mails, 1):
            _, lines, _ = pop.retr(number)
            assert b"\r\n".join(lines) + b"\r\n" == crlf_lines(raw_bytes(cfg, message))  # byte for byte, unstuffed
        _, lines, _ = pop.top(2, 1)
        assert lines == [b"From: lf@corp.example", b"Subject: written with LF", b"Message-ID: <lf-1@corp.example>",
                         b"", b".starts with a dot"]  # fmt: skip
        assert pop.noop() == b"+OK"
        assert pop.dele(1) == b"+OK message 1 deleted"
        with pytest.raises(poplib.error_proto, match="already deleted"):
            pop.retr(1)
        assert pop.rset().startswith(b"+OK maildrop has 3 messages")
        pop.dele(1)
        pop.dele(2)
        assert pop.quit() == b"+OK mailarchive POP3 server signing off (2 messages acknowledged)"

        again = poplib.POP3("127.0.0.1", daemon.port, timeout=10)
        again.user(ACCOUNT)
        again.pass_(PASSWORD)
        assert again.uidl()[1] == [f"1 {mails[2].id}".encode()]
        again.quit()


def test_wrong_password_through_poplib(cfg: Config, mails: list[Message]) -> None:
    with pop3_daemon(cfg) as daemon:
        pop = poplib.POP3("127.0.0.1", daemon.port, timeout=10)
        pop.user(ACCOUNT)
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\] invalid user name or password"):
            pop.pass_("not the password")
        pop.quit()


@pytest.fixture
def tls_cfg(cfg: Config, tmp_path: Path) -> tuple[Config, Path]:
    cert, key = self_signed_cert(tmp_path)
    return pop3_config(cfg, certificate=str(cert), key=str(key), tls_port=0), cert


def test_stls_upgrades_the_plain_port(tls_cfg: tuple[Config, Path], mails: list[Message]) -> None:
    config, cert = tls_cfg
    with pop3_daemon(config) as daemon:
        pop = poplib.POP3("127.0.0.1", daemon.port, timeout=10)
        assert "STLS" in pop.capa()
        assert pop.stls(client_context(cert)).startswith(b"+OK Begin TLS negotiation")
        assert isinstance(pop.sock, ssl.SSLSocket)
        assert "STLS" not in pop.capa()  # RFC 2595: not offered again once TLS is active
        with pytest.raises(poplib.error_proto, match="not permitted when TLS active"):
            pop._shortcmd("STLS")
        pop.user(ACCOUNT)
        pop.pass_(PASSWORD)
        assert b"\r\n".join(pop.retr(3)[1]) + b"\r\n" == crlf_lines(raw_bytes(config, mails[2]))
        pop.quit()
    with Services.open(config) as svc:
        assert svc.pop3.status(Actor.cli()).last_session["tls"] is True


def test_implicit_tls_port(tls_cfg: tuple[Config, Path], mails: list[Message]) -> None:
    config, cert = tls_cfg
    with pop3_daemon(config) as daemon:
        assert daemon.tls_port
        pop = poplib.POP3_SSL("127.0.0.1", daemon.tls_port, context=client_context(cert), timeout=10)
        assert "STLS" not in pop.capa()
        pop.user(ACCOUNT)
        pop.pass_(PASSWORD)
        assert pop.stat()[0] == 3
        pop.quit()


def test_plaintext_pipelined_after_stls_is_discarded(tls_cfg: tuple[Config, Path], mails: list[Message]) -> None:
    config, cert = tls_cfg
    with pop3_daemon(config) as daemon, socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b"STLS\r\nUSER injected\r\nPASS injected\r\n")  # a man in the middle's addition
        assert reader.readline() == b"+OK Begin TLS negotiation\r\n"
        with client_context(cert).wrap_socket(sock, server_hostname="localhost") as tls:
            tls.sendall(b"PASS " + PASSWORD.encode() + b"\r\n")
            assert tls.recv(1024) == b"-ERR send USER first\r\n"  # the injected USER never counted


def lines_after_greeting(daemon_port: int, payload: bytes, replies: int) -> list[bytes]:
    with socket.create_connection(("127.0.0.1", daemon_port), timeout=10) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"+OK")
        sock.sendall(payload)
        return [reader.readline() for _ in range(replies)]


def test_over_long_lines_get_one_error_and_the_session_goes_on(cfg: Config) -> None:
    with pop3_daemon(cfg) as daemon:
        replies = lines_after_greeting(daemon.port, b"USER " + b"a" * 300 + b"\r\n" + b"x" * 1_000_000 + b"\r\nCAPA\r\n", 3)
    assert replies[:2] == [b"-ERR line too long (at most 255 octets)\r\n"] * 2
    assert replies[2] == b"+OK Capability list follows\r\n"


def test_idle_sessions_are_logged_out(cfg: Config) -> None:
    with pop3_daemon(cfg, limits=Limits(idle_timeout=0.3)) as daemon, \
            socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        assert reader.readline() == b"-ERR [SYS/TEMP] autologout: idle for too long\r\n"
        assert reader.readline() == b""  # closed


def test_sessions_beyond_the_limit_are_refused(cfg: Config) -> None:
    with pop3_daemon(cfg, limits=Limits(max_sessions=2)) as daemon:
        held = [socket.create_connection(("127.0.0.1", daemon.port), timeout=10) for _ in range(2)]
        for sock in held:
            assert sock.makefile("rb").readline().startswith(b"+OK")
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as extra:
            reader = extra.makefile("rb")
            assert reader.readline() == b"-ERR [SYS/TEMP] too many POP3 sessions, try again later\r\n"
            assert reader.readline() == b""
        held.pop().close()
        pop = _retry_connect(daemon.port)
        assert pop.getwelcome().startswith(b"+OK")
        pop.quit()
        for sock in held:
            sock.close()


def _retry_connect(port: int) -> poplib.POP3:
    """The server notices a closed session a moment after the client closes it."""
    for _ in range(50):
        try:
            return poplib.POP3("127.0.0.1", port, timeout=10)
        except poplib.error_proto:
            continue
    raise AssertionError("no session slot became free")


def test_serve_starts_the_pop3_daemon(cfg: Config) -> None:
    daemons = start_all(bind_all(cfg, only={"pop3"}))
    try:
        (pop3,) = daemons
        assert pop3.describe().startswith("POP3 for third-party archiving on 127.0.0.1:")
        assert "account archive, enabled" in pop3.describe()
        pop = poplib.POP3("127.0.0.1", pop3.port, timeout=10)
        pop.quit()
    finally:
        stop_all(daemons)


def test_sessions_beyond_the_per_address_limit_are_refused(cfg: Config) -> None:
    with pop3_daemon(cfg, limits=Limits(max_sessions=50, max_per_address=2)) as daemon:
        held = [poplib.POP3("127.0.0.1", daemon.port, timeout=10) for _ in range(2)]
        with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\] too many POP3 sessions"):
            poplib.POP3("127.0.0.1", daemon.port, timeout=10)
        for pop in held:
            pop.quit()


def test_disabling_and_enabling_apply_to_the_next_login_without_a_restart(cfg: Config, mails: list[Message]) -> None:
    with pop3_daemon(cfg) as daemon:
        with Services.open(cfg) as svc:
            svc.pop3.disable(Actor.cli())
        pop = poplib.POP3("127.0.0.1", daemon.port, timeout=10)
        pop.user(ACCOUNT)
        with pytest.raises(poplib.error_proto, match=r"\[SYS/PERM\] the POP3 service is disabled"):
            pop.pass_(PASSWORD)
        with Services.open(cfg) as svc:
            svc.pop3.enable(Actor.cli())  # the password set before is kept
        pop = poplib.POP3("127.0.0.1", daemon.port, timeout=10)
        pop.user(ACCOUNT)
        assert pop.pass_(PASSWORD).startswith(b"+OK maildrop has 3 messages")
        pop.quit()
