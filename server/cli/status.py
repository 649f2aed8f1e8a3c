"""``mailarchive status``: the readiness checks of ``/readyz`` on the command line.

One line per check (store, Redis, spool, disk); exit 0 when ready, 1 when not, so a cron job or a
systemd ``ExecStartPost=`` can use it. ``--json`` prints what ``/readyz`` answers.
"""

from __future__ import annotations

import argparse
import json

from server.cli.common import opened_services


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the checks as the JSON /readyz answers")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        state = svc.ops.readiness()
    if args.json:
        print(json.dumps(state.to_dict()))
    else:
        for check in state.checks:
            print(f"{check.name:<6} {'ok' if check.ok else 'FAIL':<4}  {check.detail}")
        print("ready" if state.ready else "not ready")
    return 0 if state.ready else 1
