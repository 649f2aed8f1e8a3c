"""The POP3 session fed one line at a time, asserting the exact bytes of each reply.

The session runs over the real backend (a real SQLite archive, argon2, the audit log); only the
socket is replaced by a byte buffer, so every reply can be compared byte for byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from pop3d.backend import ArchiveBackend
from pop3d.server import Session
from pop3d.throttle import LoginThrottle
from pop3d.wire import message_response, top_response
from server.audit.operations import Op
from server.config import Config
from server.model import Message
from server.services.actor import Actor
from server.services.context import Services
from server.services.pop3 import KIND, POSITION_KEY
from server.store.protocol import AuditQuery
from tests.support.mail import make_mail
from tests.support.pop3 import (
    ACCOUNT,
    FAST_THROTTLE,
    PASSWORD,
    archive,
    corrupt_raw,
    enable,
    lose_raw,
    pop3_config,
)


class Buffer:
    """The channel: replies collect here instead of going to a socket."""

    peer = "192.0.2.7"
    secure = False
    tls_available = False

    def __init__(self) -> None:
        self.out = bytearray()

    def write(self, data: bytes | memoryview) -> None:
        self.out += data

    async def drain(self) -> None:
        return None

    async def start_tls(self) -> None:
        raise AssertionError("no TLS in the protocol tests")


class Harness:
    """One session; ``say`` sends a line and returns exactly the bytes the server answered."""

    def __init__(self, svc: Services, throttle: LoginThrottle | None = None) -> None:
        self.svc = svc
        self.executor = ThreadPoolExecutor(2)
        self.backend = ArchiveBackend(svc, throttle or LoginThrottle(FAST_THROTTLE), self.executor)
        self.loop = asyncio.new_event_loop()
        self.channel = Buffer()
        self.session = Session(self.backend, self.channel)

    def _run(self, coro) -> bytes:  # noqa: ANN001
        self.loop.run_until_complete(coro)
        data = bytes(self.channel.out)
        self.channel.out.clear()
        return data

    def greet(self) -> bytes:
        return self._run(self.session.greet())

    def say(self, line: bytes | str) -> bytes:
        raw = line.encode() if isinstance(line, str) else line
        return self._run(self.session.handle(raw + b"\r\n"))

    def login(self) -> bytes:
        assert self.say(f"USER {ACCOUNT}") == b"+OK send PASS\r\n"
        return self.say(f"PASS {PASSWORD}")

    def close(self) -> None:
        self.loop.run_until_complete(self.session.end("disconnect"))
        self.loop.close()
        self.executor.shutdown()


@pytest.fixture
def svc(config: Config) -> Iterator[Services]:
    config = pop3_config(config)
    enable(config)
    with Services.open(config) as services:
        yield services


@pytest.fixture
def mails(svc: Services) -> list[Message]:
    raws = [make_mail(subject=f"message {n}", body=f"line one\n.dot line\nbody {n}\n") for n in range(3)]
    return archive(svc.config, raws)


@pytest.fixture
def pop(svc: Services) -> Iterator[Harness]:
    harness = Harness(svc)
    yield harness
    harness.close()


def raw_of(svc: Services, message: Message) -> bytes:
    raw = svc.store.get_raw(message.sha256)
    assert raw is not None
    return raw


def audit_entries(svc: Services, operation: str) -> list:
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    return svc.store.audit_query(AuditQuery(start=start, end=end, operation=operation, limit=100))[1]


# --- AUTHORIZATION ----------------------------------------------------------------------------------
def test_greeting_and_commands_before_login(pop: Harness) -> None:
    assert pop.greet() == b"+OK mailarchive POP3 server ready\r\n"
    assert pop.say("STAT") == b"-ERR STAT not allowed in the AUTHORIZATION state\r\n"
    assert pop.say("RETR 1") == b"-ERR RETR not allowed in the AUTHORIZATION state\r\n"
    assert pop.say("XYZZY") == b"-ERR unknown command XYZZY\r\n"
    assert pop.say("") == b"-ERR empty command\r\n"
    assert pop.say(b"US\xffER x") == b"-ERR command is not valid UTF-8\r\n"
    assert pop.say("USER\x00x") == b"-ERR control characters in command\r\n"
    assert pop.say("1234 x") == b"-ERR malformed command\r\n"
    assert pop.say("PASS secret") == b"-ERR send USER first\r\n"
    assert pop.say("USER") == b"-ERR syntax: USER name\r\n"
    assert pop.say("STLS") == b"-ERR TLS not available: no certificate is configured\r\n"
    assert pop.say("capa") == (b"+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
                               b"PIPELINING\r\nEXPIRE NEVER\r\nUSER\r\nIMPLEMENTATION mailarchive\r\n.\r\n")  # fmt: skip


def test_with_tls_configured_remote_clients_must_use_stls_before_user(pop: Harness) -> None:
    pop.channel.tls_available = True  # a certificate is configured; the peer is 192.0.2.7, not loopback
    assert pop.say("USER archive") == (b"-ERR [AUTH] send STLS first: passwords are not accepted in the clear "
                                       b"from this network\r\n")  # fmt: skip
    capabilities = pop.say("CAPA")
    assert b"\r\nSTLS\r\n" in capabilities and b"\r\nUSER\r\n" not in capabilities
    pop.channel.peer = "127.0.0.1"  # on the server itself the clear is acceptable
    assert pop.say("USER archive") == b"+OK send PASS\r\n"


def test_wrong_password_is_refused_audited_and_the_third_ends_the_session(pop: Harness, svc: Services) -> None:
    for _ in range(2):
        assert pop.say("USER archive") == b"+OK send PASS\r\n"
        assert pop.say("PASS wrong password") == b"-ERR [AUTH] invalid user name or password\r\n"
    assert pop.say("USER someone-else") == b"+OK send PASS\r\n"  # unknown names answer alike
    assert pop.say(f"PASS {PASSWORD}") == b"-ERR [AUTH] invalid user name or password\r\n"
    assert pop.session.closed
    failed = audit_entries(svc, Op.POP3_LOGIN_FAILED)
    assert len(failed) == 3 and {e.source_ip for e in failed} == {"192.0.2.7"}
    assert failed[0].actor == "someone-else" and failed[0].details["reason"] == "invalid credentials"


def test_tried_user_names_are_bounded_in_the_audit_log(pop: Harness, svc: Services) -> None:
    pop.say("USER " + "é" * 200)
    pop.say("PASS nope")
    (entry,) = audit_entries(svc, Op.POP3_LOGIN_FAILED)
    assert len(entry.actor) == 64 and entry.actor.isascii()


def test_lockout_refuses_even_the_right_password(svc: Services) -> None:
    throttle = LoginThrottle(FAST_THROTTLE)  # one daemon's memory, shared by its sessions
    sessions = [Harness(svc, throttle) for _ in range(5)]
    for pop in sessions:  # FAST_THROTTLE locks an address out at its 5th failure
        pop.say("USER archive")
        reply = pop.say("PASS wrong")
    assert reply == b"-ERR [AUTH] invalid user name or password\r\n" and sessions[-1].session.closed
    assert not sessions[0].session.closed  # one failure in that session: it may try again (and be refused)
    pop = Harness(svc, throttle)
    assert pop.say("USER archive") == b"+OK send PASS\r\n"
    assert pop.say(f"PASS {PASSWORD}").startswith(b"-ERR [SYS/TEMP] too many failed logins, try again in ")
    assert audit_entries(svc, Op.POP3_LOGIN_FAILED)[0].details["locked_out_seconds"] == 60
    for harness in [*sessions, pop]:
        harness.close()


def test_login_is_refused_while_the_service_is_disabled(pop: Harness, svc: Services) -> None:
    svc.pop3.disable(Actor.cli())
    pop.say("USER archive")
    assert pop.say(f"PASS {PASSWORD}") == b"-ERR [SYS/PERM] the POP3 service is disabled by the archive administrator\r\n"
    assert pop.session.closed
    assert audit_entries(svc, Op.POP3_LOGIN_FAILED)[0].details["reason"] == "service disabled"


# --- TRANSACTION ------------------------------------------------------------------------------------
def test_every_transaction_command(pop: Harness, svc: Services, mails: list[Message]) -> None:
    sizes = [m.size for m in mails]
    total = sum(sizes)
    assert pop.login() == f"+OK maildrop has 3 messages ({total} octets)\r\n".encode()
    assert pop.say("USER x") == b"-ERR USER not allowed in the TRANSACTION state\r\n"
    assert pop.say("STAT") == f"+OK 3 {total}\r\n".encode()
    assert pop.say("LIST") == (f"+OK 3 messages ({total} octets)\r\n1 {sizes[0]}\r\n2 {sizes[1]}\r\n3 {sizes[2]}\r\n"
                               ".\r\n").encode()  # fmt: skip
    assert pop.say("LIST 2") == f"+OK 2 {sizes[1]}\r\n".encode()
    assert pop.say("LIST 4") == b"-ERR no such message, only 3 messages in maildrop\r\n"
    assert pop.say("UIDL") == ("+OK unique-id listing follows\r\n"
                               + "".join(f"{n} {m.id}\r\n" for n, m in enumerate(mails, 1)) + ".\r\n").encode()
    assert pop.say("UIDL 3") == f"+OK 3 {mails[2].id}\r\n".encode()
    raw = raw_of(svc, mails[0])
    assert pop.say("RETR 1") == f"+OK {sizes[0]} octets\r\n".encode() + message_response(raw)
    assert b"\r\n..dot line\r\n" in message_response(raw)
    assert pop.say("TOP 1 0") == b"+OK top of message follows\r\n" + top_response(raw, 0)
    assert pop.say("TOP 1 2") == b"+OK top of message follows\r\n" + top_response(raw, 2)
    assert pop.say("NOOP") == b"+OK\r\n"
    assert pop.say("DELE 1") == b"+OK message 1 deleted\r\n"
    assert pop.say("DELE 1") == b"-ERR message 1 already deleted\r\n"
    assert pop.say("RETR 1") == b"-ERR message 1 already deleted\r\n"
    assert pop.say("STAT") == f"+OK 2 {total - sizes[0]}\r\n".encode()
    assert pop.say("LIST") == f"+OK 2 messages ({total - sizes[0]} octets)\r\n2 {sizes[1]}\r\n3 {sizes[2]}\r\n.\r\n".encode()
    assert pop.say("RSET") == f"+OK maildrop has 3 messages ({total} octets)\r\n".encode()
    assert pop.say("DELE 1") == b"+OK message 1 deleted\r\n"
    assert pop.say("DELE 2") == b"+OK message 2 deleted\r\n"
    assert pop.say("CAPA").startswith(b"+OK Capability list follows\r\nTOP\r\n") and b"USER" not in pop.say("CAPA")
    assert pop.say("QUIT") == b"+OK mailarchive POP3 server signing off (2 messages acknowledged)\r\n"
    assert pop.session.closed
    assert svc.pop3.position() == mails[1].archive_seq

    (entry,) = audit_entries(svc, Op.POP3_RETRIEVE)
    assert entry.actor == "archive" and entry.source_ip == "192.0.2.7"
    assert entry.details["retrieved"] == 1 and entry.details["top"] == 2
    assert entry.details["retrieved_bytes"] == len(message_response(raw))
    assert entry.details["acknowledged"] == {"after_seq": 0, "upto_seq": mails[1].archive_seq, "messages": 2}
    assert entry.details["window"]["messages"] == 3 and entry.details["ended_by"] == "quit"


def test_malformed_arguments_get_one_clean_error_each(pop: Harness, mails: list[Message]) -> None:
    pop.login()
    for line, reply in [
        ("RETR", b"-ERR syntax: RETR msg\r\n"),
        ("RETR abc", b"-ERR syntax: RETR msg\r\n"),
        ("RETR 1 2", b"-ERR syntax: RETR msg\r\n"),
        ("RETR 0", b"-ERR no such message, only 3 messages in maildrop\r\n"),
        ("RETR -1", b"-ERR no such message\r\n"),
        ("DELE 99999999999999999999", b"-ERR no such message\r\n"),
        ("TOP 1", b"-ERR syntax: TOP msg n\r\n"),
        ("TOP 1 x", b"-ERR syntax: TOP msg n\r\n"),
        ("TOP 9 1", b"-ERR no such message, only 3 messages in maildrop\r\n"),
        ("LIST x", b"-ERR syntax: LIST [msg]\r\n"),
        ("STLS", b"-ERR STLS not allowed in the TRANSACTION state\r\n"),
    ]:
        assert pop.say(line) == reply, line
    assert pop.say("STAT").startswith(b"+OK 3 ")  # nothing above changed the session


def test_disconnect_without_quit_acknowledges_nothing_but_is_audited(pop: Harness, svc: Services,
                                                                     mails: list[Message]) -> None:  # fmt: skip
    pop.login()
    pop.say("RETR 1")
    pop.say("DELE 1")
    pop.loop.run_until_complete(pop.session.end("disconnect"))
    assert svc.pop3.position() == 0
    (entry,) = audit_entries(svc, Op.POP3_RETRIEVE)
    assert entry.details["ended_by"] == "disconnect" and entry.details["acknowledged"] is None


# --- the window -------------------------------------------------------------------------------------
def test_only_the_contiguous_deleted_prefix_is_acknowledged(svc: Services, mails: list[Message]) -> None:
    pop = Harness(svc)
    pop.login()
    pop.say("DELE 1")
    pop.say("DELE 3")
    assert pop.say("QUIT") == b"+OK mailarchive POP3 server signing off (1 messages acknowledged)\r\n"
    assert svc.pop3.position() == mails[0].archive_seq
    pop = Harness(svc)
    assert pop.login() == f"+OK maildrop has 2 messages ({mails[1].size + mails[2].size} octets)\r\n".encode()
    assert pop.say("UIDL") == f"+OK unique-id listing follows\r\n1 {mails[1].id}\r\n2 {mails[2].id}\r\n.\r\n".encode()
    pop.close()


def test_late_old_dated_mail_arrives_in_the_next_session(svc: Services, mails: list[Message]) -> None:
    pop = Harness(svc)
    pop.login()
    late = archive(svc.config, [make_mail(subject="from 2001", date=datetime(2001, 5, 1, tzinfo=UTC))])[0]
    assert pop.say("STAT").startswith(b"+OK 3 ")  # the window was fixed at login
    for n in (1, 2, 3):
        pop.say(f"DELE {n}")
    pop.say("QUIT")
    pop = Harness(svc)
    assert pop.login() == f"+OK maildrop has 1 messages ({late.size} octets)\r\n".encode()
    assert pop.say("UIDL 1") == f"+OK 1 {late.id}\r\n".encode()
    pop.close()


def test_the_window_holds_at_most_window_messages(config: Config) -> None:
    config = pop3_config(config, window=2)
    enable(config)
    mails = archive(config, [make_mail(subject=f"w{n}") for n in range(5)])
    with Services.open(config) as svc:
        seen = []
        for expected in (2, 2, 1, 0):
            pop = Harness(svc)
            assert pop.login().startswith(f"+OK maildrop has {expected} messages".encode())
            for n in range(1, expected + 1):
                seen.append(pop.say(f"UIDL {n}").split()[2].decode())
                pop.say(f"DELE {n}")
            pop.say("QUIT")
        assert seen == [m.id for m in mails]


def test_concurrent_sessions_never_move_the_position_backwards(svc: Services, mails: list[Message]) -> None:
    first, second = Harness(svc), Harness(svc)
    first.login()
    second.login()
    for n in (1, 2, 3):
        second.say(f"DELE {n}")
    second.say("QUIT")
    first.say("DELE 1")
    assert first.say("QUIT") == b"+OK mailarchive POP3 server signing off (1 messages acknowledged)\r\n"
    assert svc.pop3.position() == mails[2].archive_seq


def test_a_position_reset_below_the_window_is_not_skipped(svc: Services, mails: list[Message]) -> None:
    svc.store.put_doc(KIND, POSITION_KEY, {"seq": mails[0].archive_seq})
    pop = Harness(svc)
    pop.login()  # window: messages 2 and 3
    svc.store.put_doc(KIND, POSITION_KEY, {"seq": 0})  # re-deliver everything, while this session runs
    pop.say("DELE 1")
    pop.say("DELE 2")
    pop.say("QUIT")
    assert svc.pop3.position() == 0  # moving to message 3 would skip message 1


def test_integrity_failure_is_refused_and_audited(svc: Services, mails: list[Message]) -> None:
    corrupt_raw(svc.config, mails[1].sha256)
    pop = Harness(svc)
    pop.login()
    bad = mails[1].id
    assert pop.say("RETR 2") == f"-ERR [SYS/PERM] message {bad} failed its integrity check and is not sent\r\n".encode()
    assert pop.say("TOP 2 0").startswith(b"-ERR [SYS/PERM] ")
    assert pop.say("RETR 1").startswith(b"+OK ")
    pop.say("QUIT")
    failures = audit_entries(svc, Op.INTEGRITY_FAILURE)  # each read of the damaged bytes, read-ahead included
    assert len(failures) >= 2 and {e.target for e in failures} == {bad}
    (entry,) = audit_entries(svc, Op.POP3_RETRIEVE)
    assert entry.details["not_sent"] == [bad, bad] and entry.details["retrieved"] == 1


def test_a_message_whose_bytes_are_lost_keeps_its_place_in_the_window(svc: Services, mails: list[Message]) -> None:
    """The window lists it with its archived size and UIDL, and RETR refuses it: a window that
    skipped it would let the position pass it unnoticed."""
    lose_raw(svc.config, mails[1].sha256)
    pop = Harness(svc)
    pop.login()
    assert pop.say("LIST 2") == f"+OK 2 {mails[1].size}\r\n".encode()
    assert pop.say("UIDL 2") == f"+OK 2 {mails[1].id}\r\n".encode()
    assert pop.say("RETR 2").startswith(b"-ERR ")
    assert pop.say("RETR 3").startswith(b"+OK ")
    pop.say("QUIT")
