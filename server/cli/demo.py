"""``mailarchive demo-data [--count N]``: fill the archive with sample mail to try the console."""

from __future__ import annotations

import argparse
import sys

from server.audit.log import AuditLog, AuditUnavailable
from server.audit.operations import Op
from server.cli import UsageError
from server.cli.audit import CLI_ACTOR, CLI_ROLE
from server.cli.common import config_from_env, opened_store
from server.demo import DEMO_DAYS, load_demo_data

MAX_COUNT = 1_000_000


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo-data", help=f"archive generated sample mail of the last {DEMO_DAYS} days (to try it out)")
    parser.add_argument("--count", type=int, default=500, help="messages to generate (default 500)")
    parser.add_argument("--seed", type=int, default=7, help="same seed, same mail (default 7)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.count <= MAX_COUNT:
        raise UsageError(f"--count must be from 1 to {MAX_COUNT}, got {args.count}")
    config = config_from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with opened_store(config) as store:
        try:  # an import like any other: audited before anything is written
            AuditLog.for_config(store, config).record(
                actor=CLI_ACTOR, role=CLI_ROLE, operation=Op.IMPORT, target="demo-data",
                details={"phase": "start", "count": args.count, "seed": args.seed})
        except AuditUnavailable as exc:
            print(f"mailarchive: demo-data refused, the audit log cannot be written: {exc}", file=sys.stderr)
            return 1
        summary = load_demo_data(store, config, count=args.count, seed=args.seed)
    outcomes = ", ".join(f"{n} {status}" for status, n in sorted(summary.outcomes.items()))
    print(f"directory: {summary.accounts} accounts; mail: {summary.generated} generated ({outcomes})")
    print(f"Sign in to the console as an archive administrator and search the last {DEMO_DAYS} days.")
    return 0
