"""The full fuzz run (issue 17 item 1): 10,000 malformed messages through ``mailarchive import`` and
through a real SMTP session, every one accounted for (tests/fuzz/harness.py); figures to
bench/results/fuzz-ENTRY-TIMESTAMP.json and docs/reliability.md.

    nice -n 10 python bench/fuzz.py [--count 10000] [--seed 17] [--entry import|smtp|both]

Per entry point: generated, archived (byte for byte), deduplicated, refused by reason, lost, how many
the entry point archived with parse errors and over the parse budget (as stored), and the slowest
parses (timed again in this process). The results file is written after each entry point.

The normal suite runs the same code on a 120-message sample (tests/fuzz/test_fuzz_ingest.py).
Exit code 1 if any message was lost.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.archiving import set_enabled  # noqa: E402
from server.config import Config, load_config  # noqa: E402
from server.indexing.budget import PARSE_BUDGET_SECONDS, WALL_FACTOR  # noqa: E402
from server.store import open_store  # noqa: E402
from tests.conftest import CORPUS  # noqa: E402
from tests.fuzz import harness  # noqa: E402
from tests.fuzz.messages import corpus_messages, fuzz_messages  # noqa: E402
from tests.support.smtp import receiver_settings, running_service, wait_for  # noqa: E402


def smtp_run(config: Config, messages: list) -> harness.FuzzReport:
    store = open_store(config)
    set_enabled(store, True, "bench fuzz")
    store.close()
    report = harness.FuzzReport("smtp")
    started = time.monotonic()
    with running_service(config, receiver_settings(config, max_message_size=8 * 1024 * 1024)) as service:
        refused = harness.smtp_send(service.settings.port, messages)
        wait_for(lambda: not any((config.spool_dir / "new").iterdir()), timeout=7200, what="the spool to drain")
    report.seconds = round(time.monotonic() - started, 1)
    held = list((config.spool_dir / "hold").iterdir()) if (config.spool_dir / "hold").is_dir() else []
    report.lost.extend(f"held by the drainer: {p.name}" for p in held)
    harness.account(config, [(i, k, harness.smtp_payload(raw)) for i, k, raw in messages], refused, report)
    return report


def environment() -> dict:
    """What the figures depend on: the commit, the load (a correctness run; load only slows it) and the budget."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    return {"commit": commit, "load_average": [round(x, 1) for x in os.getloadavg()], "nice": os.nice(0),
            "parse_budget_cpu_seconds": PARSE_BUDGET_SECONDS, "wall_backstop_seconds": PARSE_BUDGET_SECONDS * WALL_FACTOR}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--entry", choices=["import", "smtp", "both"], default="both",
                        help="which entry points to drive (default both, one after the other)")
    args = parser.parse_args()
    entries = ["import", "smtp"] if args.entry == "both" else [args.entry]
    work = ROOT / "bench" / "work" / f"fuzz-{args.entry}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    messages = list(fuzz_messages(args.count, args.seed, corpus_messages(CORPUS)))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = ROOT / "bench" / "results" / f"fuzz-{args.entry}-{stamp}.json"
    results: dict = {"count": args.count, "seed": args.seed, "bytes": sum(len(m[2]) for m in messages),
                     "started": stamp, "environment": environment()}
    for entry in entries:
        config = load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=work / f"{entry}-data")
        report = harness.import_run(config, messages, work, timeout=7200) if entry == "import" else smtp_run(config, messages)
        harness.stored_notes(config, report)
        harness.parse_times(messages, report, keep=10)
        results[entry] = report.to_dict()
        results["environment_at_end"] = environment()
        out.write_text(json.dumps(results, indent=2) + "\n")  # after each entry point: a stopped run keeps the first
        print(json.dumps({k: v for k, v in results[entry].items() if k not in ("lost", "slowest_parse")}), flush=True)
    print(f"results: {out}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if any(results[entry]["lost_count"] for entry in entries) else 0


if __name__ == "__main__":
    sys.exit(main())
