"""bench/load.py end to end on a tiny synthetic archive: every kind of request runs and is counted.

Latency is never asserted (speed belongs to the benchmark); this proves the load test drives a real
``mailarchive serve`` through the API and POP3, accounts for every request and writes its results file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_load_run_counts_every_search_and_pop3_request_and_writes_results(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARCHIVE_")}
    command = [sys.executable, "bench/load.py", "--size", "150", "--searches", "3", "--requests", "2", "--pop3", "2",
               "--sessions", "2", "--retr", "3", "--work", str(tmp_path / "work"), "--results", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [path] = tmp_path.glob("load-*.json")
    result = json.loads(path.read_text())
    kinds = result["kinds"]
    counts = {kind: (kinds[kind]["n"], kinds[kind]["errors"]) for kind in kinds}
    assert counts == {"search": (6, 0), "pop3_login": (4, 0), "pop3_list": (4, 0), "pop3_retr": (12, 0),
                      "pop3_session": (4, 0)}
    assert 0 < result["archive"]["messages"] <= 150 and result["errors"] == 0
    assert all(kinds[k]["p50"] <= kinds[k]["p95"] <= kinds[k]["p99"] <= kinds[k]["max"] for k in kinds)
