"""The performance table takes each (backend, size)'s newest run by when it was started, not by file
time: a fresh clone gives every results file the same modification time."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.report import _latest_runs


def _write(results: Path, name: str, started: str, rate: int, mtime: int) -> None:
    run = {"backend": "sqlite", "size": 10_000, "import": {"exit_code": 0, "msg_per_s": rate}}
    path = results / f"{name}.json"
    path.write_text(json.dumps({"name": name, "started": started, "runs": [run]}))
    os.utime(path, (mtime, mtime))


def test_newest_run_is_the_one_started_last_whatever_the_file_times(tmp_path: Path) -> None:
    _write(tmp_path, "later", "2026-12-03T18:00:00", 900, mtime=1_000)
    _write(tmp_path, "earlier", "2026-12-01T08:00:00", 500, mtime=2_000)  # touched after the later run
    (tmp_path / "ab-tool.json").write_text(json.dumps({"runs": 3}))  # other tools' files are skipped
    [run] = _latest_runs(tmp_path)
    assert (run["import"]["msg_per_s"], run["file"], run["date"]) == (900, "later.json", "2026-12-03")
