"""The search page and ``GET /api/v1/messages``: criteria in the URL, inline errors, highlighting,
cursor paging, role checks and the audit entry of each search."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest

from server.audit.operations import Op
from server.web.i18n import catalog
from server.web.render import department_options, human_size, near_match, quick_ranges
from tests.support.web import api_token
from tests.support.webdata import (  # noqa: F401 - fixtures
    WHEN,
    admin_fixture,
    audit_entries,
    sample_app,
    sample_app_fixture,
    signed_in,
)

RANGE = {"from": (WHEN - timedelta(days=30)).date().isoformat(), "to": (WHEN + timedelta(days=3)).date().isoformat()}


def test_search_page_finds_chinese_keyword_and_highlights_it(app, admin) -> None:  # noqa: ANN001
    html = admin.get("/search?" + urlencode({**RANGE, "keyword": "合同"})).get_data(as_text=True)
    assert "季度<mark>合同</mark>审核 Q3" in html
    assert "Old contract" not in html  # outside the time range
    assert "1 messages found" in html or "1 message" in html
    assert f'/messages/{app.sample_ids["contract"]}' in html
    assert 'name="id"' in html and "csrf_token" in html  # bulk selection form
    [entry] = audit_entries(app, Op.SEARCH)
    assert entry.actor == "archie" and entry.details["keyword"] == "合同" and entry.details["hits"] == 1


def test_criteria_stay_in_the_url_and_the_form(admin) -> None:  # noqa: ANN001
    query = urlencode([*RANGE.items(), ("sender", "alice@corp.example"), ("scope", "subject"), ("keyword", "report")])
    html = admin.get("/search?" + query).get_data(as_text=True)
    assert 'value="alice@corp.example"' in html and "<mark>report</mark>" in html
    assert 'value="subject" checked' in html and 'value="body" checked' not in html


def test_bad_criteria_give_an_inline_error_next_to_the_field(admin) -> None:  # noqa: ANN001
    response = admin.get("/search?" + urlencode({**RANGE, "sender": "not-an-address"}))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="sender-error"' in html and "full email address" in html and 'aria-invalid="true"' in html
    missing = admin.get("/search?" + urlencode({"keyword": "x", "from": ""})).get_data(as_text=True)
    assert 'id="from-error"' in missing and "Enter a date (YYYY-MM-DD)." in missing


def test_fresh_page_prefills_last_30_days_without_searching(app, admin) -> None:  # noqa: ANN001
    html = admin.get("/search").get_data(as_text=True)
    days, start, end = quick_ranges("UTC")[1]
    assert days == 30 and f'value="{start}"' in html and f'value="{end}"' in html
    assert "messages found" not in html and audit_entries(app, Op.SEARCH) == []


def test_department_filter_with_and_without_subdepartments(admin) -> None:  # noqa: ANN001
    exact = admin.get("/search?" + urlencode({**RANGE, "department": "/销售部"})).get_data(as_text=True)
    assert "季度合同审核" in exact  # li.na is in /销售部 exactly
    assert "华东" in exact  # the tree picker lists the sub-department
    sub = admin.get("/search?" + urlencode({**RANGE, "department": "/Engineering", "include_subdepartments": "true"}))
    text = sub.get_data(as_text=True)
    assert "Quarterly report" in text and "Newsletter with tricks" in text


def test_paging_follows_next_cursor_links_keeping_criteria(admin) -> None:  # noqa: ANN001
    first = admin.get("/search?" + urlencode({**RANGE, "limit": "1"})).get_data(as_text=True)
    assert 'id="next-page"' in first
    link = first.split('id="next-page"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "cursor=" in link and "limit=1" in link and "from=" in link
    second = admin.get(link).get_data(as_text=True)
    assert "Page 2" in second and second.count('name="id"') == 1


def test_api_search_returns_search_json_with_next_cursor(app, admin) -> None:  # noqa: ANN001
    body = admin.get("/api/v1/messages?" + urlencode({**RANGE, "keyword": "合同", "scope": "subject,attachment"})).json
    assert body["total"] == 1 and body["next_cursor"] is None
    [hit] = body["results"]
    assert hit["id"] == app.sample_ids["contract"] and hit["attachment_names"] == ["合同草案.pdf", "notes.txt"]
    assert set(hit) == {"id", "message_id", "sha256", "subject", "sender", "recipients", "date", "mailboxes",
                        "attachment_names", "size", "flags", "highlight"}
    assert hit["highlight"] == {"subject": ["季度<mark>合同</mark>审核 Q3"], "body": [],  # body not in the scope
                                "attachment_names": ["<mark>合同</mark>草案.pdf"]}
    page = admin.get("/api/v1/messages?" + urlencode({**RANGE, "limit": 2})).json
    assert page["total"] == 3 and len(page["results"]) == 2 and page["next_cursor"]
    rest = admin.get("/api/v1/messages?" + urlencode({**RANGE, "limit": 2, "cursor": page["next_cursor"]})).json
    assert len(rest["results"]) == 1 and rest["next_cursor"] is None


@pytest.mark.parametrize("params, message", [
    ({"to": "2025-01-01"}, "time range is required"),
    ({**RANGE, "scope": "headers"}, "unknown scope"),
    ({**RANGE, "limit": "0"}, "limit"),
    ({**RANGE, "cursor": "%%%"}, "cursor"),
    ({**RANGE, "keyword": '"unbalanced'}, "keyword: unbalanced quote"),
    ({**RANGE, "keyword": "invoice OR"}, "keyword: 'OR' needs a word"),
    ({**RANGE, "keyword": "-contract"}, "keyword: add a word to search for"),
    ({**RANGE, "keyword": "de*"}, "keyword: '*' needs at least 3"),
    ({**RANGE, "keyword": "subject:x"}, "keyword: field searches"),
    ({**RANGE, "keyword": "x" * 1001}, "keyword: too long"),
])
def test_api_bad_criteria_are_400_with_error(admin, params, message) -> None:  # noqa: ANN001
    response = admin.get("/api/v1/messages?" + urlencode(params))
    assert response.status_code == 400 and message in response.json["error"]


def test_api_token_works_and_other_roles_are_refused(app) -> None:  # noqa: ANN001
    client = app.test_client()
    ok = client.get("/api/v1/messages?" + urlencode(RANGE), headers=api_token(app, "archie"))
    assert ok.status_code == 200 and ok.json["total"] == 3
    assert client.get("/api/v1/messages?" + urlencode(RANGE)).status_code == 401
    for name in ("postmaster", "emma"):
        other = signed_in(app, name)
        refused = other.get("/api/v1/messages?" + urlencode(RANGE))
        assert refused.status_code == 403 and list(refused.json) == ["error"]
        assert other.get("/search").status_code == 403
        assert "/search" not in other.get("/").get_data(as_text=True)


def test_small_helpers() -> None:
    assert human_size(512) == "512 B" and human_size(2048) == "2.0 KB"
    assert department_options(["/Sales", "/Sales East", "/Sales/East"]) == [
        ("/Sales", "Sales", 0), ("/Sales/East", "East", 1), ("/Sales East", "Sales East", 0)]


def test_chinese_console_and_complete_translations(app, admin) -> None:  # noqa: ANN001
    admin.set_cookie("lang", "zh-CN")
    html = admin.get("/search?" + urlencode({**RANGE, "keyword": "合同"})).get_data(as_text=True)
    assert "查询归档邮件" in html and "共找到 1 封邮件" in html and "包含下级部门" in html
    root = Path(__file__).resolve().parents[2]
    sources = [*root.glob("templates/search/*.html"), *root.glob("templates/message/*.html"), root / "templates/_pager.html",
               root / "server/web/search_views.py"]
    keys = {k for path in sources for k in re.findall(r"""_\(["']([^"']+)["']""", path.read_text(encoding="utf-8"))}
    assert keys and not keys - set(catalog("zh-CN"))


def test_api_highlight_body_fragments_and_exclusions(app, admin) -> None:  # noqa: ANN001
    body = admin.get("/api/v1/messages?" + urlencode({**RANGE, "keyword": "quarterly -合同"})).json
    [hit] = body["results"]
    assert hit["id"] == app.sample_ids["report"]
    assert hit["highlight"] == {"subject": ["<mark>Quarterly</mark> report"],
                                "body": ["The <mark>quarterly</mark> report is ready."], "attachment_names": []}
    plain = admin.get("/api/v1/messages?" + urlencode(RANGE)).json["results"][0]["highlight"]
    assert plain == {"subject": [], "body": [], "attachment_names": []}


def test_result_list_shows_why_it_matched_and_links_the_keyword(app, admin) -> None:  # noqa: ANN001
    html = admin.get("/search?" + urlencode({**RANGE, "keyword": "条款"})).get_data(as_text=True)
    assert '<span class="fragment body-match">请审核附件中的合同<mark>条款</mark>。</span>' in html
    link = html.split('<a class="open" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "keyword=%E6%9D%A1%E6%AC%BE" in link and "scope=subject,body,attachment" in link
    names = admin.get("/search?" + urlencode({**RANGE, "keyword": "草案"})).get_data(as_text=True)
    assert '<span class="fragment attachment-match">' in names and "<mark>草案</mark>.pdf" in names


def test_message_view_marks_the_keyword_in_body_subject_and_attachment_names(app, admin) -> None:  # noqa: ANN001
    mid = app.sample_ids["contract"]
    html = admin.get(f"/messages/{mid}?" + urlencode({"keyword": "合同 -价格", "scope": "body,attachment"})).get_data(as_text=True)
    assert "请审核附件中的<mark>合同</mark>条款。" in html and "<mark>合同</mark>草案.pdf" in html
    assert "<td>季度合同审核 Q3</td>" in html  # the subject was not searched
    plain = admin.get(f"/messages/{mid}").get_data(as_text=True)
    assert "<mark>" not in plain
    hostile = app.sample_ids["hostile"]
    view = admin.get(f"/messages/{hostile}?" + urlencode({"keyword": "archive"})).get_data(as_text=True)
    frame = view.split('id="message-body" src="')[1].split('"')[0].replace("&amp;", "&")
    assert "keyword=archive" in frame
    assert "Hello from the <mark>archive</mark>" in admin.get(frame).get_data(as_text=True)


def test_keyword_help_panel_in_both_languages(admin) -> None:  # noqa: ANN001
    html = admin.get("/search").get_data(as_text=True)
    assert 'id="keyword-help"' in html and "<code>deliver*</code>" in html and "at least 3 letters" in html
    admin.set_cookie("lang", "zh-CN")
    chinese = admin.get("/search").get_data(as_text=True)
    assert "搜索语法" in chinese and "按子串匹配" in chinese



def test_a_result_row_shows_the_match_near_its_start() -> None:
    """The row is one line: at most 20 columns (10 Chinese characters) before the first match, entities never split."""
    chinese = "…你们意见今天发布对于行动周报质量服务器报价反馈？ 各位截止及时合规机票价格付款市场华南， 总结法务<mark>合同</mark>各位。"
    assert near_match(chinese) == "…市场华南， 总结法务<mark>合同</mark>各位。"
    english = "…the quarterly figures &amp; the signed &lt;draft&gt; of the <mark>contract</mark> for Q3"
    assert near_match(english) == "…&lt;draft&gt; of the <mark>contract</mark> for Q3"
    short = "…of the <mark>contract</mark>"
    assert near_match(short) == short and near_match("no match here") == "no match here"
