"""Only the purge deletes a message: every route of the console and API, and every command, is
called (with an archive administrator's and an e-mail administrator's session, plausible
arguments and the ids of archived mail), and every archived message and its bytes are still there.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from server.cli import COMMANDS, build_parser, main
from server.indexing.pipeline import Ingestor
from server.model import now_utc
from server.services.actor import Actor
from server.services.context import Services
from server.users import Role
from server.web.context import services_of
from tests.support.cli import cli_archive
from tests.support.mail import make_mail
from tests.support.web import csrf_token, running_app, signed_in

NOT_WALKED = {"serve", "worker", "bench", "purge"}  # long-running daemons, the benchmark, and the purge itself


def fill(svc: Services) -> list[str]:
    """Three messages whose retention has ended (so a wrongly wired purge would find them)."""
    ingestor = Ingestor(svc.store, svc.config)
    ids = [ingestor.ingest(make_mail(subject=f"keep {n}"), source="import").id for n in range(3)]
    svc.store.set_retention({i: now_utc() - timedelta(days=1) for i in ids})
    svc.store.refresh()
    return ids


def all_there(svc: Services, ids: list[str]) -> bool:
    messages = svc.store.get_messages(ids)
    return len(messages) == len(ids) and all(svc.store.get_raw(m.sha256) for m in messages)


@pytest.fixture
def app(config) -> Iterator[Flask]:  # noqa: ANN001
    with running_app(config, {"alice": Role.ARCHIVE_ADMIN, "bob": Role.EMAIL_ADMIN}) as app:
        yield app


def test_no_route_deletes_a_message(app: Flask) -> None:
    svc = services_of(app)
    ids = fill(svc)
    svc.holds.place(Actor.cli(), "h", "r", {"mailbox": "alice@corp.example"})
    rules = sorted(app.url_map.iter_rules(), key=lambda r: "logout" in r.rule)  # signing out last
    called = 0
    for username in ("alice", "bob"):
        client = signed_in(app, username)
        token = csrf_token(client, "/account")
        for rule in rules:
            values = {arg: ids[0] if "id" in arg else "x" for arg in rule.arguments}
            values.update({arg: 0 for arg, kind in rule._converters.items() if kind.__class__.__name__ == "IntegerConverter"})
            values.update({arg: "hold-1" for arg in rule.arguments if "hold" in arg})
            path = app.url_map.bind("localhost").build(rule.endpoint, values)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                body = {"ids": ids, "id": ids[0], "confirmed": "yes", "csrf_token": token, "action": "disable"}
                client.open(path, method=method, json=body, headers={"X-CSRFToken": token})
                client.open(path, method=method, data=body)
                called += 1
        assert all_there(svc, ids), f"a route of {username} deleted mail"
    assert called > 40


def leaves(name: str) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
    """(argv prefix, parser) of every runnable command under ``name``."""
    parser = build_parser([name])
    command = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    subs = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield [name], command
        return
    for sub, sub_parser in subs[0].choices.items():
        yield [name, sub], sub_parser


def arguments(parser: argparse.ArgumentParser, message_id: str, tmp: Path) -> list[str]:
    """Values for the positionals and required options, the time range and an output file."""
    argv: list[str] = []
    for action in parser._actions:
        value = message_id if "id" in action.dest else str(tmp / "mail.eml") if "path" in action.dest else "x"
        if not action.option_strings:
            argv.append(value)
        elif action.required or action.dest in ("out", "id"):
            argv += [action.option_strings[0], str(tmp / "out.zip") if action.dest == "out" else value]
    options = {o for a in parser._actions for o in a.option_strings}
    return argv + (["--from", "2000-01-01", "--to", "2100-01-01"] if "--from" in options else [])


def test_no_command_deletes_a_message(monkeypatch, tmp_path, capsys) -> None:  # noqa: ANN001
    config = cli_archive(monkeypatch, tmp_path / "data")
    (tmp_path / "mail.eml").write_bytes(make_mail(subject="imported"))
    with Services.open(config) as svc:
        ids = fill(svc)
    ran = 0
    for name in sorted(set(COMMANDS) - NOT_WALKED):
        for prefix, parser in leaves(name):
            for argv in (prefix, prefix + arguments(parser, ids[0], tmp_path)):
                main(argv)
                ran += 1
    capsys.readouterr()
    with Services.open(config) as svc:
        assert all_there(svc, ids)
    assert ran > 20
