"""Message preview: the sanitizer removes script, event handlers and javascript: URLs; remote images
stay blocked until asked for; cid: images and attachments resolve to the stored numbering."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

from server.indexing.parse import parse
from server.mailview import BLOCKED_IMAGE, attachment_at, build_view, is_inline_type, sanitize_html
from tests.support.mail import make_mail

HOSTILE = """<html><head><title>t</title><style>body{color:red}</style></head><body>
<p onclick="steal()">Hello <b>there</b></p>
<script>document.title='pwned'</script>
<img src="x" onerror="document.title='pwned'">
<img src="https://tracker.example/pixel.gif" alt="logo">
<a href="javascript:alert(1)">click</a> <a href="https://example.com/doc">doc</a>
<iframe src="https://evil.example"></iframe><svg onload="alert(1)"></svg>
<form action="https://evil.example"><input name=p></form>
<div style="background:url(https://tracker.example/bg.png)">bg</div>
</body></html>"""


def _clean(markup: str, allow_remote: bool = False) -> str:
    return sanitize_html(markup, cid_url=lambda cid: f"/cid/{cid}", allow_remote=allow_remote).html


def test_script_handlers_and_javascript_urls_are_removed() -> None:
    clean = _clean(HOSTILE).lower()
    for bad in ("<script", "pwned", "onerror", "onclick", "onload", "javascript:", "<iframe", "<form", "<input",
                "<svg", "<style", "steal"):
        assert bad not in clean, bad
    assert "<b>there</b>" in clean and 'href="https://example.com/doc"' in clean
    assert 'target="_blank"' in clean and "noopener" in clean


def test_remote_images_are_blocked_until_allowed() -> None:
    blocked = sanitize_html(HOSTILE, cid_url=lambda c: None, allow_remote=False)
    assert "tracker.example" not in blocked.html and BLOCKED_IMAGE.split(",")[0] in blocked.html
    assert blocked.remote_images == 2  # the <img> and the CSS background
    allowed = _clean(HOSTILE, allow_remote=True)
    assert 'src="https://tracker.example/pixel.gif"' in allowed


def test_only_raster_data_images_and_no_relative_urls() -> None:
    clean = _clean('<img src="data:image/png;base64,iVBO"><img src="data:text/html,<script>x</script>">'
                   '<img src="/api/v1/archiving"><a href="/logout">x</a><a href="data:text/html,hi">y</a>')
    assert 'src="data:image/png;base64,iVBO"' in clean
    assert "text/html" not in clean and "/api/" not in clean and "/logout" not in clean


def _related_mail() -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = "a@corp.example", "b@corp.example", "=?utf-8?b?5ZCI5ZCM?="
    msg.set_content("plain text version")
    msg.add_alternative('<p>see <img src="cid:logo@corp"></p>', subtype="html")
    msg.get_payload()[1].add_related(b"\x89PNG fake", maintype="image", subtype="png", cid="<logo@corp>")
    msg.add_attachment("合同条款".encode("gbk"), maintype="text", subtype="plain", filename="条款.txt")
    return msg.as_bytes()


def test_view_model_headers_text_html_attachments_and_cids() -> None:
    raw = _related_mail()
    view = build_view(raw)
    headers = dict(view.headers)
    assert headers["subject"] == "合同" and headers["from"] == "a@corp.example"
    assert view.text == "plain text version"
    assert view.html and "cid:logo@corp" in view.html
    stored = parse(raw).attachments  # numbering at ingestion and in the view must agree
    assert [(a.name, a.type) for a in view.attachments] == [(a.name, a.type) for a in stored]
    logo = view.cids["logo@corp"]
    assert view.attachments[logo].type == "image/png"
    clean = sanitize_html(view.html, cid_url=lambda cid: f"/att/{view.cids[cid]}", allow_remote=False).html
    assert f'src="/att/{logo}"' in clean
    assert view.images["logo@corp"] == "data:image/png;base64,iVBORyBmYWtl"  # embedded for the sandboxed frame
    txt = next(a for a in view.attachments if a.name == "条款.txt")
    att, data = attachment_at(raw, txt.index)
    assert att.name == "条款.txt" and data == "合同条款".encode("gbk")
    assert attachment_at(raw, 99) is None and attachment_at(raw, -1) is None


def test_inline_types_exclude_active_content() -> None:
    assert is_inline_type("image/png") and is_inline_type("application/pdf") and is_inline_type("text/plain")
    assert not is_inline_type("image/svg+xml") and not is_inline_type("text/html")


def test_plain_mail_has_no_html_and_keeps_text() -> None:
    view = build_view(make_mail(subject="Hello", body="line one\nline two\n"))
    assert view.html is None and "line two" in view.text and view.attachments == []
