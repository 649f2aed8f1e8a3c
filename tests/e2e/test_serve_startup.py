"""``mailarchive serve`` and the other commands as a new user meets them, through real processes and sockets.

A taken port stops ``serve`` with one line naming the address and the variable, before anything
exists on disk; a normal start prints the data directory, the store and every address; a command
pointed at a directory without an archive refuses instead of creating one.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from server.config import load_config
from server.web.service import WebService
from tests.support.serving import START_TIMEOUT, serve_env, serving

pytestmark = pytest.mark.e2e

SERVE = (sys.executable, "-m", "server", "serve")

def mailarchive(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=START_TIMEOUT)  # fmt: skip


@contextmanager
def occupied() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize(("daemon", "variable", "what"), [("web", "MAILARCHIVE_WEB_PORT", "the web console"),
                                                            ("smtp", "MAILARCHIVE_SMTP_PORT", "the SMTP journal receiver"),
                                                            ("pop3", "MAILARCHIVE_POP3_PORT", "the POP3 server")])
def test_a_taken_port_is_one_line_and_nothing_is_created(tmp_path: Path, daemon: str, variable: str, what: str) -> None:
    data_dir = tmp_path / "data"
    with occupied() as port:
        done = mailarchive("serve", env=serve_env(data_dir, **{daemon: port}), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"mailarchive: error: cannot listen on 127.0.0.1:{port} for {what}: address already in use "
        f"(set {variable} to another port, or stop what is listening there)"
    ]
    assert not data_dir.exists()  # no users, no generated passwords, no secret key, no spool
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_bad_bind_address_names_the_bind_variable(tmp_path: Path) -> None:
    env = {**serve_env(tmp_path / "data"), "MAILARCHIVE_SMTP_BIND": "192.0.2.1"}  # TEST-NET: not on this host
    done = mailarchive("serve", env=env, cwd=tmp_path)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
    assert "192.0.2.1:0" in done.stderr and "MAILARCHIVE_SMTP_BIND" in done.stderr
    assert not (tmp_path / "data").exists()


def test_a_malformed_setting_is_one_line_exit_2(tmp_path: Path) -> None:
    done = mailarchive("serve", env={**serve_env(tmp_path / "data"), "MAILARCHIVE_WEB_PORT": "80x"}, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, "mailarchive: error: MAILARCHIVE_WEB_PORT must be a whole number, got '80x'\n")
    assert not (tmp_path / "data").exists()


def test_start_prints_data_dir_store_every_address_and_the_first_passwords(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serving(SERVE, serve_env(data_dir), tmp_path) as lines:
        text = "".join(lines)
        assert lines[0] == f"mailarchive: data directory {data_dir.resolve()}\n"
        assert f"store  SQLite {data_dir.resolve() / 'archive.sqlite3'}" in text
        smtp = re.search(r"journal SMTP on 127\.0\.0\.1:(\d+)", text)
        web = re.search(r"sign in at (http://127\.0\.0\.1:(\d+)/login)", text)
        assert smtp and web and "0" not in (smtp.group(1), web.group(2))
        with socket.create_connection(("127.0.0.1", int(smtp.group(1))), timeout=10) as conn:
            assert conn.recv(512).startswith(b"220 ")
        with urllib.request.urlopen(web.group(1), timeout=10) as page:
            assert page.status == 200
        pop3 = re.search(r"POP3 for third-party archiving on 127\.0\.0\.1:(\d+); account archive, disabled", text)
        assert pop3 and pop3.group(1) != "0"
        with socket.create_connection(("127.0.0.1", int(pop3.group(1))), timeout=10) as conn:
            assert conn.recv(512) == b"+OK mailarchive POP3 server ready\r\n"
        assert set(re.findall(r"(\w+)\s+\([\w-]+\s*\) password: \S+", text)) == {"postmaster", "admin"}
        # A command run beside the server sees the accounts, and its exit leaves serve's commits on disk.
        listed = mailarchive("user", "list", "--json", env=serve_env(data_dir), cwd=tmp_path)
        assert {u["username"] for u in json.loads(listed.stdout)} == {"postmaster", "admin"}, listed.stderr
        added = mailarchive("user", "add", "alice", "--role", "archive-admin", env=serve_env(data_dir), cwd=tmp_path)
        assert added.returncode == 0, added.stderr
    listed = mailarchive("user", "list", "--json", env=serve_env(data_dir), cwd=tmp_path)
    assert {u["username"] for u in json.loads(listed.stdout)} >= {"postmaster", "admin", "alice"}
    with serving(SERVE, serve_env(data_dir), tmp_path) as lines:  # the second start shows no password
        assert "password" not in "".join(lines)


def test_passwords_never_shown_are_pointed_to_user_passwd_on_the_next_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = serve_env(data_dir)
    crashed = WebService(load_config(env)).start()  # made the accounts, then died before describe() printed them
    crashed.stop()
    with serving(SERVE, env, tmp_path) as lines:
        text = "".join(lines)
    assert "password:" not in text
    assert "postmaster, admin were made by an earlier start that never showed their passwords" in text
    assert "mailarchive user passwd postmaster" in text
    with serving(SERVE, env, tmp_path) as lines:  # said once
        assert "mailarchive user passwd" not in "".join(lines)


@pytest.mark.parametrize("args", [("search", "--from", "2024-01-01", "--to", "2024-12-31"), ("user", "list"),
                                  ("archiving", "status"), ("import", "."), ("audit", "verify")])
def test_commands_refuse_a_data_dir_without_an_archive(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = serve_env(tmp_path / "nowhere")
    done = mailarchive(*args, env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"mailarchive: error: no archive in {tmp_path / 'nowhere'}: set MAILARCHIVE_DATA_DIR to the archive's "
        "data directory, or run 'mailarchive serve' once to create an archive there"
    ]
    del env["MAILARCHIVE_DATA_DIR"]  # the default, ./data, from a directory that has none
    assert mailarchive(*args, env=env, cwd=tmp_path).returncode == 2
    assert list(tmp_path.iterdir()) == []


def test_only_names_an_unknown_daemon_and_lists_the_known_ones(tmp_path: Path) -> None:
    done = mailarchive("serve", "--only", "web,pop4", env=serve_env(tmp_path / "data"), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("mailarchive: error: --only: unknown daemon pop4 (choose from ")
    assert "smtp" in done.stderr and "web" in done.stderr and not (tmp_path / "data").exists()
