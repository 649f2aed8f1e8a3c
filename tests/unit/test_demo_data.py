"""``mailarchive demo-data``: sample mail of the last 90 days through the real pipeline, idempotent."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from server.cli import main
from server.cli.common import config_from_env, opened_store
from server.model import now_utc
from server.query.criteria import parse_criteria
from tests.support.cli import cli_archive


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cli_archive(monkeypatch, tmp_path / "data")
    return tmp_path / "data"


def test_demo_data_is_recent_bilingual_with_attachments_and_departments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", "--count", "150"]) == 0
    assert "150 generated" in capsys.readouterr().out
    today = now_utc()
    criteria = parse_criteria({"from": (today - timedelta(days=91)).date().isoformat(), "to": today.date().isoformat()})
    with opened_store(config_from_env()) as store:
        total = store.count()
        assert 100 < total <= 150 and store.count(criteria) == total
        messages = list(store.scan(criteria))
        assert any(any("\u4e00" <= c <= "\u9fff" for c in m.subject) for m in messages)
        assert any(m.subject.isascii() and m.subject for m in messages)
        assert any(m.attachment_names for m in messages)
        assert any(m.department_paths for m in messages) and len(store.list_departments()) > 5
    assert main(["demo-data", "--count", "150"]) == 0  # same seed: nothing new
    with opened_store(config_from_env()) as store:
        assert store.count() == total


def test_demo_data_rejects_bad_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", "--count", "0"]) == 2
    assert "--count must be" in capsys.readouterr().err
