"""Administering the POP3 account: ``mailarchive pop3 ...`` and the Third-party Archive Integration page.

Both edges call the same service on a real store; every change leaves exactly one audit entry,
and only archive administrators (or the operator on the server) may make it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from server.cli import main
from server.config import Config
from server.services.actor import Actor
from server.services.context import Services
from server.services.errors import Forbidden
from server.users import Role, verify_password
from server.web.app import TEMPLATES
from server.web.i18n import catalog
from tests.support.cli import cli_archive
from tests.support.web import running_app, signed_in

NEW = "a long pop3 password"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, config: Config) -> None:
    cli_archive(monkeypatch, config.data_dir)


def cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["pop3", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def account(config: Config) -> dict:
    with Services.open(config) as svc:
        return svc.store.get_doc("pop3", "account") or {}


def audit_ops(config: Config) -> list[tuple[str, str, str]]:
    with Services.open(config) as svc:
        return [(e.actor, e.operation, e.result) for e in svc.store.audit_scan()]


# --- the command line -------------------------------------------------------------------------------
def test_enable_status_password_disable(capsys, monkeypatch, config: Config) -> None:  # noqa: ANN001
    code, out, err = cli(capsys, monkeypatch, "enable")
    assert (code, out) == (2, "") and err == "mailarchive: error: set a password for the POP3 account to enable it\n"
    code, out, _ = cli(capsys, monkeypatch, "enable", "--password-stdin", stdin=NEW + "\n")
    assert code == 0 and re.search(r"POP3 access\s+enabled", out) and re.search(r"password\s+set", out)
    assert verify_password(account(config)["password_hash"], NEW)
    code, out, _ = cli(capsys, monkeypatch, "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["enabled"] and status["account"] == "archive" and status["port"] == 1110
    assert status["bind"] == "127.0.0.1" and status["tls_port"] is None and status["position"] == 0
    code, _, err = cli(capsys, monkeypatch, "password", "--password-stdin", stdin="short\n")
    assert code == 2 and err == "mailarchive: error: password too short: at least 10 characters\n"
    code, _, _ = cli(capsys, monkeypatch, "password", "--password-stdin", stdin="another long one\n")
    assert code == 0 and verify_password(account(config)["password_hash"], "another long one")
    code, out, _ = cli(capsys, monkeypatch, "disable")
    assert code == 0 and re.search(r"POP3 access\s+disabled", out)
    code, _, _ = cli(capsys, monkeypatch, "enable")  # the password set before is kept
    assert code == 0 and account(config)["enabled"]
    assert audit_ops(config) == [
        ("cli", "pop3_enable", "failure"), ("cli", "pop3_enable", "success"), ("cli", "pop3_password_change", "failure"),
        ("cli", "pop3_password_change", "success"), ("cli", "pop3_disable", "success"), ("cli", "pop3_enable", "success"),
    ]  # fmt: skip


def test_status_in_words(capsys, monkeypatch) -> None:  # noqa: ANN001
    code, out, _ = cli(capsys, monkeypatch, "status")
    assert code == 0
    assert re.search(r"POP3 access\s+disabled", out) and re.search(r"account\s+archive", out)
    assert re.search(r"server address\s+127\.0\.0\.1", out) and re.search(r"POP3 port\s+1110", out)


def test_only_archive_administrators_may_administer(config: Config) -> None:
    with Services.open(config) as svc:
        for role in (Role.EMAIL_ADMIN, Role.POSTMASTER, ""):
            with pytest.raises(Forbidden):
                svc.pop3.enable(Actor("mallory", role), NEW)
        assert not account(config)
        svc.pop3.enable(Actor("alice", Role.ARCHIVE_ADMIN), NEW)
        assert account(config)["changed_by"] == "alice"
    assert [op[2] for op in audit_ops(config)] == ["denied", "denied", "denied", "success"]


# --- the console page ---------------------------------------------------------------------------------
@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    with running_app(config, {"alice": Role.ARCHIVE_ADMIN, "erin": Role.EMAIL_ADMIN}) as app:
        yield app


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_page_is_for_archive_administrators_only(app: Flask) -> None:
    assert signed_in(app, "erin").get("/integration/").status_code == 403
    assert app.test_client().get("/integration/").status_code == 302  # to the sign-in page
    page = signed_in(app, "alice").get("/integration/").get_data(as_text=True)
    assert "Third-party Archive Integration" in page and '<code>archive</code>' in page
    assert 'id="pop3-port">1110<' in page and "Enable POP3 access" in page


def test_enable_change_password_and_disable_from_the_page(app: Flask, config: Config) -> None:
    client = signed_in(app, "alice")
    token = csrf(client.get("/integration/").get_data(as_text=True))
    page = client.post("/integration/enable", data={"csrf_token": token, "password": NEW, "confirm": "different"},
                       follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "The two passwords differ." in page and not account(config)
    page = client.post("/integration/enable", data={"csrf_token": token, "password": "short", "confirm": "short"},
                       follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "password too short: at least 10 characters" in page and not account(config)
    page = client.post("/integration/enable", data={"csrf_token": token, "password": NEW, "confirm": NEW},
                       follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "POP3 access is now enabled." in page and account(config)["enabled"]
    assert "Change the POP3 password" in page and "Disable POP3 access" in page
    client.post("/integration/password", data={"csrf_token": token, "password": "second password!", "confirm": "second password!"})
    assert verify_password(account(config)["password_hash"], "second password!")
    assert "From now on, POP3 logins" in client.get("/integration/disable").get_data(as_text=True)
    client.post("/integration/disable", data={"csrf_token": token})  # not confirmed: nothing happens
    assert account(config)["enabled"]
    client.post("/integration/disable", data={"csrf_token": token, "confirmed": "yes"})
    assert not account(config)["enabled"]
    assert [(a, op) for a, op, r in audit_ops(config) if r == "success" and op.startswith("pop3")] == [
        ("alice", "pop3_enable"), ("alice", "pop3_password_change"), ("alice", "pop3_disable")]


def test_the_page_in_chinese(app: Flask) -> None:
    client = signed_in(app, "alice")
    client.get("/lang/zh-CN")
    page = client.get("/integration/").get_data(as_text=True)
    assert "第三方归档集成" in page and "启用 POP3 访问" in page


def test_every_string_of_the_page_is_translated() -> None:
    pattern = re.compile(r"""(?<![\w.])(?:_|t)\(\s*(["'])(.+?)\1\s*[,)]""")
    sources = [*(TEMPLATES / "pop3").glob("*.html"), Path(__file__).parents[2] / "server/web/pop3_views.py"]
    texts = {m.group(2) for path in sources for m in pattern.finditer(path.read_text())}
    assert len(texts) > 30
    assert sorted(texts - catalog("zh-CN").keys()) == []
