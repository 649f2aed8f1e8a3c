"""``mailarchive demo-data [--count N]``: fill the archive with sample mail to try the console."""

from __future__ import annotations

import argparse

from server.cli.common import opened_services
from server.demo import DEMO_DAYS
from server.services.actor import Actor


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=500, help="messages to generate (default 500)")
    parser.add_argument("--seed", type=int, default=7, help="same seed, same mail (default 7)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        summary = svc.ingest.demo_data(Actor.cli(), count=args.count, seed=args.seed)
    outcomes = ", ".join(f"{n} {status}" for status, n in sorted(summary.outcomes.items()))
    print(f"directory: {summary.accounts} accounts; mail: {summary.generated} generated ({outcomes})")
    print(f"Sign in to the console as an archive administrator and search the last {DEMO_DAYS} days.")
    return 0
