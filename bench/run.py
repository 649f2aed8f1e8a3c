"""``make bench`` / ``mailarchive bench``: generate, parse, import, search, SMTP — one run, one JSON file.

For each corpus size: generate (cached under bench/work), time the bare parse+hash loop on every
core, then for each backend a real ``mailarchive import`` into a fresh data dir (msg/s, MB/s, ratio
to the parse loop, peak RSS of the process tree), search latency over a fixed criteria mix through
the Store API and through GET /api/v1/messages, and once per run the SMTP journal benchmark and
Export All (a real worker zipping --export-size messages, beside a bare read-and-zip loop).
Results go to bench/results/<name>-<date>.json and the table in docs/performance.md.

    python bench/run.py --sizes 10000,100000 --backends sqlite,elasticsearch
    python bench/run.py --sizes 1000000 --backends sqlite --name memory     # the 1 M memory run
    python bench/run.py --sizes 0 --skip smtp --export-size 100000 --name export   # Export All alone
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import bench.* from the repository, not bench/ itself
    sys.path[:1] = [str(Path(__file__).resolve().parents[1])]

from bench.options import ROOT, add_arguments


def _git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip()


def _machine() -> dict:
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), None)
    load = os.getloadavg()[0]
    return {"cpus": os.cpu_count(), "memory_mb": mem, "python": platform.python_version(),
            "platform": platform.platform(), "load_avg_1m_at_start": round(load, 2)}


def run(args: argparse.Namespace) -> dict:
    from bench import report
    from bench.stages import archive_run, export_stage, run_size, smtp_stage

    sizes = args.sizes if args.sizes is not None else ([2000] if args.quick else [10_000, 100_000])
    sizes = [size for size in sizes if size > 0]  # --sizes 0: no import runs (an Export All or SMTP run alone)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()} | ({"smtp", "api"} if args.quick else set())
    result = {
        "name": args.name,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "machine": _machine(),
        "options": {"sizes": sizes, "backends": args.backends, "quick": args.quick, "seed": args.seed,
                    "format": args.fmt, "skip": sorted(skip)},
        "runs": [],
    }
    if args.archive is not None:  # search stages on an existing archive, nothing else
        result["runs"] = archive_run(args, skip)
        skip |= {"smtp", "export"}
    for size in sizes if args.archive is None else []:
        result["runs"] += run_size(size, args, skip)
    result["smtp"] = smtp_stage(args, skip)
    result["export"] = export_stage(args, skip)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    path = report.write_results(result, args.results)
    print(f"results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    _plot_memory(result, path)
    if not args.no_doc:
        report.update_doc(args.doc, args.results)
        print(f"table:   {args.doc}")
    return result


def _plot_memory(result: dict, path: Path) -> None:
    """One SVG per import beside the results file, and a sparkline of the tree's RSS."""
    from bench.rssplot import sparkline, svg

    for run in result["runs"]:
        imp = run.get("import", {})
        timeline = imp.get("timeline") or []
        if not timeline:
            continue
        title = (f"mailarchive import, {run['backend']}, {run['size']:,} messages: peak RSS "
                 f"{imp.get('peak_rss_mb', 0):.0f} MB (anon {imp.get('peak_anon_rss_mb', 0):.0f} MB)")
        plot = path.with_name(f"{path.stem}-rss-{run['backend']}-{run['size']}.svg")
        plot.write_text(svg(timeline, title))
        imp["rss_plot"] = plot.name
        print(f"memory:  {plot.name}  {sparkline([p['rss_mb'] for p in timeline])}  (peak {imp.get('peak_rss_mb', 0):.0f} MB)")
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
