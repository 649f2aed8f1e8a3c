"""``mailarchive purge [--dry-run]``: delete mail whose retention has ended and no legal hold covers.

The one command that deletes messages (server.services.retention). It resumes a run that was
killed; progress goes to stderr, the summary to stdout (``--json``: the run's report).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from server.cli.common import opened_services
from server.services.actor import Actor


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="count what would be purged; change nothing")
    parser.add_argument("--batch-size", type=int, default=500, metavar="N", help="messages per batch (default 500)")
    parser.add_argument("--json", action="store_true", help="print the run's report as a JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    def progress(report: dict[str, Any]) -> None:
        print(f"\rbatch {report['batches']}: {report['purged']} {'would go' if report['dry_run'] else 'purged'}"
              f" (seq {report['position']} of {report['watermark']})", end="", file=sys.stderr, flush=True)  # fmt: skip

    with opened_services() as svc:
        report = svc.retention.purge(Actor.cli(), dry_run=args.dry_run, batch_size=args.batch_size,
                                     progress=None if args.quiet else progress)  # fmt: skip
    if not args.quiet and report.batches:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0
    verb = "would purge" if report.dry_run else "purged"
    line = f"{report.run}: {verb} {report.purged} messages expired before {report.cutoff}"
    if report.purged:
        line += f" (seq {report.first_seq}-{report.last_seq})"
    if report.dry_run:
        line += f"; {report.spared_by_hold} expired but on legal hold"
    if report.resumed:
        line += "; resumed an interrupted run"
    if report.dropped_indices:
        line += f"; dropped {len(report.dropped_indices)} monthly indices whole"
    print(line)
    return 0
