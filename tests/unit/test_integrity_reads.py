"""Every read of stored mail checks the bytes against the recorded SHA-256 (issue 19 item 6).

An attacker with file access edits the SQLite file directly (sqlite3 + zstandard, no project code):
the console, the API, ``mailarchive export`` (one .eml or a zip) and ``verified_raw`` (what the
export job and POP3 RETR call) must refuse to hand the altered bytes out, say why, and leave an
``integrity_failure`` audit entry; a message whose bytes are gone is reported the same way.
"""

from __future__ import annotations

import base64
import functools
import sqlite3
import zipfile
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
import zstandard
from flask import Flask

from server.audit.log import AuditLog
from server.audit.operations import Op, Result
from server.cli import main
from server.config import Config
from server.services.actor import Actor
from server.services.archive_access import INTEGRITY_COUNTER
from server.services.context import Services
from server.services.errors import IntegrityFailure, NotFound
from server.store.protocol import AuditRecord
from server.store.sqlite import SqliteStore
from server.users import UserService
from server.web.context import services_of
from tests.support.es import es_store
from tests.support.web import api_token, close_app, signed_in
from tests.support.webdata import WHEN, load_samples, sample_app, sample_mail

ARCHIE = Actor("archie", "archive-admin", "192.0.2.1")


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    app = sample_app(config)
    yield app
    close_app(app)


def _tamper(config: Config, sha256: str, forged: bytes | None) -> None:
    """Replace (or, with None, delete) the stored bytes of ``sha256`` behind the archive's back."""
    with closing(sqlite3.connect(config.sqlite_path)) as conn, conn:
        if forged is None:
            conn.execute("DELETE FROM raws WHERE sha256 = ?", (sha256,))
        else:
            conn.execute("UPDATE raws SET data = ? WHERE sha256 = ?", (zstandard.ZstdCompressor().compress(forged), sha256))


def _forge_contract(app: Flask, config: Config) -> str:
    """The contract mail with its amount changed; returns its id."""
    svc = services_of(app)
    message = svc.store.get_message(app.sample_ids["contract"])
    _tamper(config, message.sha256, sample_mail()["contract"].replace("请审核".encode(), "已批准".encode()))
    return message.id


def _failures(app: Flask) -> list[AuditRecord]:
    return [e for e in services_of(app).store.audit_scan() if e.operation == Op.INTEGRITY_FAILURE]


def test_every_reader_refuses_altered_bytes_and_audits_it(app: Flask, config: Config) -> None:
    svc = services_of(app)
    mid = _forge_contract(app, config)
    for read in (lambda: svc.archive.view(ARCHIE, mid), lambda: svc.archive.raw(ARCHIE, mid),
                 lambda: svc.archive.attachment(ARCHIE, mid, 0),
                 lambda: svc.archive.verified_raw(svc.store.get_message(mid), actor=ARCHIE, purpose=Op.POP3_RETRIEVE)):
        with pytest.raises(IntegrityFailure, match="do not match its SHA-256"):
            read()
    failures = _failures(app)
    assert [e.details["purpose"] for e in failures] == ["message_view", "eml_export", "attachment_download", "pop3_retrieve"]
    assert {(e.target, e.result, e.actor) for e in failures} == {(mid, Result.FAILURE, "archie")}
    assert failures[0].details["expected_sha256"] == svc.store.get_message(mid).sha256 != failures[0].details["actual_sha256"]
    assert svc.store.get_counter(INTEGRITY_COUNTER) == 4
    # a refused read leaves only the integrity entry, never a success of the read itself
    assert [e.operation for e in svc.store.audit_scan() if e.target == mid] == [Op.INTEGRITY_FAILURE] * 4


def test_console_and_api_refuse_with_a_clear_message(app: Flask, config: Config) -> None:
    mid = _forge_contract(app, config)
    page = signed_in(app, "archie").get(f"/messages/{mid}")
    assert page.status_code == 500 and "do not match its SHA-256" in page.get_data(as_text=True)
    headers = api_token(app, "archie")
    for url in (f"/api/v1/messages/{mid}", f"/api/v1/messages/{mid}/raw", f"/api/v1/messages/{mid}/attachments/0"):
        response = app.test_client().get(url, headers=headers)
        assert response.status_code == 500 and "do not match its SHA-256" in response.json["error"], url
        assert "已批准".encode() not in response.data
    assert len(_failures(app)) == 4
    summary = app.test_client().get("/api/v1/summary", headers=headers).json
    assert summary["integrity_failures"] == 4  # the figure administrators see on the summary page
    assert 'id="integrity-failures">4<' in signed_in(app, "archie").get("/archiving/summary").get_data(as_text=True)


def test_zip_stops_at_the_damaged_message(app: Flask, config: Config) -> None:
    svc = services_of(app)
    mid = _forge_contract(app, config)
    export = svc.archive.zip_selected(ARCHIE, [app.sample_ids["report"], mid])
    with pytest.raises(IntegrityFailure):
        b"".join(export.chunks)
    assert export.stats.messages == 1  # the intact one went in, nothing after it
    [entry] = _failures(app)
    assert entry.details["purpose"] == Op.BULK_EXPORT


def test_cli_export_writes_nothing_for_altered_mail(app: Flask, config: Config, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                                                   ) -> None:  # fmt: skip
    mid = _forge_contract(app, config)
    monkeypatch.setenv("MAILARCHIVE_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("MAILARCHIVE_CONFIG", "none")
    monkeypatch.setenv("MAILARCHIVE_STORE", "sqlite")
    assert main(["export", "--id", mid, "--out", str(tmp_path / "one.eml")]) == 1
    span = ["--from", (WHEN - timedelta(days=3)).date().isoformat(), "--to", (WHEN + timedelta(days=3)).date().isoformat()]
    assert main(["export", *span, "--out", str(tmp_path / "all.zip")]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all("do not match its SHA-256" in line for line in errors)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "data") == []  # no file, no .part left
    assert len(_failures(app)) == 2


def test_missing_bytes_and_missing_messages_are_reported(app: Flask, config: Config) -> None:
    svc = services_of(app)
    message = svc.store.get_message(app.sample_ids["report"])
    _tamper(config, message.sha256, None)
    with pytest.raises(IntegrityFailure, match="missing from the store"):
        svc.archive.raw(ARCHIE, message.id)
    [entry] = _failures(app)
    assert entry.details["actual_sha256"] == "missing"
    with pytest.raises(NotFound, match="no archived message with id 'gone'"):
        svc.archive.view(ARCHIE, "gone")
    response = app.test_client().get(f"/api/v1/messages/{message.id}/raw", headers=api_token(app, "archie"))
    assert response.status_code == 500 and "missing from the store" in response.json["error"]


def test_intact_mail_reads_as_before(app: Flask) -> None:
    svc = services_of(app)
    opened = svc.archive.raw(ARCHIE, app.sample_ids["contract"])
    assert opened.raw == sample_mail()["contract"]
    data = b"".join(svc.archive.zip_selected(ARCHIE, list(app.sample_ids.values())).chunks)
    assert len(zipfile.ZipFile(__import__("io").BytesIO(data)).namelist()) == len(app.sample_ids) + 1
    assert _failures(app) == [] and svc.store.get_counter(INTEGRITY_COUNTER) == 0


# --- the same on both backends: the check is in the services, the tampering in each store's own files ---


@pytest.fixture(params=["sqlite", "elasticsearch"])
def backend(request: pytest.FixtureRequest, config: Config) -> Iterator[tuple[Services, Callable[[str, bytes | None], None]]]:
    """(services on that backend holding the sample mail, tamper(sha256, forged or None))."""
    if request.param == "sqlite":
        store = SqliteStore.from_config(config)
        tamper = functools.partial(_tamper, config)
    else:
        store = es_store(request)

        def tamper(sha256: str, forged: bytes | None) -> None:  # the cluster's REST API, as an admin of it would
            if forged is None:
                store.es.delete(index=store.names.raw, id=sha256, refresh=True)
                return
            data = base64.b64encode(zstandard.ZstdCompressor().compress(forged)).decode()
            store.es.index(index=store.names.raw, id=sha256, refresh=True,
                           document={"size": len(forged), "compression": "zstd", "data": data})  # fmt: skip
    svc = Services(config, store, AuditLog.for_config(store, config), UserService(store))
    svc.sample_ids = load_samples(store, config)
    yield svc, tamper
    svc.close()


def test_both_backends_refuse_altered_and_missing_bytes(backend) -> None:  # noqa: ANN001
    svc, tamper = backend
    contract, report = (svc.store.get_message(svc.sample_ids[name]) for name in ("contract", "report"))
    tamper(contract.sha256, sample_mail()["contract"].replace("请审核".encode(), "已批准".encode()))
    tamper(report.sha256, None)
    with pytest.raises(IntegrityFailure, match="do not match its SHA-256"):
        svc.archive.raw(ARCHIE, contract.id)
    with pytest.raises(IntegrityFailure, match="missing from the store"):
        svc.archive.verified_raw(report, actor=ARCHIE, purpose=Op.POP3_RETRIEVE)
    svc.store.refresh()
    failures = [e for e in svc.store.audit_scan() if e.operation == Op.INTEGRITY_FAILURE]
    assert [(e.target, e.details["purpose"], e.result) for e in failures] == [
        (contract.id, "eml_export", Result.FAILURE), (report.id, "pop3_retrieve", Result.FAILURE)]
    assert svc.store.get_counter(INTEGRITY_COUNTER) == 2
