"""The benchmark harness end to end on a tiny corpus: every stage runs and reports its fields.

Speed is never asserted here (DESIGN.md: speed targets live in the benchmark, not in unit tests);
this only proves that ``mailarchive bench`` produces a complete results file and table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.queries import KINDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    tmp = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARCHIVE_")}
    command = [sys.executable, "-m", "server", "bench", "--sizes", "200", "--backends", "sqlite", "--quick",
               "--work", str(tmp / "work"), "--results", str(tmp / "results"), "--doc", str(tmp / "performance.md")]
    done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    files = list((tmp / "results").glob("bench-*.json"))
    assert len(files) == 1, done.stdout
    return json.loads(files[0].read_text()), tmp


def test_results_file_has_every_stage(bench_run) -> None:
    result, _ = bench_run
    assert {"name", "started", "finished", "git_commit", "machine", "options", "runs"} <= set(result)
    (run,) = result["runs"]
    assert (run["size"], run["backend"]) == (200, "sqlite")
    assert run["corpus"]["messages"] == 200 and run["corpus"]["bytes"] > 200 * 1000
    parse = run["parse_loop"]
    assert parse["messages"] == 200 and parse["failed"] == 0 and parse["msg_per_s"] > 0 and parse["workers"] >= 1
    assert run["pipeline_parse_loop"]["messages"] == 200 and run["pipeline_parse_loop"]["msg_per_s"] > 0
    imp = run["import"]
    assert imp["exit_code"] == 0, imp["stderr_tail"]
    assert imp["messages"] == 200 and imp["msg_per_s"] > 0 and imp["mb_per_s"] > 0
    assert imp["summary"]["archived"] > 150 and imp["summary"]["failed"] == 0
    assert imp["peak_rss_mb"] > 10 and imp["samples"] >= 1
    assert run["import_vs_parse"] > 0 and run["import_vs_pipeline_parse"] > 0


def test_import_yardsticks_disk_writes_and_memory_plot(bench_run) -> None:
    """Issue 18's stages: the stdlib loop and notmuch beside the import, bytes written, RSS plot."""
    result, tmp = bench_run
    (run,) = result["runs"]
    assert run["stdlib_parse_loop"]["messages"] == 200 and run["import_vs_stdlib_parse_cpu"] > 0
    notmuch = run["notmuch"]
    assert notmuch.get("files") == 200 and run["import_vs_notmuch_cpu"] > 0 if "skipped" not in notmuch else "notmuch" in notmuch["skipped"]
    imp = run["import"]
    assert imp["write_bytes"] > 0 and run["disk"]["written_vs_store"] > 0
    assert (tmp / "results" / imp["rss_plot"]).read_text().startswith("<svg") and len(imp["timeline"]) >= 1


def test_cli_search_stage_measures_the_command_and_its_imports(bench_run) -> None:
    result, _ = bench_run
    search = result["runs"][0]["search"]
    cli = search["cli"]
    assert cli["search"]["wall"]["n"] == cli["python"]["wall"]["n"] >= 3
    assert cli["search"]["wall"]["median"] > 0 and cli["wall_ratio"] > 0
    assert cli["importtime"]["modules"] > 50 and cli["importtime"]["top_cumulative"]
    assert cli["importtime"]["forbidden_loaded"] == []  # the search path loads no Flask, importer or MIME parser
    assert search["yardstick_before"]["fts_match_count"]["rows"] > 0 and search["vs_yardstick"]["store"]


def test_search_latency_covers_every_kind_and_finds_mail(bench_run) -> None:
    result, _ = bench_run
    store = result["runs"][0]["search"]["store"]
    assert set(store["by_kind"]) == set(KINDS)
    assert store["overall"]["n"] == sum(k["n"] for k in store["by_kind"].values()) > 0
    assert all(store["overall"][q] >= 0 for q in ("p50", "p95", "p99"))
    found = {kind: k["max_total"] for kind, k in store["by_kind"].items()}
    assert found["keyword_en"] > 0 and found["keyword_cjk"] > 0 and found["department_sub"] > 0, found


def test_table_in_the_performance_doc(bench_run) -> None:
    result, tmp = bench_run
    doc = (tmp / "performance.md").read_text()
    assert "| backend | messages |" in doc
    assert "| sqlite | 200 |" in doc
    assert result["runs"][0]["import"]["msg_per_s"] and "(bench-" in doc


def test_pop3_stage_retrieves_the_archive_against_its_yardstick(bench_run) -> None:
    result, tmp = bench_run
    run = result["runs"][0]
    pop3 = run["pop3"]
    archived = run["import"]["summary"]["archived"]
    assert pop3["messages"] == pop3["yardstick"]["messages"] == archived
    assert pop3["bytes"] >= pop3["yardstick"]["bytes"] > 0  # CRLF line ends and dot-stuffing add, never remove
    assert pop3["retr_mb_per_s"] > 0 and pop3["retr_vs_yardstick"] > 0 and pop3["server_peak_rss_mb"] > 10
    assert "| POP3: backend |" in (tmp / "performance.md").read_text()


def test_export_all_stage_measures_the_worker_against_the_bare_loop(bench_run) -> None:
    export = bench_run[0]["export"]
    assert export["export"]["messages"] == export["bare_loop"]["messages"] > 200, export
    assert export["export"]["mb_per_s"] > 0 and export["bare_loop"]["mb_per_s"] > 0 and export["export_vs_bare"] > 0
    assert export["export"]["peak_rss_mb"] > 10 and export["export"]["peak_processes"] >= 1
    assert export["zip_libraries"]["project zipstream stored"]["mb_per_s"] > 0
