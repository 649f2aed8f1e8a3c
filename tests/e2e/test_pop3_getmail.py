"""A packaged POP3 client, Debian's getmail6, drains the archive into a Maildir over several runs.

Each run is one POP3 session: getmail downloads the window, deletes (acknowledges) what it saved,
and QUITs. The Maildir ends up holding every archived message exactly once, byte for byte as the
archive keeps it (getmail writes LF line ends and its own Return-Path line in place of the
message's; both are undone before comparing); a later run fetches only what arrived since, an old-dated late arrival included.
"""

from __future__ import annotations

import email
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from email.policy import compat32
from pathlib import Path

import pytest

from pop3d.wire import crlf_lines
from server.config import Config
from server.model import Message
from server.services.context import Services
from tests.conftest import CORPUS
from tests.support.mail import make_mail
from tests.support.pop3 import ACCOUNT, PASSWORD, archive, client_config, pop3_daemon

pytestmark = pytest.mark.e2e
GETMAIL = shutil.which("getmail")
WINDOW = 15


@pytest.fixture
def cfg(config: Config) -> Config:
    return client_config(config, GETMAIL, "getmail6", WINDOW)


@pytest.fixture
def home() -> Iterator[Path]:
    """getmail's directory. getmail refuses to deliver as root; as root (CI) it delivers as
    ``nobody``, so the Maildir lives outside pytest's private tmp dir and belongs to nobody."""
    path = Path(tempfile.mkdtemp(prefix="pop3-getmail-"))
    path.chmod(0o755)
    maildir = path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for directory in (maildir, *(maildir / s for s in ("cur", "new", "tmp"))):
            os.chown(directory, nobody.pw_uid, nobody.pw_gid)
    yield path
    shutil.rmtree(path)


def getmail_run(home: Path, port: int) -> int:
    """One getmail session against the daemon; returns how many messages the Maildir holds now."""
    maildir = home / "Maildir"
    deliver_as = "user = nobody\n" if os.geteuid() == 0 else ""
    rc = home / "getmailrc"
    rc.write_text(
        f"[retriever]\ntype = SimplePOP3Retriever\nserver = 127.0.0.1\nport = {port}\n"
        f"username = {ACCOUNT}\npassword = {PASSWORD}\n\n"
        f"[destination]\ntype = Maildir\npath = {maildir}/\n{deliver_as}\n"
        "[options]\ndelete = true\nread_all = false\nreceived = false\ndelivered_to = false\nverbose = 0\n"
    )
    done = subprocess.run([GETMAIL, "--getmaildir", str(home), "--rcfile", str(rc)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr or done.stdout
    return len(list((maildir / "new").iterdir()))


def maildir_messages(home: Path) -> list[bytes]:
    found = []
    for path in sorted((home / "Maildir" / "new").iterdir()):
        data = path.read_bytes()
        assert data.startswith(b"Return-Path: ")
        found.append(comparable(data))
    return found


def archived(config: Config, messages: list[Message]) -> list[bytes]:
    with Services.open(config) as svc:
        return [comparable(svc.store.get_raw(m.sha256) or b"") for m in messages]


def sample_mail(count: int) -> list[bytes]:
    """Generated mail (dot lines, attachments), and real-world mail from the shared corpus if present."""
    raws = [make_mail(subject=f"report {n}", body=f"quarter {n}\n.\n..dots\n" + "text " * 40 * n,
                      attachments=[("n.txt", b"x" * 200 * n, "text/plain")] if n % 4 == 0 else ())
            for n in range(count)]  # fmt: skip
    if (CORPUS / "manifest.tsv").is_file():
        rows = [line.split("\t") for line in (CORPUS / "manifest.tsv").read_text().splitlines()[1:]]
        real = [raw for raw in ((CORPUS / row[0]).read_bytes() for row in rows if row[1] == "eml") if kept_by_getmail(raw)]
        raws[::2] = real[: len(raws[::2])]
    return raws


def kept_by_getmail(raw: bytes) -> bool:
    """Whether getmail writes ``raw`` back unchanged. It re-serialises each message with Python's
    email package (compat32, from LF lines), which re-folds long headers of some real-world mail;
    the POP3 bytes of those are checked exactly by the poplib tests, so only the client's own
    rewriting is left out here."""
    message = email.message_from_bytes(crlf_lines(raw).replace(b"\r\n", b"\n"), policy=compat32)
    return comparable(message.as_bytes(policy=compat32.clone(linesep="\n"))) == comparable(raw)


def comparable(data: bytes) -> bytes:
    """CRLF line ends and no Return-Path header: getmail writes LF, and replaces any Return-Path
    with its own first line (the envelope sender it took from the message)."""
    text = crlf_lines(data)
    head, blank, body = text.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"return-path:")]
    return b"\r\n".join(lines) + blank + body


def test_getmail_drains_the_archive_window_by_window(cfg: Config, home: Path) -> None:
    first = archive(cfg, sample_mail(40))
    assert len(first) == 40
    with pop3_daemon(cfg) as daemon:
        assert getmail_run(home, daemon.port) == WINDOW  # one whole window per session
        assert getmail_run(home, daemon.port) == 2 * WINDOW
        assert getmail_run(home, daemon.port) == 40
        assert sorted(maildir_messages(home)) == sorted(archived(cfg, first))

        assert getmail_run(home, daemon.port) == 40  # nothing new: nothing fetched
        late = archive(cfg, [make_mail(subject="sent in 1999, journaled today", date=datetime(1999, 12, 31, tzinfo=UTC)),
                             make_mail(subject="new today")])  # fmt: skip
        assert getmail_run(home, daemon.port) == 42
        assert sorted(maildir_messages(home)) == sorted(archived(cfg, first + late))
    with Services.open(cfg) as svc:
        assert svc.pop3.position() == max(m.archive_seq for m in first + late)
