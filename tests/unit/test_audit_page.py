"""The Archive Log Query page redone (issue 16 item 6), on a real app and store: details as
labelled fields (never JSON), Chinese values intact, keyword over detail values only, translated
operation filter, and a pager with page x of y, previous and next.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.audit.operations import Op
from server.config import Config
from server.users import Role
from server.web.context import services_of
from tests.support.web import add_user, close_app, login, make_app

RANGE = {"from": "2000-01-01", "to": "2100-01-01"}


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    app = make_app(config)
    add_user(app, "arch", Role.ARCHIVE_ADMIN)
    log = services_of(app).audit_log
    for n in range(7):
        log.record(actor="arch", role="archive-admin", operation=Op.MESSAGE_VIEW, target=f"msg-{n}",
                   details={"subject": "季度合同审核 Q3" if n == 3 else f"Weekly report {n}", "remote_images": n == 5,
                            "criteria": {"mailbox": "li.na@corp.example"}},
                   source_ip="10.0.0.9")  # fmt: skip
    yield app
    close_app(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    client = app.test_client()
    login(client, "arch")
    return client


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-seq="\d+">(.*?)</tr>', html, flags=re.S)


def test_details_are_labelled_fields_not_json(client: FlaskClient) -> None:
    html = client.get("/audit", query_string={**RANGE, "operation": "message_view"}).get_data(as_text=True)
    rows = _rows(html)
    assert len(rows) == 7
    details = rows[3].split('class="details"', 1)[1]
    assert '<dt>Subject</dt><dd>季度合同审核 Q3</dd>' in details  # the value whole, in one element
    assert '<dt>Mailbox</dt><dd>li.na@corp.example</dd>' in details and '<dt>Remote images shown</dt><dd>No</dd>' in details
    assert "{" not in details and "&#34;" not in details and "&quot;" not in details


def test_chinese_page_translates_labels_and_values(client: FlaskClient) -> None:
    client.set_cookie("lang", "zh-CN")
    html = client.get("/audit", query_string={**RANGE, "operation": "message_view"}).get_data(as_text=True)
    assert "<dt>主题</dt><dd>季度合同审核 Q3</dd>" in html and "<dt>显示远程图片</dt><dd>是</dd>" in html
    assert ">查看邮件<" in html and "第 1 页，共 1 页" in html


def test_keyword_searches_detail_values_not_key_names(client: FlaskClient) -> None:
    def hits(keyword: str) -> int:
        query = {**RANGE, "operation": "message_view", "keyword": keyword}
        return len(_rows(client.get("/audit", query_string=query).get_data(as_text=True)))

    assert hits("合同") == 1 and hits("weekly") == 6 and hits("li.na@") == 7 and hits("msg-4") == 1
    assert hits("subject") == 0 and hits("mailbox") == 0 and hits("remote_images") == 0 and hits('":"') == 0


def test_operation_filter_lists_translated_labels(client: FlaskClient) -> None:
    html = client.get("/audit").get_data(as_text=True)
    select = html.split('id="audit-operation"', 1)[1].split("</select>", 1)[0]
    assert '<option value="message_view">View message</option>' in select and "message_view<" not in select
    assert len(re.findall("<option", select)) == len(Op) + 1


def test_pages_show_x_of_y_with_previous_and_next(client: FlaskClient) -> None:
    query = {**RANGE, "operation": "message_view", "limit": "3"}
    first = client.get("/audit", query_string=query).get_data(as_text=True)
    assert "Page 1 of 3" in first and 'id="prev-page"' not in first
    second = client.get(_href(first, "next-page")).get_data(as_text=True)
    assert "Page 2 of 3" in second and [_target(r) for r in _rows(second)] == ["msg-3", "msg-2", "msg-1"]
    third = client.get(_href(second, "next-page")).get_data(as_text=True)
    assert "Page 3 of 3" in third and 'id="next-page"' not in third and 'id="first-page"' in third
    back = client.get(_href(third, "prev-page")).get_data(as_text=True)
    assert "Page 2 of 3" in back and [_target(r) for r in _rows(back)] == ["msg-3", "msg-2", "msg-1"]
    start = client.get(_href(back, "prev-page")).get_data(as_text=True)
    assert "Page 1 of 3" in start and [_target(r) for r in _rows(start)] == ["msg-6", "msg-5", "msg-4"]
    broken = client.get("/audit", query_string={**query, "trail": "x,<script>"})
    assert broken.status_code == 200 and "Page 1 of 3" in broken.get_data(as_text=True)


def test_quick_picks_are_separate_buttons(client: FlaskClient) -> None:
    html = client.get("/audit").get_data(as_text=True)
    picks = html.split('id="audit-quick-picks"', 1)[1].split("</div>", 1)[0]
    assert len(re.findall(r'class="btn btn-small quick-pick"', picks)) == 3
    assert "<fieldset" not in html.split('id="audit-form"', 1)[1].split("</form>", 1)[0]


def _href(html: str, element_id: str) -> str:
    return re.search(rf'href="([^"]+)"[^>]*id="{element_id}"', html)[1].replace("&amp;", "&")


def _target(row: str) -> str:
    return re.search(r'class="target"[^>]*>([^<]+)<', row)[1]
