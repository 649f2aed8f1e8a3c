"""Debian's fetchmail, configured as docs/pop3.md shows, drains the archive into files through an
MDA over several runs, each one POP3 session that deletes (acknowledges) what it delivered.

fetchmail is told not to touch the messages (``no rewrite``, ``invisible``: no Received header,
``no stripcr``: CRLF kept), so what the MDA receives must be the archived bytes exactly as RETR
sends them before dot-stuffing: CRLF line ends, nothing added. A later run fetches only what was
archived since, an old-dated late arrival included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pop3d.wire import crlf_lines
from server.config import Config
from server.model import Message
from server.services.actor import Actor
from server.services.context import Services
from tests.support.mail import make_mail
from tests.support.pop3 import ACCOUNT, PASSWORD, archive, client_config, pop3_config, pop3_daemon
from tests.support.smtp import self_signed_cert

pytestmark = pytest.mark.e2e
FETCHMAIL = shutil.which("fetchmail")
WINDOW = 10
DELIVER = """import os, sys, tempfile
fd, _ = tempfile.mkstemp(dir=sys.argv[1], suffix=".eml")
os.write(fd, sys.stdin.buffer.read())
os.close(fd)
"""


@pytest.fixture
def cfg(config: Config) -> Config:
    return client_config(config, FETCHMAIL, "fetchmail", WINDOW)


@pytest.fixture
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pop3-fetchmail-"))
    (path / "delivered").mkdir()
    (path / "deliver.py").write_text(DELIVER)
    yield path
    shutil.rmtree(path)


def fetchmail(home: Path, port: int, tls: str = 'sslproto ""') -> subprocess.CompletedProcess[str]:
    """One fetchmail session (``--nodetach``, no daemon mode). ``tls`` is the run control's TLS options
    (none by default: plain POP3 on loopback)."""
    rc = home / "fetchmailrc"
    rc.write_text(
        "set no syslog\nset no bouncemail\nset invisible\n"
        f"poll 127.0.0.1 with protocol pop3 port {port} auth password no envelope no dns\n"
        f'    user "{ACCOUNT}" there with password "{PASSWORD}"\n'
        f'    no rewrite no stripcr {tls} mda "{sys.executable} {home / "deliver.py"} {home / "delivered"}"\n'
    )
    rc.chmod(0o600)  # fetchmail refuses a run control file others may read
    env = {**os.environ, "FETCHMAILHOME": str(home), "HOME": str(home)}
    return subprocess.run([FETCHMAIL, "--nodetach", "--fetchmailrc", str(rc), "--idfile", str(home / "ids"),
                           "--pidfile", str(home / "pid")], env=env, capture_output=True, text=True, timeout=600)  # fmt: skip


def fetchmail_run(home: Path, port: int, tls: str = 'sslproto ""') -> int:
    """One successful fetchmail session; how many messages were delivered so far."""
    done = fetchmail(home, port, tls)
    assert done.returncode in (0, 1), done.stderr or done.stdout  # 1: no mail (RFC: nothing new)
    return len(list((home / "delivered").iterdir()))


def delivered(home: Path) -> list[bytes]:
    return sorted(path.read_bytes() for path in (home / "delivered").iterdir())


def on_the_wire(config: Config, messages: list[Message]) -> list[bytes]:
    with Services.open(config) as svc:
        return sorted(crlf_lines(svc.store.get_raw(m.sha256) or b"") for m in messages)


def sample_mail(count: int) -> list[bytes]:
    return [make_mail(subject=f"fetch {n}", body=f"line {n}\n.\n..two dots\n.hidden\n" + "word " * 30 * n,
                      attachments=[("a.bin", bytes(range(256)) * n, "application/octet-stream")] if n % 3 == 0 else ())
            for n in range(count)]  # fmt: skip


def test_fetchmail_drains_the_archive_window_by_window(cfg: Config, home: Path) -> None:
    first = archive(cfg, sample_mail(25))
    with pop3_daemon(cfg) as daemon:
        assert fetchmail_run(home, daemon.port) == WINDOW
        assert fetchmail_run(home, daemon.port) == 2 * WINDOW
        assert fetchmail_run(home, daemon.port) == 25
        assert delivered(home) == on_the_wire(cfg, first)
        assert fetchmail_run(home, daemon.port) == 25  # nothing new
        late = archive(cfg, [make_mail(subject="dated 1999, archived now", date=datetime(1999, 12, 31, tzinfo=UTC))])
        assert fetchmail_run(home, daemon.port) == 26
        assert delivered(home) == on_the_wire(cfg, first + late)
    with Services.open(cfg) as svc:
        assert svc.pop3.position() == max(m.archive_seq for m in first + late)


def test_fetchmail_over_implicit_tls_as_the_guide_shows(cfg: Config, home: Path, tmp_path: Path) -> None:
    """docs/pop3.md's TLS lines (``ssl sslproto TLS1.2+``), with the certificate checked: trusted, the
    session drains the window byte for byte; untrusted, fetchmail refuses and nothing moves."""
    cert, key = self_signed_cert(tmp_path)
    tls_cfg = pop3_config(cfg, certificate=str(cert), key=str(key), tls_port=0)
    mails = archive(tls_cfg, sample_mail(6))
    (tmp_path / "other").mkdir()
    stranger, _ = self_signed_cert(tmp_path / "other")  # same name, another key: not the server's
    checked = "ssl sslproto TLS1.2+ sslcertck sslcommonname localhost sslcertfile {}".format
    with pop3_daemon(tls_cfg) as daemon:
        assert daemon.tls_port
        refused = fetchmail(home, daemon.tls_port, checked(stranger))
        assert refused.returncode == 2 and "certificate" in (refused.stderr + refused.stdout).lower(), refused
        assert list((home / "delivered").iterdir()) == []
        with Services.open(tls_cfg) as svc:
            assert svc.pop3.position() == 0
        assert fetchmail_run(home, daemon.tls_port, checked(cert)) == 6
    assert delivered(home) == on_the_wire(tls_cfg, mails)
    with Services.open(tls_cfg) as svc:
        assert svc.pop3.position() == max(m.archive_seq for m in mails)
        assert svc.pop3.status(Actor.cli()).last_session["tls"] is True
