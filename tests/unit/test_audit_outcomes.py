"""A refused operation is logged once, as refused, never as a success (issue 19 item 8; the rule is
in docs/audit.md): every refusing CLI and API path, each checked for its exit code or status and
for the one entry it leaves.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from server.audit.operations import Op, Result
from server.cli import main
from server.config import Config
from server.store.protocol import AuditRecord
from server.web.context import services_of
from tests.support.web import PASSWORD, api_token, close_app, csrf_token, signed_in
from tests.support.webdata import sample_app

DENIED, FAILURE = Result.DENIED, Result.FAILURE
RANGE = ["--from", "2024-03-01", "--to", "2024-03-31"]


@pytest.fixture
def app(config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The console with sample mail; the CLI runs against the same data directory."""
    monkeypatch.setenv("MAILARCHIVE_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("MAILARCHIVE_CONFIG", "none")
    monkeypatch.setenv("MAILARCHIVE_STORE", "sqlite")
    (tmp_path / "bad.csv").write_text("address,name,department,status\nnot-an-address,x,/S,active\n")
    app = sample_app(config)
    yield app
    close_app(app)


def _entries(app: Flask) -> list[AuditRecord]:
    return list(services_of(app).store.audit_scan())


def _cli(*argv: str, stdin: str | None = None) -> Callable[[Flask, pytest.MonkeyPatch], int]:
    def run(app: Flask, monkeypatch: pytest.MonkeyPatch) -> int:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return main([a.replace("{tmp}", str(services_of(app).config.data_dir.parent)) for a in argv])
    return run


CLI_CASES = [
    # (argv, exit code, operation, result, target)
    (_cli("user", "add", "bob", "--role", "postmaster"), 2, Op.USER_CHANGE, DENIED, "bob"),
    (_cli("user", "add", "x", "--role", "boss"), 2, Op.USER_CHANGE, FAILURE, "x"),
    (_cli("user", "add", "bad name", "--role", "none"), 2, Op.USER_CHANGE, FAILURE, "bad name"),
    (_cli("user", "add", "archie", "--role", "none"), 2, Op.USER_CHANGE, FAILURE, "archie"),
    (_cli("user", "add", "x", "--role", "none", "--password-stdin", stdin="short\n"), 2, Op.USER_CHANGE, FAILURE, "x"),
    (_cli("user", "passwd", "ghost"), 2, Op.USER_CHANGE, FAILURE, "ghost"),
    (_cli("user", "role", "ghost", "archive-admin"), 2, Op.ROLE_CHANGE, FAILURE, "ghost"),
    (_cli("user", "role", "postmaster", "email-admin"), 2, Op.ROLE_CHANGE, DENIED, "postmaster"),
    (_cli("user", "role", "emma", "postmaster"), 2, Op.ROLE_CHANGE, DENIED, "emma"),
    (_cli("user", "disable", "postmaster"), 2, Op.USER_CHANGE, DENIED, "postmaster"),
    (_cli("user", "token", "ghost"), 2, Op.USER_CHANGE, FAILURE, "ghost"),
    (_cli("search", "--from", "2024-04-01", "--to", "2024-03-01"), 2, Op.SEARCH, FAILURE, ""),
    (_cli("search", *RANGE, "--cursor", "not-a-cursor"), 2, Op.SEARCH, FAILURE, ""),
    (_cli("search", "--from", "2024-03-01", "--all", "--jsonl"), 2, Op.SEARCH, FAILURE, ""),
    (_cli("export", "--id", "no-such-id", "--out", "{tmp}/x.eml"), 2, Op.EML_EXPORT, FAILURE, "no-such-id"),
    (_cli("export", "--from", "yesterday", "--to", "2024-03-01", "--out", "{tmp}/x.zip"), 2, Op.BULK_EXPORT, FAILURE, ""),
    (_cli("audit", "query", *RANGE, "--operation", "nonsense"), 2, Op.AUDIT_QUERY, FAILURE, ""),
    (_cli("audit", "query", *RANGE, "--csv", "--operation", "nonsense"), 2, Op.AUDIT_EXPORT, FAILURE, ""),
    (_cli("directory", "import", "{tmp}/bad.csv"), 2, Op.DIRECTORY_IMPORT, FAILURE, "{tmp}/bad.csv"),
    (_cli("import", "{tmp}/nowhere"), 2, Op.IMPORT, FAILURE, "{tmp}/nowhere"),
    (_cli("import", "{tmp}/bad.csv", "--mailbox", "not-an-address"), 2, Op.IMPORT, FAILURE, "{tmp}/bad.csv"),
    (_cli("demo-data", "--count", "0"), 2, Op.IMPORT, FAILURE, "demo-data"),
]


@pytest.mark.parametrize(("run", "code", "operation", "result", "target"), CLI_CASES,
                         ids=[f"{c[2]}-{n}" for n, c in enumerate(CLI_CASES)])  # fmt: skip
def test_refused_cli_commands_log_one_refusal(app: Flask, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                                              run, code, operation, result, target) -> None:  # noqa: ANN001
    before = len(_entries(app))
    users_before = [u.username for u in services_of(app).users.list()]
    assert run(app, monkeypatch) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mailarchive: error: ")
    new = _entries(app)[before:]
    assert [(e.actor, e.operation, e.result) for e in new] == [("cli", operation, result)]
    assert new[0].target == target.replace("{tmp}", str(services_of(app).config.data_dir.parent))
    assert new[0].details["error"] in err  # the entry gives the reason the operator was shown
    assert [u.username for u in services_of(app).users.list()] == users_before


def test_the_postmaster_role_refusal_of_the_issue(app: Flask, capsys: pytest.CaptureFixture) -> None:
    """``user add bob --role postmaster`` exited 2 but logged ``success``; now the log says denied."""
    assert main(["user", "add", "bob", "--role", "postmaster"]) == 2
    last = _entries(app)[-1]
    assert (last.operation, last.target, last.result) == (Op.USER_CHANGE, "bob", DENIED)
    assert "built in" in last.details["error"] and services_of(app).users.get("bob") is None


def test_syntax_errors_are_not_operations(app: Flask, capsys: pytest.CaptureFixture) -> None:
    before = len(_entries(app))
    for argv in (["search", *RANGE, "--colour"], ["export", "--out", "x.eml"], ["user", "add", "x"],
                 ["export", "--id", "a", "--out", "/no/such/dir/x.eml"]):  # fmt: skip
        assert main(argv) == 2
    assert len(_entries(app)) == before


API_CASES = [
    # (method, url, json body, status, operation, result)
    ("get", "/api/v1/messages?from=2024-04-01&to=2024-03-01", None, 400, Op.SEARCH, FAILURE),
    ("get", "/api/v1/messages?from=2024-03-01&to=2024-03-31&limit=0", None, 400, Op.SEARCH, FAILURE),
    ("get", "/api/v1/messages/no-such-id", None, 404, Op.MESSAGE_VIEW, FAILURE),
    ("get", "/api/v1/messages/no-such-id/raw", None, 404, Op.EML_EXPORT, FAILURE),
    ("get", "/api/v1/messages/{contract}/attachments/99", None, 404, Op.ATTACHMENT_DOWNLOAD, FAILURE),
    ("post", "/api/v1/messages/export", {"ids": []}, 400, Op.BULK_EXPORT, FAILURE),
    ("post", "/api/v1/messages/export", {"ids": ["no-such-id"]}, 404, Op.BULK_EXPORT, FAILURE),
    ("post", "/api/v1/messages/export", {"id": "x"}, 400, Op.BULK_EXPORT, FAILURE),
    ("post", "/api/v1/archiving", {"enabled": "yes"}, 400, Op.ARCHIVING_DISABLE, FAILURE),
    ("get", "/api/v1/audit?from=2024-03-01&to=2024-03-31&operation=nonsense", None, 400, Op.AUDIT_QUERY, FAILURE),
    ("get", "/api/v1/audit.csv?from=2024-03-31&to=2024-03-01", None, 400, Op.AUDIT_EXPORT, FAILURE),
]


@pytest.mark.parametrize(("method", "url", "body", "status", "operation", "result"), API_CASES,
                         ids=[f"{c[0]} {c[1]}" for c in API_CASES])  # fmt: skip
def test_refused_api_calls_log_one_refusal(app: Flask, method, url, body, status, operation, result) -> None:  # noqa: ANN001
    headers = api_token(app, "archie")
    before = len(_entries(app))
    response = getattr(app.test_client(), method)(url.format(**app.sample_ids), json=body, headers=headers)
    assert response.status_code == status and response.json["error"]
    new = _entries(app)[before:]
    assert [(e.actor, e.operation, e.result) for e in new] == [("archie", operation, result)]
    assert new[0].details["error"] == response.json["error"]


def test_refused_console_forms_log_one_refusal(app: Flask) -> None:
    emma = signed_in(app, "emma")
    token = csrf_token(emma, "/admin/users")
    cases = [
        ("/admin/users/postmaster/role", {"role": "archive-admin"}, Op.ROLE_CHANGE, DENIED),
        ("/admin/users/archie/role", {"role": "email-admin"}, Op.ROLE_CHANGE, DENIED),
        ("/admin/users", {"username": "Bad Name!"}, Op.USER_CHANGE, FAILURE),
        ("/admin/users", {"username": "archie"}, Op.USER_CHANGE, FAILURE),
        ("/account", {"current": "wrong password", "new": "a new password", "confirm": "a new password"},
         Op.USER_CHANGE, DENIED),
    ]
    for url, form, operation, result in cases:
        before = len(_entries(app))
        assert emma.post(url, data={**form, "csrf_token": token}).status_code in (200, 302)
        assert [(e.actor, e.operation, e.result) for e in _entries(app)[before:]] == [("emma", operation, result)], url
    anonymous = app.test_client()
    token = csrf_token(anonymous)
    before = len(_entries(app))
    anonymous.post("/login", data={"username": "emma", "password": PASSWORD + "x", "csrf_token": token})
    assert [(e.actor, e.operation, e.result) for e in _entries(app)[before:]] == [("emma", Op.LOGIN_FAILED, FAILURE)]
    assert services_of(app).users.require("archie").role == "archive-admin"
