"""Before / after for opening a POP3 maildrop: ``Maildrop.open`` of one large window with two code
trees on the same SQLite archive, in interleaved rounds, and a check that both windows are equal.

    git archive main | tar -x -C /tmp/before
    python bench/pop3_window_ab.py --before /tmp/before --archive DATA_DIR --window 20000 --rounds 9 \
        --callgrind --out bench/results/pop3-window-ab-NAME.json

The window is built at login, before the client sees ``+OK``, so its cost is login latency. Each
run is a fresh process (``first``: the open a daemon's first session pays, imports included) that
then opens the same window again (``warm``: every later session). CPU time of the open is the
figure that holds on a shared machine; wall time is reported with the load average read before
each run. ``--callgrind`` adds the instruction counts of one run of each tree under valgrind, minus
a run that opens the store and no window (start-up and imports), so the counts are the window's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Only ``pop3d.maildrop`` and the store are imported: the child runs unchanged on an older tree.
_CHILD = r"""
import hashlib, json, sys, time
from pop3d.maildrop import Maildrop
from server.config import load_config
from server.store import open_store

config = load_config(env={"MAILARCHIVE_DATA_DIR": sys.argv[1], "MAILARCHIVE_CONFIG": "none", "MAILARCHIVE_STORE": "sqlite"})
store = open_store(config)
out, drop = {}, None
for name in ("first", "warm")[: int(sys.argv[3])]:
    wall, cpu = time.perf_counter(), time.process_time()
    drop = Maildrop.open(store, after_seq=0, limit=int(sys.argv[2]))
    out[name] = {"wall_ms": (time.perf_counter() - wall) * 1000, "cpu_ms": (time.process_time() - cpu) * 1000}
entries = drop.entries if drop else []
def key(e):  # the old Entry called its sequence number ``seq``
    return (getattr(e, "archive_seq", None) or e.seq, e.id, e.sha256, e.size)
rows = "".join("%s %s %s %s\n" % key(e) for e in entries)
out["messages"], out["octets"] = len(entries), sum(e.size for e in entries)
out["window_sha256"] = hashlib.sha256(rows.encode()).hexdigest()
store.close()
print(json.dumps(out))
"""


def _child(tree: Path, archive: Path, window: int, opens: int, prefix: Sequence[str] = ()) -> dict:
    command = [*prefix, sys.executable, "-c", _CHILD, str(archive), str(window), str(opens)]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})  # fmt: skip
    if done.returncode:
        raise SystemExit(f"{tree}: {done.stderr[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def interleaved(trees: dict[str, Path], archive: Path, window: int, rounds: int) -> dict:
    """``rounds`` runs of each tree, alternating (the order flips every round)."""
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    names = list(trees)
    for n in range(rounds):
        for name in names if n % 2 == 0 else names[::-1]:
            load = _load()
            runs[name].append({**_child(trees[name], archive, window, 2), "load": load})
    return runs


def _median(runs: list[dict], which: str, key: str) -> float:
    return round(statistics.median(r[which][key] for r in runs), 1)


def summarise(runs: dict[str, list[dict]]) -> dict:
    out = {}
    for name, rows in runs.items():
        out[name] = {f"{which}_{key}_median": _median(rows, which, key) for which in ("first", "warm")
                     for key in ("cpu_ms", "wall_ms")}  # fmt: skip
        out[name] |= {"n": len(rows), "load_range": [min(r["load"] for r in rows), max(r["load"] for r in rows)],
                      "messages": rows[0]["messages"], "octets": rows[0]["octets"]}  # fmt: skip
    return out


def callgrind(trees: dict[str, Path], archive: Path, window: int) -> dict:
    """Instructions (Ir) of the window, per tree: a run with one open minus a run with none."""
    counts = {}
    for name, tree in trees.items():
        irs = []
        for opens in (0, 1):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "callgrind.out"
                _child(tree, archive, window, opens, ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"])
                irs.append(_total_ir(out))
        counts[name] = {"startup_ir": irs[0], "with_window_ir": irs[1], "window_ir": irs[1] - irs[0]}
    return counts


def _total_ir(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"no instruction total in {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="a copy of the code to compare against")
    parser.add_argument("--after", type=Path, default=ROOT, help="the code measured (default: this checkout)")
    parser.add_argument("--archive", type=Path, required=True, help="data dir of an existing SQLite archive")
    parser.add_argument("--window", type=int, default=20000, help="messages in the window (after_seq 0)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--callgrind", action="store_true", help="also count instructions under valgrind")
    parser.add_argument("--out", type=Path, required=True, help="the results file (JSON, every run)")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    archive = args.archive.resolve()
    runs = interleaved(trees, archive, args.window, args.rounds)
    digests = {name: {r["window_sha256"] for r in rows} for name, rows in runs.items()}
    result = {"archive": str(archive), "window": args.window, "cpus": os.cpu_count(),
              "identical_windows": len(digests["before"] | digests["after"]) == 1,
              "summary": summarise(runs), "runs": runs}  # fmt: skip
    if args.callgrind:
        result["callgrind"] = callgrind(trees, archive, args.window)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))  # every run is in the file


if __name__ == "__main__":
    main()
