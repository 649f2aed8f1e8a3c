"""``mailarchive user ...`` and ``mailarchive archiving ...`` on a real store in a temp data dir."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.archiving import switch_state
from server.cli import main
from server.config import Config
from server.store.protocol import Store
from server.store.sqlite import SqliteStore
from server.users import UserService, bootstrap_first_start, token_key
from tests.support.cli import cli_archive


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, config: Config, tmp_path: Path) -> None:
    cli_archive(monkeypatch, config.data_dir)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    store = SqliteStore.from_config(config)
    yield store
    store.close()


def run(capsys: pytest.CaptureFixture, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:  # noqa: ANN001
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_with_generated_password_then_sign_in(capsys, store: Store) -> None:  # noqa: ANN001
    code, out, _ = run(capsys, "user", "add", "Erin", "--role", "email-admin")
    assert code == 0 and "user erin added with role email-admin" in out
    password = out.split("password: ")[1].strip()
    assert UserService(store).authenticate("erin", password).role == "email-admin"
    [entry] = store.audit_scan()
    assert (entry.actor, entry.operation, entry.target, entry.details) == ("cli", "user_change", "erin",
                                                                           {"change": "create", "role": "email-admin"})


def test_password_from_stdin_and_passwd(capsys, monkeypatch, store: Store) -> None:  # noqa: ANN001
    assert run(capsys, "user", "add", "bob", "--role", "email-admin", "--password-stdin",
               stdin="first password!\n", monkeypatch=monkeypatch)[0] == 0  # fmt: skip
    assert UserService(store).authenticate("bob", "first password!")
    code, out, _ = run(capsys, "user", "passwd", "bob", "--password-stdin", stdin="second password\n", monkeypatch=monkeypatch)
    assert code == 0 and "new password" not in out
    assert UserService(store).authenticate("bob", "second password")
    assert not UserService(store).authenticate("bob", "first password!")


def test_bad_input_exits_2_with_one_line(capsys, monkeypatch) -> None:  # noqa: ANN001
    for argv, stdin, message in (
        (["user", "add", "x", "--role", "boss"], None, "unknown role 'boss'"),
        (["user", "add", "x", "--role", "none", "--password-stdin"], "short\n", "password too short"),
        (["user", "role", "ghost", "archive-admin"], None, "no such user: ghost"),
        (["user", "add", "bad name", "--role", "none"], None, "invalid user name"),
    ):
        code, _, err = run(capsys, *argv, stdin=stdin, monkeypatch=monkeypatch)
        assert code == 2 and message in err and err.count("\n") == 1


def test_role_rules_and_listing(capsys, store: Store) -> None:  # noqa: ANN001
    run(capsys, "user", "add", "postmaster", "--role", "postmaster")
    run(capsys, "user", "add", "carl", "--role", "none")
    code, out, _ = run(capsys, "user", "role", "carl", "archive-admin")
    assert code == 0 and out.startswith("carl: none -> archive-admin (pending)\n") and "/set-password/" in out
    UserService(store).use_link(out.split("/set-password/")[1].split()[0], "carl's own password")
    code, _, err = run(capsys, "user", "role", "postmaster", "email-admin")
    assert code == 2 and "built in" in err
    code, out, _ = run(capsys, "user", "list", "--json")
    assert [(u["username"], u["role"]) for u in json.loads(out)] == [("carl", "archive-admin"), ("postmaster", "postmaster")]
    assert run(capsys, "user", "disable", "carl")[0] == 0
    assert UserService(store).require("carl").disabled


def test_token_is_printed_once_and_stored_hashed(capsys, store: Store) -> None:  # noqa: ANN001
    run(capsys, "user", "add", "alice", "--role", "email-admin")  # (never for an archive-admin: test_security_tokens)
    code, out, _ = run(capsys, "user", "token", "alice")
    token = out.strip()
    assert code == 0 and token.startswith("ma_")
    assert UserService(store).user_for_token(token).username == "alice"
    assert store.get_doc("api_token", token) is None and store.get_doc("api_token", token_key(token))


def test_archiving_switch_and_status(capsys, store: Store) -> None:  # noqa: ANN001
    assert run(capsys, "archiving", "enable") == (0, "archiving enabled\n", "")
    assert switch_state(store)["enabled"] is True
    assert run(capsys, "archiving", "disable")[0] == 0
    code, out, _ = run(capsys, "archiving", "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["status"] == "disabled" and status["last_enabled_at"] and status["last_disabled_at"]
    assert [(e.actor, e.role, e.operation) for e in store.audit_scan()] == [
        ("cli", "operator", "archiving_enable"), ("cli", "operator", "archiving_disable")]
    code, out, _ = run(capsys, "archiving", "status")
    assert "status                   disabled" in out


def test_first_start_after_cli_setup_still_creates_the_postmaster(capsys, store: Store) -> None:  # noqa: ANN001
    run(capsys, "user", "add", "eve", "--role", "email-admin")
    created = bootstrap_first_start(store)
    assert [(c.username, c.role) for c in created] == [("postmaster", "postmaster")]
    assert UserService(store).authenticate("postmaster", created[0].password)
    assert bootstrap_first_start(store) == []
