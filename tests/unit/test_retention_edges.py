"""Retention and legal holds at the edges: ``/api/v1/holds``, the pages, ``mailarchive hold|purge|retention``,
new mail stamped with the changed period, and accounts that are disabled or deleted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from server.cli import main
from server.config import with_overrides
from server.indexing.pipeline import Ingestor
from server.model import Account, now_utc
from server.query.criteria import parse_criteria
from server.services.actor import Actor
from server.services.context import Services
from server.users import Role
from server.web.context import services_of
from server.web.i18n import catalog
from tests.support.cli import cli_archive
from tests.support.mail import make_mail
from tests.support.web import api_token, csrf_token, running_app, signed_in

ALL_TIME = {"from": "2000-01-01", "to": "2100-01-01"}


@pytest.fixture
def app(config) -> Iterator[Flask]:  # noqa: ANN001
    with running_app(with_overrides(config, internal_domains="corp.example"), {"alice": Role.ARCHIVE_ADMIN, "bob": Role.EMAIL_ADMIN}) as app:
        yield app


def archive(svc: Services, *mails: bytes) -> list[str]:
    ingestor = Ingestor(svc.store, svc.config)
    ids = [ingestor.ingest(raw, source="import").id for raw in mails]
    svc.store.refresh()
    return ids


def test_holds_api_round_trip_and_refusals(app: Flask) -> None:
    svc, client, headers = services_of(app), app.test_client(), api_token(app, "alice")
    (held,) = archive(svc, make_mail(subject="deal", sender="a@corp.example", to=["b@corp.example"]))
    body = {"name": "Case 1", "reason": "litigation", "criteria": {"mailbox": "a@corp.example"}}
    placed = client.post("/api/v1/holds", json=body, headers=headers)
    assert placed.status_code == 201 and placed.json == {"id": "hold-1", "marked": 1}
    assert svc.store.get_message(held).legal_holds == ["hold-1"]
    flat = client.post("/api/v1/holds", json={"name": "Case 2", "reason": "r", "keyword": "deal"}, headers=headers)
    assert flat.status_code == 201 and flat.json["id"] == "hold-2"
    listed = client.get("/api/v1/holds", headers=headers).json["holds"]
    assert [(h["id"], h["matched"], h["status"]) for h in listed] == [("hold-2", 1, "active"), ("hold-1", 1, "active")]
    released = client.post("/api/v1/holds/hold-1/release", headers=headers)
    assert released.status_code == 200 and released.json["status"] == "released" and released.json["released_by"] == "alice"
    assert svc.store.get_message(held).legal_holds == ["hold-2"]
    for response, status in ((client.post("/api/v1/holds/hold-1/release", headers=headers), 409),
                             (client.post("/api/v1/holds/hold-9/release", headers=headers), 404),
                             (client.post("/api/v1/holds", data="x", headers=headers), 400),
                             (client.post("/api/v1/holds", json={"name": "n", "reason": "r", "criteria": {}}, headers=headers), 400),
                             (client.post("/api/v1/holds", json={**body, "criteria": {"from": "yesterday"}}, headers=headers), 400),
                             (client.post("/api/v1/holds", json=body, headers=api_token(app, "bob")), 403),
                             (client.get("/api/v1/holds", headers=api_token(app, "bob")), 403)):  # fmt: skip
        assert response.status_code == status and "error" in response.json
    assert len(svc.store.list_docs("legal_hold")) == 2


def test_holds_and_retention_pages(app: Flask) -> None:
    svc, client = services_of(app), signed_in(app, "alice")
    archive(svc, make_mail(subject="deal", sender="a@corp.example"))
    token = csrf_token(client, "/holds")
    refused = client.post("/holds", data={"name": "x", "reason": "", "mailbox": "a@corp.example", "csrf_token": token})
    assert refused.status_code == 400 and "needs a reason" in refused.get_data(as_text=True)
    placed = client.post("/holds", data={"name": "Case A", "reason": "court order", "mailbox": "a@corp.example",
                                         "csrf_token": token}, follow_redirects=True)  # fmt: skip
    page = placed.get_data(as_text=True)
    assert "Case A" in page and "court order" in page and '<td class="matched">1</td>' in page
    client.post("/holds/hold-1/release", data={"csrf_token": token})  # not confirmed: nothing happens
    assert svc.holds.get(Actor.cli(), "hold-1").active
    client.post("/holds/hold-1/release", data={"csrf_token": token, "confirmed": "yes"})
    assert not svc.holds.get(Actor.cli(), "hold-1").active
    assert 'value="6"' in client.get("/retention").get_data(as_text=True)
    client.post("/retention", data={"years": "9", "csrf_token": token})
    assert svc.retention.period() == 9 and "9 years" in client.get("/archiving/summary").get_data(as_text=True)
    client.post("/retention", data={"years": "0", "csrf_token": token})
    assert svc.retention.period() == 9
    assert signed_in(app, "bob").get("/holds").status_code == 403


def test_new_mail_gets_the_changed_period_and_restamp_over_the_api(app: Flask) -> None:
    svc, client, headers = services_of(app), app.test_client(), api_token(app, "alice")
    (old,) = archive(svc, make_mail(subject="before"))
    assert client.post("/api/v1/retention", json={"years": 2}, headers=headers).json == {"years": 2}
    (new,) = archive(svc, make_mail(subject="after"))
    first, second = svc.store.get_messages([old, new])
    assert first.retention_until.year == first.received_at.year + 6
    assert second.retention_until.year == second.received_at.year + 2
    refused = client.post("/api/v1/retention", json={"years": 2, "restamp": True, "confirm": "ok"}, headers=headers)
    assert refused.status_code == 400 and "shorten to 2 years" in refused.json["error"]
    done = client.post("/api/v1/retention", json={"years": 2, "restamp": True, "confirm": "shorten to 2 years"},
                       headers=headers).json  # fmt: skip
    assert done["restamp"]["changed"] == 1
    assert svc.store.get_message(old).retention_until.year == first.received_at.year + 2
    assert client.get("/api/v1/retention", headers=headers).json["years"] == 2


def test_cli_hold_purge_and_retention(monkeypatch, tmp_path, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("MAILARCHIVE_INTERNAL_DOMAINS", "corp.example")
    config = cli_archive(monkeypatch, tmp_path / "data")
    with Services.open(config) as svc:
        kept, gone = archive(svc, make_mail(subject="keep", sender="a@corp.example"), make_mail(subject="go", sender="x@other.example"))
        svc.store.set_retention({kept: now_utc() - timedelta(days=1), gone: now_utc() - timedelta(days=1)})
    assert main(["hold", "add", "Case 5", "--reason", "audit", "--mailbox", "a@corp.example"]) == 0
    assert "hold-1: placed 'Case 5', 1 messages held now" in capsys.readouterr().out
    assert main(["hold", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["matched"], listed["reason"]) == ("hold-1", 1, "audit")
    assert main(["purge", "--dry-run", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["purged"] == 1
    assert main(["purge", "--quiet"]) == 0
    assert "purged 1 messages" in capsys.readouterr().out
    assert main(["hold", "release", "hold-1"]) == 0 and main(["hold", "release", "hold-1"]) == 2
    assert "released already" in capsys.readouterr().err
    assert main(["purge", "--quiet"]) == 0
    with Services.open(config) as svc:
        assert svc.store.count() == 0 and svc.retention.purged([kept, gone]) == {kept, gone}
    for args in (["hold", "add", "x", "--reason", "r"], ["hold", "add", "x"], ["retention", "set", "0"],
                 ["purge", "--batch-size", "0"], ["retention", "set", "3", "--restamp", "--confirm", "no"]):  # fmt: skip
        capsys.readouterr()
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("mailarchive: error:") and len(err.strip().splitlines()) == 1
    assert main(["retention", "set", "8"]) == 0 and main(["retention", "show"]) == 0
    assert "8 years" in capsys.readouterr().out


def test_mail_of_disabled_and_deleted_accounts_stays_searchable_until_its_own_retention(app: Flask) -> None:
    svc = services_of(app)
    svc.store.upsert_accounts([Account("c@corp.example", department="/Legal"), Account("d@corp.example", department="/Sales")])
    ids = archive(svc, make_mail(subject="c mail", sender="c@corp.example"), make_mail(subject="d mail", sender="d@corp.example"))
    svc.store.upsert_accounts([Account("c@corp.example", department="/Legal", status="disabled"),
                               Account("d@corp.example", department="/Sales", status="deleted")])  # fmt: skip
    svc.archiving.switch(Actor.cli(), False)  # archiving disabled too: existing mail stays
    svc.retention.purge(Actor.cli())  # nothing has expired
    for address, department, message_id in (("c@corp.example", "/Legal", ids[0]), ("d@corp.example", "/Sales", ids[1])):
        for params in ({"mailbox": address}, {"department": department}):
            assert [m.id for m in svc.store.search(parse_criteria({**ALL_TIME, **params})).results] == [message_id]
    until = max(m.retention_until for m in svc.store.get_messages(ids))
    assert svc.retention.purge(Actor.cli(), now=until).purged == 1  # each by its own retention
    assert svc.retention.purge(Actor.cli(), now=until + timedelta(milliseconds=1)).purged == 1


def test_the_pages_are_in_the_menu_and_translated(app: Flask) -> None:
    admin = signed_in(app, "alice")
    menu = admin.get("/archiving/summary").get_data(as_text=True)
    assert 'href="/retention"' in menu and 'href="/holds"' in menu
    admin.set_cookie("lang", "zh-CN")
    assert "法律保留" in admin.get("/holds").get_data(as_text=True)
    root = Path(__file__).resolve().parents[2]
    sources = [*root.glob("templates/retention/*.html"), *root.glob("templates/holds/*.html")]
    keys = {k for path in sources for k in re.findall(r"""_\(["']([^"']+)["']""", path.read_text(encoding="utf-8"))}
    views = (root / "server/web/retention_views.py").read_text(encoding="utf-8")
    keys |= set(re.findall(r"""\bt\(["']([^"']+)["']""", views))
    assert keys and not keys - set(catalog("zh-CN"))
