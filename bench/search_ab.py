"""Before / after for the search path: the bench mix through ``Store.search`` with two code trees
on the same archive, in interleaved rounds, CPU ms per kind, and a check that every total and
every page is identical.

    git worktree add --detach /tmp/before main
    python bench/search_ab.py --before /tmp/before --archive bench/work/archive-100k --rounds 3

A change of the index's form (a migration) is compared with ``--before-archive``: a copy of the
archive as the old code left it, which the old tree searches while the new tree searches the
migrated one (the answers must still be identical).

Each round runs each tree in a fresh process (so module caches do not carry over); CPU time, not
wall time, is compared: on a shared machine the neighbours' load moves wall time, not CPU time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
from bench.queries import query_mix
from server.config import load_config
from server.query.criteria import parse_criteria
from server.store import open_store

config = load_config(env={"MAILARCHIVE_DATA_DIR": sys.argv[1], "MAILARCHIVE_CONFIG": "none", "MAILARCHIVE_STORE": "sqlite"})
store = open_store(config)
out = []
for kind, params in query_mix(1):
    criteria = parse_criteria(params, tz=config.timezone)
    cpu = time.process_time()
    page = store.search(criteria, limit=50)
    out.append([kind, (time.process_time() - cpu) * 1000, page.total, [m.id for m in page.results]])
store.close()
print(json.dumps(out))
"""


def _run(tree: Path, archive: Path) -> list:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(archive)], cwd=tree, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, check=False)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"{tree}: {done.stderr[-1500:]}")
    return json.loads(done.stdout)


def compare(before: Path, after: Path, archive: Path, rounds: int, before_archive: Path | None = None) -> dict:
    cpu: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    answers: dict[str, list] = {}
    for _ in range(rounds):
        for name, tree, data in (("before", before, before_archive or archive), ("after", after, archive)):
            rows = _run(tree, data)
            for kind, ms, _total, _ids in rows:
                cpu[name].setdefault(kind, []).append(ms)
            answers.setdefault(name, [[total, ids] for _kind, _ms, total, ids in rows])
    summary = {name: {kind: {"p50": round(statistics.median(v), 1), "p95": _p95(v), "max": round(max(v), 1), "n": len(v)}
                      for kind, v in kinds.items()} for name, kinds in cpu.items()}  # fmt: skip
    differ = [i for i, (a, b) in enumerate(zip(answers["before"], answers["after"], strict=True)) if a != b]
    return {"archive": str(archive), "before_archive": str(before_archive or archive), "rounds": rounds,
            "identical_results": not differ, "differing_queries": differ, "cpu_ms": summary}  # fmt: skip


def _p95(values: list[float]) -> float:
    ranked = sorted(values)
    return round(ranked[min(len(ranked) - 1, int(0.95 * len(ranked)))], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the code to compare against")
    parser.add_argument("--after", type=Path, default=ROOT, help="the code measured (default: this checkout)")
    parser.add_argument("--archive", type=Path, required=True, help="data dir of an existing SQLite archive")
    parser.add_argument("--before-archive", type=Path, help="the archive the old tree searches (default: --archive)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    before_archive = args.before_archive.resolve() if args.before_archive else None
    result = compare(args.before.resolve(), args.after.resolve(), args.archive.resolve(), args.rounds, before_archive)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
