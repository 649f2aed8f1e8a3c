"""``mailarchive search`` and ``mailarchive export --id`` through the real command, on a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server.cli import main
from server.cli.common import config_from_env, opened_store
from server.store.protocol import AuditQuery
from tests.conformance.factory import ALICE, DATASET, make, put
from tests.support.cli import cli_archive

ROOT = Path(__file__).resolve().parents[2]
FEBRUARY = datetime(2024, 2, 10, tzinfo=UTC)  # outside the March searches
ODD_RAW = b"Subject: odd\n\r\nbare LF and CRLF \xff\xfe latin-1 caf\xe9\r\n\x00end"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An archive holding the conformance dataset plus one message with unusual bytes."""
    with opened_store(cli_archive(monkeypatch, tmp_path / "data")) as store:
        put(store, [*DATASET, make("odd-bytes", date=FEBRUARY, subject="odd", raw=ODD_RAW)])
    return tmp_path / "data"


def run(*args: str) -> subprocess.CompletedProcess:
    """The installed entry point as a user runs it (environment from the fixture)."""
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def audited(operation: str) -> list:
    with opened_store(config_from_env()) as store:
        query = AuditQuery(start=datetime(2000, 1, 1, tzinfo=UTC), end=datetime(2100, 1, 1, tzinfo=UTC), operation=operation)
        return store.audit_query(query)[1]


def test_search_json_shape(data_dir: Path) -> None:
    done = run("search", "--from", "2024-03-01", "--to", "2024-03-31", "--mailbox", ALICE, "--keyword", "budget", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["total"] == 1
    [hit] = out["results"]
    assert set(hit) == {"id", "message_id", "sha256", "subject", "sender", "recipients", "date", "mailboxes",
                        "attachment_names", "size", "flags", "highlight"}  # fmt: skip
    assert (hit["id"], hit["subject"], hit["date"]) == ("budget-q", "Quarterly budget review", "2024-03-01T10:00:00.000Z")
    assert hit["highlight"] == {"subject": ["Quarterly <mark>budget</mark> review"],
                                "body": ["Please review the <mark>budget</mark> numbers before Friday."],
                                "attachment_names": ["<mark>Budget</mark> 2024.xlsx"]}


def test_search_every_criterion(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["search", "--from", "2024-03-01", "--to", "2024-03-08", "--mailbox", "bob@corp.example", "--sender", "ALICE@corp.example",
            "--recipient", "bob@corp.example", "--keyword", '"budget review"', "--scope", "subject,attachment",
            "--department", "/Sales", "--include-subdepartments", "--json"]  # fmt: skip
    assert main(args) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["results"]] == ["budget-q"]


def test_search_cjk_and_limit(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--from", "2024-03-01", "--to", "2024-03-31", "--keyword", "合同", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["results"]] == ["zh-contract"]
    assert main(["search", "--from", "2024-03-01", "--to", "2024-03-31", "--limit", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["total"], [r["id"] for r in out["results"]]) == (8, ["external", "reversed", "outage"])


def test_search_table(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--from", "2024-03-01", "--to", "2024-03-31", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2024-03-08 10:00  news@external.com") and lines[0].endswith("Invitation  [external]")
    assert lines[-1].startswith("2 of 8 messages; next page: --cursor ")


def test_search_table_shows_the_configured_time_zone(data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MAILARCHIVE_TIMEZONE", "Asia/Shanghai")
    assert main(["search", "--from", "2024-03-08", "--to", "2024-03-08"]) == 0
    assert capsys.readouterr().out.startswith("2024-03-08 18:00  news@external.com")


@pytest.mark.parametrize("bounds", [["2024-03-08", "2024-03-08"], ["2024-03-08T00:00Z", "2024-03-09T00:00Z"]])
def test_an_unknown_time_zone_is_one_line_and_exit_2(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str], bounds: list[str]) -> None:  # fmt: skip
    """Also when the bounds carry their offset: the table still needs the zone to show dates in."""
    monkeypatch.setenv("MAILARCHIVE_TIMEZONE", "Mars/Olympus_Mons")
    assert main(["search", "--from", bounds[0], "--to", bounds[1]]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "unknown time zone 'Mars/Olympus_Mons'" in captured.err


def test_search_is_audited(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "--from", "2024-03-01", "--to", "2024-03-31", "--keyword", "budget"]) == 0
    [entry] = audited("search")
    assert (entry.actor, entry.details["keyword"], entry.details["hits"]) == ("cli", "budget", 4)


BAD_INPUT = [
    (["search", "--to", "2024-03-31"], "time range is required"),
    (["search", "--from", "2024-03-01"], "time range is required"),
    (["search", "--from", "2024-04-01", "--to", "2024-03-01"], "is after"),
    (["search", "--from", "yesterday", "--to", "2024-03-01"], "must be a date"),
    (["search", "--from", "2024-03-01", "--to", "2024-03-31", "--scope", "header"], "unknown scope 'header'"),
    (["search", "--from", "2024-03-01", "--to", "2024-03-31", "--sender", "not-an-address"], "'sender' must be a full email"),
    (["search", "--from", "2024-03-01", "--to", "2024-03-31", "--mailbox", "a@b.c,bad"], "'mailbox' must be"),
    (["search", "--from", "2024-03-01", "--to", "2024-03-31", "--limit", "0"], "'limit' must be from 1"),
    (["search", "--from", "2024-03-01", "--to", "2024-03-31", "--keyword", "!!!"], "no letters or digits"),
    (["search", "--from", "2024-03-01", "--to", "2024-03-31", "--keyword", "budget OR"], "keyword: 'OR' needs a word"),
    (["search", "--from", "2024-03-01", "--to", "2024-03-31", "--keyword", "(budget"], "unbalanced parenthesis"),
    (["search", "--from", "2024-03-01", "--to", "2024-03-31", "--colour"], "unrecognized arguments"),
    (["export", "--out", "x.eml"], "give --id"),
    (["export", "--id", "budget-q"], "--out"),
    (["export", "--id", "budget-q", "--out", "/no/such/dir/x.eml"], "does not exist"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_exits_2_with_one_line(data_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1 and message in captured.err


def test_bad_input_through_the_real_command(data_dir: Path) -> None:
    done = run("search", "--from", "2024-03-31", "--to", "2024-03-01", "--json")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == ["mailarchive: error: 'from' (2024-03-31) is after 'to' (2024-03-01)"]



def _key(order: str):  # noqa: ANN202
    """What the store orders by under ``order``, ties broken by id in the same direction."""
    return {"-date": lambda r: (r["date"], r["id"]), "date": lambda r: (r["date"], r["id"]),
            "-size": lambda r: (r["size"], r["id"]), "size": lambda r: (r["size"], r["id"])}[order]  # fmt: skip


@pytest.mark.parametrize("order", ["-date", "date", "-size", "size"])
def test_search_sort_through_the_real_command(data_dir: Path, order: str) -> None:
    """``--sort`` takes the API's keys; pages walked with the cursor and ``--all`` keep the order."""
    march = ("--from", "2024-03-01", "--to", "2024-03-31")
    done = run("search", *march, f"--sort={order}", "--json")
    assert done.returncode == 0, done.stderr
    everything = json.loads(done.stdout)["results"]
    assert len(everything) == 8
    assert everything == sorted(everything, key=_key(order), reverse=order.startswith("-"))
    seen, cursor = [], None
    while True:
        page = json.loads(run("search", *march, f"--sort={order}", "--limit", "3", "--json",
                              *(["--cursor", cursor] if cursor else [])).stdout)  # fmt: skip
        seen += page["results"]
        if (cursor := page["next_cursor"]) is None:
            break
    assert [r["id"] for r in seen] == [r["id"] for r in everything]
    streamed = run("search", *march, f"--sort={order}", "--all", "--jsonl")
    assert [json.loads(line)["id"] for line in streamed.stdout.splitlines()] == [r["id"] for r in everything]
    [*_, entry] = audited("search")
    assert entry.details.get("sort") == (None if order == "-date" else order)


def test_a_reader_that_stops_early_gets_no_traceback(data_dir: Path) -> None:
    """``mailarchive search --all --jsonl | head -1``: the pipe's reader is gone before the output."""
    child = subprocess.Popen([sys.executable, "-m", "server", "search", "--from", "2024-03-01", "--to", "2024-03-31",
                              "--all", "--jsonl"], cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)  # fmt: skip
    child.stdout.close()  # no reader left: every write of the child fails with EPIPE
    _, stderr = child.communicate(timeout=120)
    assert (child.returncode, stderr.decode()) == (0, "")


def test_search_bad_sort_is_one_line_and_exit_2(data_dir: Path) -> None:
    done = run("search", "--from", "2024-03-01", "--to", "2024-03-31", "--sort", "newest")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == ["mailarchive: error: 'sort' must be one of -date, date, -size, size, got 'newest'"]
    [entry] = audited("search")
    assert (entry.result, entry.details.get("sort")) == ("failure", None)


@pytest.mark.parametrize("message_id", ["odd-bytes", "zh-contract"])
def test_export_is_byte_identical(data_dir: Path, tmp_path: Path, message_id: str) -> None:
    out = tmp_path / f"{message_id}.eml"
    done = run("export", "--id", message_id, "--out", str(out))
    assert done.returncode == 0, done.stderr
    expected = ODD_RAW if message_id == "odd-bytes" else dict((m.id, raw) for m, raw in DATASET)[message_id]
    assert out.read_bytes() == expected
    assert [e.target for e in audited("eml_export")] == [message_id]


def test_export_unknown_id_exits_2(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "missing.eml"
    assert main(["export", "--id", "no-such-id", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == "mailarchive: error: no archived message with id 'no-such-id'"
    assert not out.exists() and list(tmp_path.glob("*.part")) == []
