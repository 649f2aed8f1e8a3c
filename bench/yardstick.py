"""A fixed query over the same SQLite file, timed beside the search stages: the machine's speed at
the moment the searches ran.

Search latency on a shared 2-core machine moves with the neighbours' load; these statements do
not change between code versions (no planner of ours, no Python per row), so the ratio of a search
figure to them says more than the figure alone. Both run on the store's own database file, read
only: an FTS5 count of one common word over the whole archive (the doclist walk every keyword
search pays) and the count of the narrow ``messages`` table (a plain B-tree walk).
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from pathlib import Path

WORD = "contract"  # in about a third of the bench corpus's mail
ROUNDS = 5


def sqlite_yardstick(data_dir: Path, rounds: int = ROUNDS) -> dict:
    path = data_dir / "archive.sqlite3"
    if not path.exists():
        return {"skipped": "no SQLite archive in the data dir"}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        statements = {
            "fts_match_count": ("SELECT count(*) FROM message_text WHERE message_text MATCH ?", (f'"{WORD}"',)),
            "messages_count": ("SELECT count(*) FROM messages", ()),
        }
        out = {}
        for name, (sql, args) in statements.items():
            conn.execute(sql, args).fetchone()  # warm the page cache
            wall, cpu, rows = [], [], 0
            for _ in range(rounds):
                started, cpu_started = time.perf_counter(), time.process_time()
                rows = conn.execute(sql, args).fetchone()[0]
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
            out[name] = {"rows": rows, "wall_ms_median": round(statistics.median(wall), 2),
                         "cpu_ms_median": round(statistics.median(cpu), 2)}  # fmt: skip
        out["word"] = WORD
        return out
    finally:
        conn.close()


def ratios(search: dict, yardstick: dict) -> dict:
    """Each surface's p95 (overall and per kind) in units of the fixed FTS5 count's median."""
    unit = yardstick.get("fts_match_count", {}).get("wall_ms_median")
    if not unit:
        return {}
    out: dict = {"unit_ms": unit}
    for surface in ("store", "api"):
        result = search.get(surface, {})
        if "overall" not in result:
            continue
        out[surface] = {"overall_p95": round(result["overall"]["p95"] / unit, 2),
                        **{kind: round(v["p95"] / unit, 2) for kind, v in result.get("by_kind", {}).items() if "p95" in v}}  # fmt: skip
    return out
