"""The archive log's keyword filter for an email administrator matches only what that reader is
shown (the redacted details), never the stored subject, attachment name or search words: else a
keyword probes, yes or no, whether some viewed message's subject held a word. On both backends,
through the API, the page's CSV download and with paging (a page of N holds N matches, totals
count matches only).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from flask import Flask

from server.audit.operations import Op
from server.config import Config
from server.users import Role
from server.web.context import services_of
from tests.support.es import es_config
from tests.support.web import api_token, running_app

RANGE = {"from": "2000-01-01", "to": "2100-01-01"}
SECRET = "zanzibar"  # only ever inside content-quoting details


@pytest.fixture(params=["sqlite", "elasticsearch"])
def app(request: pytest.FixtureRequest, config: Config) -> Iterator[Flask]:
    chosen = config if request.param == "sqlite" else es_config(request)
    with running_app(chosen, {"arch": Role.ARCHIVE_ADMIN, "mail": Role.EMAIL_ADMIN}) as app:
        log = services_of(app).audit_log
        log.record(actor="arch", role="archive-admin", operation=Op.MESSAGE_VIEW, target="m1",
                   details={"subject": f"Acquisition of {SECRET.title()} Ltd"})  # fmt: skip
        log.record(actor="arch", role="archive-admin", operation=Op.ATTACHMENT_DOWNLOAD, target="m2",
                   details={"index": 0, "name": f"{SECRET}-terms.pdf", "sha256": "ab"})  # fmt: skip
        log.record(actor="arch", role="archive-admin", operation=Op.SEARCH, details={"keyword": SECRET, "hits": 2})
        log.record(actor="arch", role="archive-admin", operation=Op.LEGAL_HOLD, target="7",
                   details={"name": "Case 7", "criteria": {"keyword": SECRET}})  # fmt: skip
        for n in range(5):  # entries whose *shown* values hold the word: a hold's own name, a target
            log.record(actor="arch", role="archive-admin", operation=Op.LEGAL_HOLD, target=f"{SECRET}-{n}",
                       details={"name": f"{SECRET} case {n}", "subject": "unrelated"})  # fmt: skip
        yield app


def _query(app: Flask, user: str, **extra: str) -> dict:
    response = app.test_client().get("/api/v1/audit", query_string={**RANGE, "keyword": SECRET, **extra},
                                     headers=api_token(app, user))  # fmt: skip
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_an_email_admin_keyword_never_matches_a_redacted_value(app: Flask) -> None:
    mail = _query(app, "mail")
    assert mail["total"] == 5 and {r["target"] for r in mail["results"]} == {f"{SECRET}-{n}" for n in range(5)}
    arch = _query(app, "arch")  # sees subjects, so the keyword finds them (and the audited queries)
    found = [r for r in arch["results"] if r["operation"] != Op.AUDIT_QUERY]
    assert len(found) == 9 and {"m1", "m2"} <= {r["target"] for r in found}


@pytest.mark.parametrize("word", ["acquisition", "terms.pdf", "redacted"])
def test_words_only_in_a_subject_or_file_name_find_nothing_for_an_email_admin(app: Flask, word: str) -> None:
    """Also not the ``[redacted]`` placeholder, which is not a value of the entry."""
    mail = _query(app, "mail", keyword=word)
    assert (mail["total"], mail["results"]) == (0, [])
    if word != "redacted":
        found = [r for r in _query(app, "arch", keyword=word)["results"] if r["operation"] != Op.AUDIT_QUERY]
        assert [r["target"] for r in found] == ["m1" if word == "acquisition" else "m2"]


def test_pages_of_an_email_admin_hold_only_matches_and_the_total_counts_them(app: Flask) -> None:
    seen, cursor = [], ""
    while True:
        page = _query(app, "mail", limit="2", **({"cursor": cursor} if cursor else {}))
        assert page["total"] == 5 and len(page["results"]) == (2 if page["next_cursor"] else 1)
        seen += [r["target"] for r in page["results"]]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert seen == [f"{SECRET}-{n}" for n in reversed(range(5))]


def test_the_csv_download_of_an_email_admin_holds_only_matches(app: Flask) -> None:
    response = app.test_client().get("/api/v1/audit.csv", query_string={**RANGE, "keyword": SECRET},
                                     headers=api_token(app, "mail"))  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).removeprefix("\ufeff"))))
    assert sorted(r["target"] for r in rows) == [f"{SECRET}-{n}" for n in range(5)]
    assert all("acquisition" not in r["details"].lower() for r in rows)
