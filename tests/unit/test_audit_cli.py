"""``mailarchive audit verify|query`` through the real command entry point on a real SQLite store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from server.audit.log import AuditLog
from server.audit.operations import Op
from server.cli import main
from server.cli.common import config_from_env, opened_store
from tests.support.audit_tamper import tamper_for
from tests.support.cli import cli_archive


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cli_archive(monkeypatch, tmp_path / "data")
    return tmp_path / "data"


def _record(count: int) -> None:
    config = config_from_env()
    with opened_store(config) as store:
        log = AuditLog.for_config(store, config)
        for n in range(count):
            log.record(actor="alice" if n % 2 else "bob", role="archive-admin", operation=Op.SEARCH,
                       target=f"t{n}", details={"keyword": "发票" if n == 1 else "x", "hits": n})  # fmt: skip


def test_verify_reports_an_intact_log(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.strip() == "audit log intact: 0 entries"
    _record(3)
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.strip() == "audit log intact: 3 entries"


def test_verify_exits_1_naming_the_first_bad_entry(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _record(5)
    with opened_store() as store:
        tamper_for(store).edit_details(2)
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "first bad entry: 2" in err and "altered" in err


def test_query_json_filters_and_audits_itself(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _record(4)
    assert main(["audit", "query", "--from", "2000-01-01", "--to", "2100-01-01", "--actor", "alice", "--json"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert page["total"] == 2 and [r["target"] for r in page["results"]] == ["t3", "t1"]
    assert main(["audit", "query", "--from", "2000-01-01", "--to", "2100-01-01", "--keyword", "发票", "--json"]) == 0
    assert [r["seq"] for r in json.loads(capsys.readouterr().out)["results"]] == [2]
    with opened_store() as store:
        last = store.audit_last()
    assert (last.actor, last.operation, last.details["keyword"], last.details["total"]) == ("cli", "audit_query", "发票", 1)


def test_query_csv_writes_every_match(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _record(3)
    assert main(["audit", "query", "--from", "2000-01-01", "--to", "2100-01-01", "--operation", "search", "--csv", "--limit", "1"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out.lstrip("\ufeff"))))
    assert [r[0] for r in rows] == ["seq", "3", "2", "1"]
    with opened_store() as store:
        assert store.audit_last().operation == Op.AUDIT_EXPORT


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--from", "2024-01-01"], "--to"), (["--from", "yesterday", "--to", "2024-01-01"], "'from' must be a date"),
     (["--from", "2024-01-01", "--to", "2024-01-02", "--operation", "nope"], "unknown operation")],
)  # fmt: skip
def test_query_bad_input_exits_2_with_one_line(data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(["audit", "query", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
