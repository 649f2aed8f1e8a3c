"""``mailarchive retention show|set``: the retention period (server.services.retention).

``set YEARS`` applies to new mail; ``--restamp`` also re-stamps existing mail (lengthening freely;
shortening needs ``--confirm "shorten to YEARS years"``; held mail never gets less than it had).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from server.cli import add_commands
from server.cli.common import opened_services
from server.services.actor import Actor


def configure(parser: argparse.ArgumentParser) -> None:
    commands = add_commands(parser, "retention_command")
    show = commands.add_parser("show", help="the retention period new mail gets")
    show.set_defaults(func=run_show)
    change = commands.add_parser("set", help="change the retention period (audited)")
    change.add_argument("years", help="whole years, 1-100")
    change.add_argument("--restamp", action="store_true", help="also re-stamp the mail archived so far")
    change.add_argument("--confirm", metavar="TEXT", help='to shorten existing mail: "shorten to YEARS years"')
    change.set_defaults(func=run_set)


def run_show(_args: argparse.Namespace) -> int:
    with opened_services() as svc:
        print(f"retention period: {svc.retention.period()} years")
    return 0


def run_set(args: argparse.Namespace) -> int:
    def progress(p: dict[str, Any]) -> None:
        print(f"\rre-stamped {p['changed']} of {p['scanned']} (seq {p['seq']} of {p['of_seq']})",
              end="", file=sys.stderr, flush=True)  # fmt: skip

    with opened_services() as svc:
        if args.restamp:  # first: a wrong confirmation refuses before the period changes
            report = svc.retention.restamp(Actor.cli(), args.years, confirm=args.confirm, progress=progress)
            print(file=sys.stderr)
            print(f"re-stamped {report.changed} of {report.scanned} messages; kept longer: {report.kept_longer},"
                  f" kept for legal hold: {report.kept_for_hold}")  # fmt: skip
        years = svc.retention.set_period(Actor.cli(), args.years)
        print(f"retention period: {years} years (new mail)")
    return 0
