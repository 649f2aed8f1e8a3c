"""Smaller findings of the hardening review (issue 17), each on the real component: a huge To
header, a non-UTF-8 file name on import, the demo's .zip attachments, a 30,000-word keyword."""

from __future__ import annotations

import email
import email.policy
import io
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.cli import main
from server.cli.common import config_from_env, opened_store
from server.indexing.parse import parse
from server.store.protocol import AuditQuery
from server.synthetic import MailGenerator, build_directory
from server.users import Role
from tests.support.cli import cli_archive
from tests.support.web import api_token, running_app, signed_in


def test_a_to_header_over_100000_characters_says_how_many_addresses_were_dropped() -> None:
    to = ", ".join(f"user{i}@example.com" for i in range(500_000))
    mail = parse(f"From: a@example.com\r\nTo: {to}\r\nSubject: many\r\n\r\nbody\r\n".encode())
    [note] = [e for e in mail.parse_errors if e.startswith("address:")]
    kept, dropped = len(mail.to), int(note.split("about ")[1].split()[0].replace(",", ""))
    assert 4_000 < kept < 6_000 and abs(kept + dropped - 500_000) <= 1, note


def test_an_import_path_that_is_not_utf8_is_archived_and_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    cli_archive(monkeypatch, tmp_path / "data")
    name = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9-\xff.eml"))
    Path(name).write_bytes(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: latin-1 name\r\nMessage-ID: <l1@x>\r\n\r\nx\r\n")
    assert main(["import", name]) == 0, capsys.readouterr().err
    with opened_store(config_from_env()) as store:
        assert store.count() == 1
        span = AuditQuery(start=datetime(2000, 1, 1, tzinfo=UTC), end=datetime(2100, 1, 1, tzinfo=UTC), operation="import")
        _, entries = store.audit_query(span)
    assert any("caf\\xe9-\\xff.eml" in e.target for e in entries)


def test_the_demo_zip_attachments_are_real_zips() -> None:
    found = 0
    for raw in MailGenerator(build_directory(7, size=50, externals=10), seed=7, stream=0, first=0, count=400, total=400):
        for part in email.message_from_bytes(raw, policy=email.policy.default).walk():
            if part.get_content_type() == "application/zip":
                found += 1
                assert zipfile.ZipFile(io.BytesIO(part.get_payload(decode=True))).testzip() is None
    assert found > 0


def test_a_thirty_thousand_word_keyword_is_a_400_on_page_and_api(config) -> None:  # noqa: ANN001
    keyword = " ".join(f"w{n}" for n in range(30_000))
    query = {"from": "2024-01-01", "to": "2024-12-31", "keyword": keyword}
    with running_app(config, {"arch": Role.ARCHIVE_ADMIN}) as app:
        page = signed_in(app, "arch").get("/search", query_string=query)
        api = app.test_client().get("/api/v1/messages", query_string=query, headers=api_token(app, "arch"))
    assert page.status_code == 400 and "too long" in page.get_data(as_text=True)
    assert api.status_code == 400 and "too long" in api.get_json()["error"]
