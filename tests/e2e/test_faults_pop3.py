"""Durability: SIGKILL the POP3 daemon in the middle of a RETR, restart it, and nothing was acknowledged.

By design only DELE followed by QUIT moves the download position (compare-and-set, one audit entry per
session); a RETR acknowledges nothing, and neither does a DELE whose session never reaches QUIT. Here
the daemon runs as ``python -m server serve --only pop3`` (what an operator starts), a raw-socket
client logs in, marks a message deleted and starts retrieving a 12 MB message, reads a little of it
and stops reading, so the daemon is stuck mid-transfer when it is killed. After the restart the
window, its UIDLs and sizes are what they were, the next full session retrieves every message byte
for byte, DELE + QUIT then moves the position exactly once, and the audit chain verifies.
"""

from __future__ import annotations

import poplib
import random
import signal
import socket
import string
import subprocess
import sys
from pathlib import Path

import pytest

from pop3d.wire import crlf_lines
from server.config import Config, load_config
from server.model import Message
from server.services.context import Services
from server.services.pop3 import POSITION_KEY
from tests.support.mail import make_mail
from tests.support.pop3 import ACCOUNT, PASSWORD, archive, enable
from tests.support.serving import KillableDaemon, serve_env
from tests.support.smtp import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz]

ROOT = Path(__file__).resolve().parents[2]
BIG = 12 * 1024 * 1024  # far beyond the socket buffers (client 64 KB, daemon's send side at most 4 MB by default)
READ_BEFORE_KILL = 256 * 1024


class RawSession:
    """A POP3 client on a plain socket: a command, its one-line reply, or the start of a multi-line one."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # fixed: no receive autotuning
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")
        assert self.line().startswith(b"+OK")

    def line(self) -> bytes:
        return self.file.readline()

    def command(self, text: str) -> bytes:
        self.sock.sendall(text.encode() + b"\r\n")
        reply = self.line()
        assert reply.startswith(b"+OK"), (text, reply)
        return reply

    def listing(self, text: str) -> list[bytes]:
        self.command(text)
        lines = []
        while (line := self.line()) != b".\r\n":
            lines.append(line.rstrip(b"\r\n"))
        return lines


def big_mail() -> bytes:
    """12 MB of printable text in lines, unique per run's seed (random so compression does not shrink the
    transfer: the wire carries the raw bytes whatever the store does)."""
    rng = random.Random(17)
    line = "".join(rng.choices(string.ascii_letters + string.digits, k=70))
    body = "\n".join(line[n % 70:] + line[: n % 70] for n in range(BIG // 71)) + "\n"
    return make_mail(subject="the big one", message_id="<big@corp.example>", body=body)


def window_of(port: int) -> tuple[tuple[int, int], list[bytes], list[bytes]]:
    pop = poplib.POP3("127.0.0.1", port, timeout=60)
    pop.user(ACCOUNT)
    pop.pass_(PASSWORD)
    window = pop.stat(), pop.list()[1], pop.uidl()[1]
    pop.quit()
    return window


def position(config: Config) -> tuple[int, int]:
    """The stored position and its document version (0, 0 before any acknowledgement)."""
    with Services.open(config) as svc:
        found = svc.store.get_doc_versioned("pop3", POSITION_KEY)
    return (int(found[0]["seq"]), found[1]) if found else (0, 0)


def acknowledging_sessions(config: Config) -> list[dict]:
    with Services.open(config) as svc:
        return [r.details for r in svc.store.audit_scan() if r.operation == "pop3_retrieve"
                and (r.details["acknowledged"] or {}).get("messages")]


def test_sigkill_mid_retr_acknowledges_nothing_and_the_next_session_gets_everything_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = load_config(env={"MAILARCHIVE_CONFIG": "none", "MAILARCHIVE_STORE": "sqlite"}, data_dir=data_dir)
    mails: list[Message] = archive(config, [make_mail(subject=f"small {n}", body=f"number {n}\n.\n" * 50)
                                            for n in range(3)] + [big_mail(), make_mail(subject="after the big one")])
    enable(config)
    with Services.open(config) as svc:
        raws = {m.id: crlf_lines(svc.store.get_raw(m.sha256) or b"") for m in mails}
    port = free_port()
    daemon = KillableDaemon("pop3", {**serve_env(data_dir, pop3=port), "MAILARCHIVE_STORE": "sqlite"}, port, b"+OK")
    daemon.start()
    before = window_of(daemon.port)
    assert before[0] == (5, sum(m.size for m in mails))

    killed = RawSession(daemon.port)
    killed.command(f"USER {ACCOUNT}")
    killed.command(f"PASS {PASSWORD}")
    assert killed.listing("UIDL") == before[2]
    killed.command("DELE 1")  # marked, never acknowledged: the session will not reach QUIT
    killed.command("DELE 2")
    killed.sock.sendall(b"RETR 4\r\n")
    assert killed.line() == f"+OK {mails[3].size} octets\r\n".encode()
    got = killed.file.read(READ_BEFORE_KILL)
    assert len(got) == READ_BEFORE_KILL and b"\r\n.\r\n" not in got  # mid-transfer, the client stops reading
    assert daemon.signal(signal.SIGKILL) == -signal.SIGKILL
    rest = killed.file.read()  # what the kernel had buffered, then the connection ends
    assert len(got) + len(rest) < len(raws[mails[3].id]), "the daemon had sent the whole message before the kill"
    killed.sock.close()

    assert position(config) == (0, 0)
    daemon.start()
    try:
        assert window_of(daemon.port) == before  # same window, same sizes, same UIDLs
        pop = poplib.POP3("127.0.0.1", daemon.port, timeout=60)
        pop.user(ACCOUNT)
        pop.pass_(PASSWORD)
        for number, message in enumerate(mails, 1):
            _, lines, _ = pop.retr(number)
            assert b"\r\n".join(lines) + b"\r\n" == raws[message.id], f"message {number} differs"
            pop.dele(number)
        assert pop.quit() == b"+OK mailarchive POP3 server signing off (5 messages acknowledged)"
        assert position(config) == (mails[-1].archive_seq, 1)  # moved once, to the last message
        assert window_of(daemon.port)[0] == (0, 0)
    finally:
        assert daemon.signal(signal.SIGTERM) == 0
    assert position(config) == (mails[-1].archive_seq, 1)
    [acked] = acknowledging_sessions(config)
    assert acked["acknowledged"] == {"after_seq": 0, "upto_seq": mails[-1].archive_seq, "messages": 5}
    verify = subprocess.run([sys.executable, "-m", "server", "audit", "verify"], cwd=ROOT, env=daemon.env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
