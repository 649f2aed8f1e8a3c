"""The console served by waitress over real HTTP, as ``mailarchive serve`` starts it."""

from __future__ import annotations

import json
import re
import urllib.request

from server.config import Config, with_overrides
from server.store.sqlite import SqliteStore
from server.users import UserService
from server.web.service import start


def test_first_start_credentials_are_shown_once_and_work(config: Config) -> None:
    config = with_overrides(config, web_port=0)
    service = start(config)
    try:
        text = service.describe()
        assert text.startswith(f"web console: sign in at http://127.0.0.1:{service.server.getsockname()[1]}/login")
        shown = dict(re.findall(r"(\S+)\s+\((?:[\w-]+)\s*\) password: (\S+)", text))
        assert set(shown) == {"postmaster", "admin"}
        assert "password" not in service.describe()  # once
        base = service.url.removesuffix("/login")
        with urllib.request.urlopen(base + "/healthz") as response:
            assert json.load(response) == {"status": "ok"}
    finally:
        service.stop()
    assert not service.thread.is_alive()
    store = SqliteStore.from_config(config)
    try:
        users = UserService(store)
        assert users.authenticate("postmaster", shown["postmaster"]).role == "postmaster"
        assert users.authenticate("admin", shown["admin"]).role == "email-admin"
    finally:
        store.close()
    again = start(config)  # a second start creates nobody and shows no password
    try:
        assert "password" not in again.describe()
    finally:
        again.stop()
