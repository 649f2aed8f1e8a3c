"""Export All through the console and ``/api/v1/exports``: the query page's form with count, size and
limits, the Task Center panel, the API's answers and errors, downloads — with a real worker
(``mailarchive worker --burst``) against the embedded Redis."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask

from server.audit.operations import Op
from server.export.taskcenter import TaskDocs
from server.jobs.broker import close_all
from server.query.criteria import parse_criteria
from server.services.actor import Actor
from server.web.context import services_of
from server.web.i18n import catalog
from server.web.render import human_size
from tests.support.exports import running_worker, wait_task
from tests.support.web import api_token, close_app, csrf_token
from tests.support.webdata import WHEN, audit_entries, sample_app, signed_in

RECENT = {"from": (WHEN - timedelta(days=3)).date().isoformat(), "to": (WHEN + timedelta(days=1)).date().isoformat()}


@pytest.fixture
def app(config) -> Iterator[Flask]:  # noqa: ANN001
    app = sample_app(config)
    yield app
    close_app(app)
    close_all()


def _finish(app: Flask, tmp_path: Path) -> None:
    """Run every queued export with a real worker process."""
    with running_worker(services_of(app).config, tmp_path / "worker.log", burst=True) as worker:
        assert worker.process.wait(timeout=120) == 0, worker.output()


def test_api_submit_progress_list_and_download(app: Flask, tmp_path: Path) -> None:
    client, auth = app.test_client(), api_token(app, "archie")
    submitted = client.post("/api/v1/exports", json=RECENT, headers=auth)
    assert submitted.status_code == 202, submitted.json
    task_id = submitted.json["id"]
    assert submitted.headers["Location"] == f"/api/v1/exports/{task_id}"
    assert submitted.json["status"] == "queued" and submitted.json["total"] == 3 and submitted.json["done"] == 0
    _finish(app, tmp_path)
    task = client.get(f"/api/v1/exports/{task_id}", headers=auth).json
    assert task["status"] == "finished" and task["done"] == task["total"] == 3 and task["percent"] == 100
    assert task["download_url"] == f"/api/v1/exports/{task_id}/download" and task["submitted_by"] == "archie"
    assert [t["id"] for t in client.get("/api/v1/exports?status=finished", headers=auth).json["tasks"]] == [task_id]
    assert client.get("/api/v1/exports?status=running", headers=auth).json["tasks"] == []
    download = client.get(task["download_url"], headers=auth)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert hashlib.sha256(download.data).hexdigest() == task["sha256"]
    assert download.headers["Repr-Digest"] == f"sha-256=:{base64.b64encode(bytes.fromhex(task['sha256'])).decode()}:"
    assert download.headers["ETag"].strip('"') == task["sha256"]
    assert "filename*=UTF-8''mail-export-" in download.headers["Content-Disposition"]
    assert len(zipfile.ZipFile(io.BytesIO(download.data)).namelist()) == 4  # 3 messages + manifest
    part = client.get(task["download_url"], headers={**auth, "Range": "bytes=0-99"})
    assert part.status_code == 206 and part.data == download.data[:100]  # a large download can resume
    assert len([e for e in audit_entries(app, Op.EXPORT_ALL_DOWNLOAD) if e.target == task_id]) == 2
    assert client.post(f"/api/v1/exports/{task_id}/cancel", headers=auth).status_code == 409


@pytest.mark.parametrize("body, status, words", [
    (None, 400, "JSON object"),
    ({"to": "2025-01-01"}, 400, "time range is required"),
    ({"from": "2025-01-01", "to": "2025-03-01"}, 400, "at most 30 days"),
    ({"from": "2025-01-01", "to": "2026-03-01", "mailbox": "li.na@corp.example"}, 400, "at most 365 days"),
    ({"from": "2001-01-01", "to": "2001-01-02"}, 400, "nothing to export"),
])
def test_api_refusals_are_one_line_errors(app: Flask, body: dict | None, status: int, words: str) -> None:
    response = app.test_client().post("/api/v1/exports", json=body, headers=api_token(app, "archie"))
    assert response.status_code == status and words in response.json["error"] and list(response.json) == ["error"]


def test_api_answers_for_unknown_tasks_bad_filters_and_other_roles(app: Flask) -> None:
    client, auth = app.test_client(), api_token(app, "archie")
    assert client.get("/api/v1/exports/20990101T000000-00000000", headers=auth).status_code == 404
    assert "unknown status" in client.get("/api/v1/exports?status=done", headers=auth).json["error"]
    assert client.get("/api/v1/exports").status_code == 401
    for name in ("emma", "postmaster"):
        other = api_token(app, name)
        for method, url in (("get", "/api/v1/exports"), ("post", "/api/v1/exports"), ("get", "/api/v1/exports/x"),
                            ("post", "/api/v1/exports/x/cancel"), ("get", "/api/v1/exports/x/download")):
            assert getattr(client, method)(url, headers=other, json=RECENT).status_code == 403, (name, url)


def test_query_page_offers_export_all_with_count_size_and_the_limit(app: Flask) -> None:
    admin = signed_in(app, "archie")
    html = admin.get("/search?" + urlencode(RECENT)).get_data(as_text=True)
    form = html.split('id="export-all"', 1)[1].split("</form>", 1)[0]
    assert "Export All (3)" in form and re.search(r"about [\d.]+ KB", form) and " disabled" not in form
    assert 'id="task-center"' in html and "No export tasks in the last 30 days" in html
    assert 'id="selection-count"' in html and "selection.js" in html
    wide = admin.get("/search?" + urlencode({"from": "2024-01-01", "to": RECENT["to"]})).get_data(as_text=True)
    refused = wide.split('id="export-all"', 1)[1].split("</form>", 1)[0]
    assert 'id="export-all-refusal"' in refused and "at most 30 days" in refused
    assert re.search(r'id="export-all-submit"\s+disabled', refused)


def test_export_all_size_is_the_whole_result_sets_not_the_page_shown(app: Flask) -> None:
    """One result per page: the size shown (and the submitted task's estimate) is the sum over all
    the matches, whichever message the page happens to show."""
    svc = services_of(app)
    matches = list(svc.store.scan(parse_criteria(RECENT)))
    whole = sum(m.size for m in matches)
    assert len(matches) == 3 and len({m.size for m in matches}) > 1
    html = signed_in(app, "archie").get("/search?" + urlencode({**RECENT, "limit": 1})).get_data(as_text=True)
    form = html.split('id="export-all"', 1)[1].split("</form>", 1)[0]
    assert "Export All (3)" in form and f"about {human_size(whole)} as a zip" in form
    task = svc.exports.submit(Actor("archie", "archive-admin"), RECENT)
    assert task.estimated_bytes == whole


def test_console_submit_cancel_and_panel(app: Flask) -> None:
    admin = signed_in(app, "archie")
    back = "/search?" + urlencode(RECENT)
    token = csrf_token(admin, back)
    started = admin.post("/tasks/export-all", data={**RECENT, "back": back, "csrf_token": token})
    assert started.status_code == 302 and started.headers["Location"] == back + "#task-center"
    page = admin.get(back).get_data(as_text=True)
    assert "Export All started: 3 messages" in page
    [row] = re.findall(r'<tr id="task-([^"]+)" data-status="queued">', page)
    assert admin.get("/tasks/panel?status=queued").get_data(as_text=True).count('data-status="queued"') >= 2
    assert "No finished export tasks in the last 30 days." in admin.get("/tasks/panel?status=finished").get_data(as_text=True)
    cancelled = admin.post(f"/tasks/{row}/cancel", data={"back": back, "csrf_token": token})
    assert cancelled.status_code == 302
    after = admin.get("/tasks?status=cancelled").get_data(as_text=True)
    assert f'<tr id="task-{row}" data-status="cancelled">' in after and "Export " + row + " cancelled." in after
    again = admin.post(f"/tasks/{row}/cancel", data={"back": back, "csrf_token": token}, follow_redirects=True)
    assert "Not cancelled: export" in again.get_data(as_text=True)
    assert [e.result for e in audit_entries(app, Op.EXPORT_ALL_CANCEL) if e.target == row] == ["failure", "success"]  # newest first
    refused = admin.post("/tasks/export-all", data={"from": "2020-01-01", "to": "2020-12-31", "back": back,
                                                    "csrf_token": token}, follow_redirects=True)  # fmt: skip
    assert "Export All was not started: Export All covers at most 30 days" in refused.get_data(as_text=True)


def test_task_center_is_in_the_menu_and_translated(app: Flask) -> None:
    admin = signed_in(app, "archie")
    assert 'href="/tasks"' in admin.get("/search").get_data(as_text=True)
    assert 'href="/tasks"' not in signed_in(app, "emma").get("/").get_data(as_text=True)
    admin.set_cookie("lang", "zh-CN")
    assert "任务中心" in admin.get("/tasks").get_data(as_text=True)
    root = Path(__file__).resolve().parents[2]
    sources = [*root.glob("templates/tasks/*.html"), root / "server/web/export_views.py"]
    keys = {k for path in sources for k in re.findall(r"""_\(["']([^"']+)["']""", path.read_text(encoding="utf-8"))}
    assert keys and not keys - set(catalog("zh-CN"))


def test_every_exports_api_route_is_in_the_openapi_file(app: Flask) -> None:
    spec = (Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml").read_text(encoding="utf-8")
    documented = set(re.findall(r"^  (/exports\S*):$", spec, re.MULTILINE))
    routes = {rule.rule.removeprefix("/api/v1").replace("<task_id>", "{task}")
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/exports")}
    assert routes == documented


def test_a_refused_or_unreachable_queue_keeps_the_task_queued(app: Flask, config, tmp_path: Path) -> None:  # noqa: ANN001
    """Redis down at submission: the task is kept (queued) and a worker's maintenance queues it later."""
    from server.services.context import Services

    dead = config.replace(worker=config.worker.replace(redis_url="redis://127.0.0.1:1/0"))
    with Services.open(dead) as svc:
        task = svc.exports.submit(Actor("archie", "archive-admin"), RECENT)
    assert TaskDocs(services_of(app).store).get(task.id).status == "queued"
    with running_worker(config, tmp_path / "worker.log") as worker:  # the embedded Redis: the job was never there
        wait_task(services_of(app).store, task.id, lambda t: t.status == "finished", timeout=150, worker=worker)
