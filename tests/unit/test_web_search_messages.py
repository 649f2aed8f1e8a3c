"""Message view, HTML body frame, attachments, .eml and zip downloads, in the console and the API."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sqlite3
import zipfile
from pathlib import Path

from server.audit.operations import Op
from tests.support.web import api_token, csrf_token
from tests.support.webdata import (  # noqa: F401 - fixtures
    PDF,
    WHEN,
    admin_fixture,
    audit_entries,
    sample_app,
    sample_app_fixture,
    sample_mail,
    signed_in,
)


def test_view_page_shows_headers_attachments_and_sandboxed_body(app, admin) -> None:  # noqa: ANN001
    mid = app.sample_ids["hostile"]
    html = admin.get(f"/messages/{mid}").get_data(as_text=True)
    assert "Newsletter with tricks" in html and "news@outside.example" in html
    frame = html.split('<iframe id="message-body"', 1)[1].split(">", 1)[0]
    assert f'src="/messages/{mid}/body?view=' in frame and 'sandbox="' in frame
    assert "allow-scripts" not in frame and "allow-same-origin" not in frame
    assert "pwned" not in html  # the HTML is never part of the console page
    assert 'id="remote-images-notice"' in html and f"/messages/{mid}/raw" in html
    [entry] = audit_entries(app, Op.MESSAGE_VIEW)
    assert entry.target == mid and entry.actor == "archie"


def test_body_is_sanitized_under_a_strict_csp(app, admin) -> None:  # noqa: ANN001
    mid = app.sample_ids["hostile"]
    response = admin.get(f"/messages/{mid}/body")
    body = response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith(
        "default-src 'none'; img-src data: cid: 'self'; style-src 'unsafe-inline'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in body and "onerror" not in body and "pwned" not in body
    assert "Hello from the archive" in body and "tracker.invalid" not in body
    shown = admin.get(f"/messages/{mid}/body?images=1")
    assert 'src="https://tracker.invalid/pixel.gif"' in shown.get_data(as_text=True)
    assert "https:" in shown.headers["Content-Security-Policy"]


def test_eml_download_is_byte_identical_and_audited(app, admin) -> None:  # noqa: ANN001
    response = admin.get(f"/messages/{app.sample_ids['contract']}/raw")
    assert response.data == sample_mail()["contract"]
    assert response.mimetype == "message/rfc822"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition and ".eml" in disposition
    [entry] = audit_entries(app, Op.EML_EXPORT)
    assert entry.target == app.sample_ids["contract"]


def test_attachments_download_and_inline_view(app, admin) -> None:  # noqa: ANN001
    mid = app.sample_ids["contract"]
    html = admin.get(f"/messages/{mid}").get_data(as_text=True)
    assert "合同草案.pdf" in html and "notes.txt" in html
    pdf = admin.get(f"/messages/{mid}/attachments/0")
    assert pdf.data == PDF and pdf.mimetype == "application/octet-stream"
    assert "filename*=UTF-8''%E5%90%88%E5%90%8C%E8%8D%89%E6%A1%88.pdf" in pdf.headers["Content-Disposition"]
    inline = admin.get(f"/messages/{mid}/attachments/0?inline=1")
    assert inline.mimetype == "application/pdf" and inline.headers["Content-Disposition"].startswith("inline;")
    assert inline.headers["X-Content-Type-Options"] == "nosniff" and "default-src 'none'" in inline.headers[
        "Content-Security-Policy"]
    text = admin.get(f"/messages/{mid}/attachments/1?inline=1")
    assert text.content_type == "text/plain; charset=utf-8" and text.get_data(as_text=True) == "备注：价格"
    assert admin.get(f"/messages/{mid}/attachments/2").status_code == 404
    assert [e.result for e in audit_entries(app, Op.ATTACHMENT_DOWNLOAD)] == ["failure", "success", "success", "success"]


def test_unknown_message_is_404(admin) -> None:  # noqa: ANN001
    assert admin.get("/messages/doesnotexist").status_code == 404
    api = admin.get("/api/v1/messages/doesnotexist/raw")
    assert api.status_code == 404 and "no archived message" in api.json["error"]


def _zip_members(data: bytes) -> tuple[dict[str, bytes], list[dict[str, str]]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    return {n: archive.read(n) for n in archive.namelist() if n != "manifest.csv"}, manifest


def test_export_selected_posts_with_csrf_and_streams_a_zip(app, admin) -> None:  # noqa: ANN001
    ids = [app.sample_ids["contract"], app.sample_ids["report"]]
    assert admin.post("/search/export", data={"id": ids}).status_code == 400  # no CSRF token
    token = csrf_token(admin, "/search")
    response = admin.post("/search/export", data={"id": ids, "csrf_token": token})
    assert response.mimetype == "application/zip" and response.is_streamed
    files, manifest = _zip_members(response.data)
    raws = sample_mail()
    assert sorted(files.values()) == sorted([raws["contract"], raws["report"]])
    assert [row["id"] for row in manifest] == ids
    assert all(hashlib.sha256(files[row["file_name"]]).hexdigest() == row["sha256"] for row in manifest)
    [entry] = audit_entries(app, Op.BULK_EXPORT)
    assert entry.details["count"] == 2 and entry.details["ids"] == ids
    empty = admin.post("/search/export", data={"csrf_token": token, "back": "/search?from=x"})
    assert empty.status_code == 302 and empty.location.endswith("/search?from=x")


def test_api_message_raw_attachment_and_export(app) -> None:  # noqa: ANN001
    client, headers = app.test_client(), api_token(app, "archie")
    mid = app.sample_ids["contract"]
    doc = client.get(f"/api/v1/messages/{mid}", headers=headers).json
    assert doc["subject"] == "季度合同审核 Q3" and "请审核" in doc["body_text"]
    assert [(a["index"], a["name"]) for a in doc["attachments"]] == [(0, "合同草案.pdf"), (1, "notes.txt")]
    assert client.get(f"/api/v1/messages/{mid}/raw", headers=headers).data == sample_mail()["contract"]
    assert client.get(f"/api/v1/messages/{mid}/attachments/0", headers=headers).data == PDF
    zipped = client.post("/api/v1/messages/export", json={"ids": [mid]}, headers=headers)
    files, _ = _zip_members(zipped.data)
    assert list(files.values()) == [sample_mail()["contract"]]
    bad = client.post("/api/v1/messages/export", json={"ids": []}, headers=headers)
    assert bad.status_code == 400 and "select at least one" in bad.json["error"]
    assert client.post("/api/v1/messages/export", json={"x": 1}, headers=headers).status_code == 400
    missing = client.post("/api/v1/messages/export", json={"ids": [mid, "nope"]}, headers=headers)
    assert missing.status_code == 404 and "nope" in missing.json["error"]


PROTECTED = ["/messages/{id}", "/messages/{id}/body", "/messages/{id}/raw", "/messages/{id}/attachments/0",
             "/api/v1/messages/{id}", "/api/v1/messages/{id}/raw", "/api/v1/messages/{id}/attachments/0"]


def test_other_roles_get_403_and_nothing_is_audited_as_read(app) -> None:  # noqa: ANN001
    others = [signed_in(app, name) for name in ("postmaster", "emma")]
    for path in PROTECTED:
        url = path.format(id=app.sample_ids["contract"])
        for client in others:
            response = client.get(url)
            assert response.status_code == 403 and PDF not in response.data, url
        assert app.test_client().get(url).status_code in (302, 401)
    assert others[0].post("/api/v1/messages/export", json={"ids": [app.sample_ids["contract"]]},
                          headers={"X-CSRFToken": csrf_token(others[0], "/")}).status_code == 403
    assert audit_entries(app, Op.MESSAGE_VIEW) == [] and audit_entries(app, Op.ATTACHMENT_DOWNLOAD) == []


def test_every_messages_api_route_is_in_the_openapi_file(app) -> None:  # noqa: ANN001
    spec = (Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml").read_text(encoding="utf-8")
    documented = set(re.findall(r"^  (/messages\S*):$", spec, re.MULTILINE))
    routes = {re.sub(r"<(?:int:)?(\w+)>", lambda m: "{" + {"message_id": "id", "index": "n"}[m.group(1)] + "}",
                     rule.rule.removeprefix("/api/v1"))
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/messages")}
    assert routes == documented


def test_no_content_leaves_when_the_audit_log_cannot_be_written(app, admin, config) -> None:  # noqa: ANN001
    """The store refuses audit entries (as a full disk would): every read answers 503 without content."""
    token = csrf_token(admin, "/search")
    with sqlite3.connect(config.sqlite_path) as db:
        db.execute("CREATE TRIGGER audit_broken BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    mid = app.sample_ids["contract"]
    for response in (admin.get(f"/messages/{mid}/raw"), admin.get(f"/messages/{mid}/attachments/0"),
                     admin.get(f"/messages/{mid}"), admin.get(f"/api/v1/messages/{mid}"),
                     admin.post("/search/export", data={"id": [mid], "csrf_token": token}),
                     admin.get(f"/search?from={WHEN.date()}&to={WHEN.date()}&keyword=合同"),
                     admin.get(f"/api/v1/messages?from={WHEN.date()}&to={WHEN.date()}")):
        assert response.status_code == 503
        text = response.get_data(as_text=True)
        assert PDF not in response.data and "请审核" not in text and "季度合同审核" not in text


def test_api_export_with_the_session_needs_the_csrf_header(app, admin) -> None:  # noqa: ANN001
    body = {"ids": [app.sample_ids["report"]]}
    assert admin.post("/api/v1/messages/export", json=body).status_code == 400
    response = admin.post("/api/v1/messages/export", json=body, headers={"X-CSRFToken": csrf_token(admin, "/search")})
    assert response.status_code == 200 and list(_zip_members(response.data)[0].values()) == [sample_mail()["report"]]
