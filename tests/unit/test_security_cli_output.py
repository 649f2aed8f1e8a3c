"""CLI output of mail-derived text: terminal escape and control sequences in a subject or sender
are printed as visible escapes, never raw (a hostile subject must not retitle the operator's
window, rewrite earlier lines or hide the rest of a row); JSON output stays valid JSON of the same
values. A huge keyword is refused with exit 2 and one line, quickly enough to finish the test."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.cli import main
from server.cli.common import opened_store
from server.cli.terminal import safe
from tests.conformance.factory import make, put
from tests.support.cli import cli_archive

WHEN = datetime(2024, 3, 5, 9, tzinfo=UTC)
HOSTILE_SUBJECT = "Invoice \x1b]0;pwned\x07\x1b[2J\x1b[1A\r\x9b31m \u202egnp.exe\u202c \x00end"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with opened_store(cli_archive(monkeypatch, tmp_path / "data")) as store:
        put(store, [make("evil", date=WHEN, subject=HOSTILE_SUBJECT, sender="\x1b[8mmallory@example.com")])
    return tmp_path / "data"


def _raw_controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f or c in "\u202e\u202c"]


def test_search_table_shows_escapes_instead_of_sending_them(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--from", "2024-03-01", "--to", "2024-03-31"]) == 0
    out = capsys.readouterr().out
    assert _raw_controls(out) == []
    assert "\\x1b]0;pwned\\x07" in out and "\\u202e" in out and "\\x1b[8mmallory@example.com" in out


@pytest.mark.parametrize("flag", ["--json", "--jsonl"])
def test_search_json_escapes_every_control_and_keeps_the_value(data_dir: Path, capsys: pytest.CaptureFixture[str],
                                                               flag: str) -> None:  # fmt: skip
    assert main(["search", "--from", "2024-03-01", "--to", "2024-03-31", flag]) == 0
    out = capsys.readouterr().out
    assert _raw_controls(out) == []
    row = json.loads(out) if flag == "--json" else json.loads(out.splitlines()[0])
    subject = row["results"][0]["subject"] if flag == "--json" else row["subject"]
    assert subject == HOSTILE_SUBJECT


def test_audit_table_shows_escapes_of_an_anonymous_sign_in_name(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from server.audit.log import AuditLog
    from server.cli.common import config_from_env

    config = config_from_env()
    with opened_store(config) as store:
        AuditLog.for_config(store, config).record(actor="\x1b]0;x\x07root", role="", operation="login_failed")
    assert main(["audit", "query", "--from", "2000-01-01", "--to", "2100-01-01"]) == 0
    out = capsys.readouterr().out
    assert _raw_controls(out) == [] and "\\x1b]0;x\\x07root" in out


def test_safe_keeps_ordinary_text() -> None:
    assert safe("季度报告 Q3\tdone — ok") == "季度报告 Q3\tdone — ok"


def test_a_thirty_thousand_word_keyword_is_refused_with_exit_2(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keyword = " ".join(f"w{n}" for n in range(30_000))
    assert main(["search", "--from", "2024-03-01", "--to", "2024-03-31", "--keyword", keyword]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "keyword" in err


def test_every_code_point_is_escaped_as_the_character_class_says() -> None:
    """``safe`` (a translate table) and ``json_line`` (a regex compiled on first use) escape exactly
    the characters of the class the table output used to compile at import."""
    import re

    from server.cli.terminal import json_line

    unsafe = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
    text = "".join(chr(c) for c in range(0x3000)) + "合同\U0001f4ce"
    escaped = unsafe.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)
    assert safe(text) == escaped
    assert json_line([text]) == unsafe.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps([text], ensure_ascii=False))
