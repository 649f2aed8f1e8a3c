"""``mailarchive export --from ... --to ... [criteria] --out FILE.zip`` on a real store."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from server.audit.operations import Op
from server.cli import main
from server.cli.common import config_from_env, opened_store
from server.store.protocol import AuditQuery
from tests.support.cli import cli_archive
from tests.support.webdata import WHEN, load_samples, sample_mail

RANGE = ["--from", (WHEN - timedelta(days=30)).date().isoformat(), "--to", (WHEN + timedelta(days=3)).date().isoformat()]


@pytest.fixture
def ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    config = cli_archive(monkeypatch, tmp_path / "data")
    with opened_store(config) as store:
        return load_samples(store, config)


def test_export_by_criteria_writes_zip_of_matches_and_audits(ids: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "contracts.zip"
    assert main(["export", *RANGE, "--keyword", "合同", "--out", str(out)]) == 0
    archive = zipfile.ZipFile(out)
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == [ids["contract"]]  # the 200-day-old 合同 mail is outside the range
    assert archive.read(rows[0]["file_name"]) == sample_mail()["contract"]
    with opened_store(config_from_env()) as store:
        _, [entry] = store.audit_query(AuditQuery(start=WHEN - timedelta(days=1), end=WHEN + timedelta(days=30),
                                                  operation=Op.BULK_EXPORT))
    assert entry.actor == "cli" and entry.details["count"] == 1 and entry.details["keyword"] == "合同"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_export_all_in_range_and_empty_result(ids: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "all.zip"
    assert main(["export", *RANGE, "--out", str(out)]) == 0
    assert len(zipfile.ZipFile(out).namelist()) == 3 + 1
    assert main(["export", *RANGE, "--sender", "nobody@corp.example", "--out", str(tmp_path / "none.zip")]) == 0
    assert zipfile.ZipFile(tmp_path / "none.zip").namelist() == ["manifest.csv"]


@pytest.mark.parametrize("args, message", [
    (["--from", "2025-01-01"], "time range is required"),
    (["--id", "x", *RANGE], "not both"),
    ([], "give --id ID"),
])
def test_export_bad_input_exits_2(ids, tmp_path: Path, capsys: pytest.CaptureFixture[str], args, message) -> None:  # noqa: ANN001
    assert main(["export", *args, "--out", str(tmp_path / "x.zip")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
