"""Two code trees importing the same mail, interleaved: how a change to the import path was judged.

    python bench/import_ab.py --trees /path/to/main-checkout,. --runs 3 MAILFILE...

Each run makes a fresh SQLite data dir, loads the bench directory (seed 1), runs that tree's
``python -m server import FILES --json`` as a subprocess and records what the machine's load
cannot distort much: CPU per message of the process tree (``getrusage`` of the reaped children),
of the importer process alone (its serial share, from /proc), system CPU, the bytes the tree
wrote (``ru_oublock``: the kernel's write_bytes of /proc/PID/io, summed over reaped children)
against the database size, and the tree's peak RSS; wall clock and load average beside them.
Trees alternate run by run, so a change in the machine's load hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path[:1] = [str(Path(__file__).resolve().parents[1])]

from bench.importrun import bench_env, fresh_data_dir, load_directory
from bench.options import RESULTS
from bench.rss import TreeMemorySampler


def one_run(tree: Path, files: list[str], work: Path) -> dict:
    data = fresh_data_dir(work / f"ab-{tree.resolve().name}")
    env = {**bench_env(data, "sqlite"), "PYTHONPATH": str(tree.resolve())}
    load_directory(tree, env)
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "server", "import", *files, "--json"], env=env, cwd=tree,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    sampler = TreeMemorySampler(proc.pid).start()
    out, err = proc.communicate()
    memory = sampler.stop()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{tree}: import exited {proc.returncode}: {err[-500:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    n = summary["read"]
    db = sum(f.stat().st_size for f in data.rglob("*") if f.is_file())
    written = (after.ru_oublock - before.ru_oublock) * 512
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "tree": str(tree), "messages": n, "archived": summary["archived"], "duplicates": summary["duplicates"],
        "wall_s": round(wall, 1), "msg_per_s": round(n / wall, 1), "cpu_ms_per_msg": round(cpu * 1000 / n, 2),
        "importer_cpu_ms_per_msg": round(memory["root_process_cpu_seconds"] * 1000 / n, 2),
        "system_cpu_ms_per_msg": round((after.ru_stime - before.ru_stime) * 1000 / n, 2),
        "written_mb": round(written / 1e6, 1), "database_mb": round(db / 1e6, 1), "written_vs_database": round(written / db, 2),
        "peak_rss_mb": memory["peak_rss_mb"], "peak_anon_rss_mb": memory["peak_anon_rss_mb"],
        "load_avg_1m_at_start": round(load, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="mail files or folders every tree imports")
    parser.add_argument("--trees", required=True, help="comma-separated checkouts, each run with this Python")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "work")
    parser.add_argument("--name", default="import-ab")
    args = parser.parse_args(argv)
    trees = [Path(t) for t in args.trees.split(",") if t]
    files = [str(Path(f).resolve()) for f in args.files]
    runs = []
    for _ in range(args.runs):
        for tree in trees:
            runs.append(one_run(tree, files, args.work))
            print(json.dumps(runs[-1]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{args.name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps({"name": args.name, "files": files, "runs": runs}, indent=1) + "\n")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
