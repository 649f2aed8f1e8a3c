"""The full fuzz run (issue 17 item 1): 10,000 malformed messages through ``mailarchive import`` and
through a real SMTP session, every one accounted for (tests/fuzz/harness.py); figures to
bench/results/fuzz-ENTRY-TIMESTAMP.json and docs/reliability.md.

    nice -n 10 python bench/fuzz.py [--count 10000] [--seed 17] [--entry import|smtp|both]

Per entry point: generated, archived (byte for byte), deduplicated, refused by reason, lost, how many
the entry point archived with parse errors and over the parse budget (as stored), and the slowest
parses (timed again in this process, CPU and wall). Messages go in chunks (``--chunk``), each imported or
sent and then accounted on its own, and the results file is rewritten after each chunk, so a run stopped
by ``--max-minutes`` reports exactly what it ran.

The normal suite runs the same code on a 120-message sample (tests/fuzz/test_fuzz_ingest.py).
Exit code 1 if any message was lost.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
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


def chunks(args: argparse.Namespace) -> Iterator[list]:
    """The run's messages ``args.chunk`` at a time, generated as they are needed (making all 10,000 first
    takes minutes of CPU a stopped run would waste)."""
    messages = fuzz_messages(args.count, args.seed, corpus_messages(CORPUS))
    while part := list(itertools.islice(messages, args.chunk)):
        yield part


def import_chunks(config: Config, parts: Iterable[list], work: Path, run: Run) -> None:
    """One ``mailarchive import`` per chunk (its own directory of .eml files), accounted chunk by chunk."""
    for number, part in enumerate(parts):
        if not run.may_start(part):
            return
        run.done(harness.import_run(config, part, work / f"chunk-{number:03d}", timeout=7200), part)


def smtp_chunks(config: Config, parts: Iterable[list], run: Run) -> None:
    """One receiver for the run; per chunk: send it, wait for the drainer to empty the spool, account."""
    store = open_store(config)
    set_enabled(store, True, "bench fuzz")
    store.close()
    new, hold = config.spool_dir / "new", config.spool_dir / "hold"
    with running_service(config, receiver_settings(config, max_message_size=8 * 1024 * 1024)) as service:
        for part in parts:
            if not run.may_start(part):
                return
            report, started = harness.FuzzReport("smtp"), time.monotonic()
            refused = harness.smtp_send(service.settings.port, part)
            wait_for(lambda: not any(new.iterdir()), timeout=7200, what="the spool to drain")
            report.seconds = round(time.monotonic() - started, 1)
            report.lost.extend(f"held by the drainer: {p.name}" for p in (hold.iterdir() if hold.is_dir() else ()))
            harness.account(config, [(i, k, harness.smtp_payload(raw)) for i, k, raw in part], refused, report)
            run.done(report, part)


class Run:
    """One entry point's run: the chunks done so far, the time limit, the results file after each chunk."""

    def __init__(self, entry: str, results: dict, out: Path, deadline: float, parse_times: bool) -> None:
        self.entry, self.results, self.out, self.deadline = entry, results, out, deadline
        self.parse_times = parse_times
        self.report = harness.FuzzReport(entry)
        self.chunks = 0
        self.bytes = 0

    def may_start(self, part: list) -> bool:
        if time.monotonic() < self.deadline:
            return True
        self.results[self.entry]["stopped"] = (f"--max-minutes reached: {self.report.generated:,} of "
                                               f"{self.results['count']:,} messages run; the rest not sent")
        self.save()
        return False

    def done(self, report: harness.FuzzReport, part: list) -> None:
        self.bytes += sum(len(raw) for _, _, raw in part)
        if self.parse_times:
            harness.parse_times(part, report, keep=10)
        self.report.add(report)
        self.chunks += 1
        self.save()
        print(f"{self.entry}: {self.report.generated:,} messages, {self.report.archived:,} archived, "
              f"{self.report.deduplicated:,} deduplicated, {sum(self.report.refused.values()):,} refused, "
              f"{len(self.report.lost):,} lost", flush=True)

    def save(self, config: Config | None = None) -> None:
        entry = {**self.results.get(self.entry, {}), **self.report.to_dict(), "chunks": self.chunks, "bytes": self.bytes,
                 "parse_timed_here": self.parse_times}
        if config is not None:
            notes = harness.FuzzReport(self.entry)
            harness.stored_notes(config, notes)
            entry.update(stored_with_parse_errors=notes.stored_with_parse_errors,
                         stored_over_budget=notes.stored_over_budget)
        self.results[self.entry] = entry
        self.results["environment_at_end"] = environment()
        self.out.write_text(json.dumps(self.results, indent=2) + "\n")


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
    parser.add_argument("--chunk", type=int, default=500, help="messages per import run / per SMTP batch (default 500)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="start no chunk after this; what ran is fully accounted and the file says where it stopped")
    parser.add_argument("--no-parse-times", action="store_true",
                        help="do not parse every message again here for the slowest-parse figures")
    args = parser.parse_args()
    entries = ["import", "smtp"] if args.entry == "both" else [args.entry]
    work = ROOT / "bench" / "work" / f"fuzz-{args.entry}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    deadline = time.monotonic() + (args.max_minutes * 60 if args.max_minutes else float("inf"))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = ROOT / "bench" / "results" / f"fuzz-{args.entry}-{stamp}.json"
    results: dict = {"count": args.count, "seed": args.seed, "chunk": args.chunk, "started": stamp, "environment": environment()}
    for entry in entries:
        config = load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=work / f"{entry}-data")
        run = Run(entry, results, out, deadline, parse_times=not args.no_parse_times)
        results[entry] = {}
        parts = chunks(args)
        import_chunks(config, parts, work, run) if entry == "import" else smtp_chunks(config, parts, run)
        run.save(config)
    print(f"results: {out}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if any(results[entry]["lost_count"] for entry in entries) else 0

if __name__ == "__main__":
    sys.exit(main())
