"""``mailarchive reconcile``: check the metadata index against the raw store (``--repair`` re-indexes).

Prints the counts per problem kind and the first problems; exit 0 when nothing is left unrepaired,
1 when problems remain (so cron mails the operator). The worker runs the same job daily.
"""

from __future__ import annotations

import argparse
import json
import sys

from server.cli.common import opened_services
from server.services.actor import Actor


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repair", action="store_true", help="re-index intact raw bytes the index lost")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    def progress(line: str) -> None:
        print(f"\r{line}", end="", file=sys.stderr, flush=True)

    with opened_services() as svc:
        report = svc.ops.reconcile(Actor.cli(), repair=args.repair, progress=None if args.quiet else progress)
    if not args.quiet:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0 if report.clean else 1
    print(f"checked {report.messages_checked:,} messages and {report.blobs_checked:,} raw blobs")
    for kind, n in sorted(report.found.items()):
        print(f"{kind:<14} {n:>8,} found {report.repaired[kind]:>8,} repaired")
    for problem in report.problems[:20]:
        print(f"  {problem.kind}: {problem.key}: {problem.detail}{' (repaired)' if problem.repaired else ''}")
    print("clean" if report.clean else "problems remain" + ("" if args.repair else " (try --repair)"))
    return 0 if report.clean else 1
