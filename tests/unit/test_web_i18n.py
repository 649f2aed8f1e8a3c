"""English and Simplified Chinese: the switch, Accept-Language, and a complete catalog for the core pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from server.users import Role
from server.web.app import TEMPLATES
from server.web.errors import MESSAGES
from server.web.i18n import ROLE_LABELS, catalog
from server.web.nav import NAV
from tests.support.web import running_app, signed_in

CORE_TEMPLATES = [TEMPLATES / "base.html", *(p for d in ("auth", "admin", "archiving", "errors") for p in (TEMPLATES / d).glob("*.html"))]
CORE_MODULES = [Path(__file__).parents[2] / "server/web" / f"{m}.py" for m in ("auth", "account_tokens", "admin", "archiving", "errors", "nav", "i18n")]
STRING = re.compile(r"""(?<![\w.])(?:_|t)\(\s*(["'])(.+?)\1\s*[,)]""")
CORE_BLUEPRINTS = ("auth.", "admin.", "archiving.")


@pytest.fixture
def app(config) -> Iterator[Flask]:
    with running_app(config, {"alice": Role.ARCHIVE_ADMIN}) as app:
        yield app


def test_switch_sets_the_language_for_later_pages(app: Flask) -> None:
    client = signed_in(app, "alice")
    assert "Archive summary" in client.get("/archiving/summary").get_data(as_text=True)
    response = client.get("/lang/zh-CN?next=/archiving/summary")
    assert response.status_code == 302 and response.headers["Location"] == "/archiving/summary"
    page = client.get("/archiving/summary").get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "归档概况" in page and "可归档邮箱数" in page
    assert client.get("/lang/xx").status_code == 404
    assert client.get("/lang/en?next=https://evil.example/").headers["Location"] == "/"


def test_accept_language_picks_chinese(app: Flask) -> None:
    page = app.test_client().get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "登录归档控制台" in page.get_data(as_text=True)


def test_every_core_string_is_translated() -> None:
    zh = catalog("zh-CN")
    texts = {m.group(2) for path in CORE_TEMPLATES + CORE_MODULES for m in STRING.finditer(path.read_text())}
    texts |= {text for item in NAV if item.endpoint.startswith(CORE_BLUEPRINTS) for text in (item.label, item.section)}
    texts |= set(ROLE_LABELS.values()) | set(MESSAGES.values())
    assert len(texts) > 60
    assert sorted(texts - zh.keys()) == []
