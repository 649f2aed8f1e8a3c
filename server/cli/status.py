"""``mailarchive status``: the readiness checks of ``/readyz`` on the command line.

One line per check (store, Redis, spool, disk: those the node's roles need, see
``server.ops.health``); exit 0 when ready, 1 when not, so a cron job or a systemd
``ExecStartPost=`` can use it. ``--json`` prints what ``/readyz`` answers; ``--only`` names the
roles as ``serve --only`` does (default: ``MAILARCHIVE_ROLES``, else all).
"""

from __future__ import annotations

import argparse
import json

from server.cli import UsageError
from server.cli.common import config_from_env, opened_services
from server.config import NODE_ROLES, ConfigError, with_overrides


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the checks as the JSON /readyz answers")
    parser.add_argument("--only", metavar="NAMES", help="check for a node running these daemons (as serve --only): "
                        + ", ".join(NODE_ROLES))  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_env()
    if args.only:
        try:
            config = with_overrides(config, roles=args.only)
        except ConfigError as exc:
            raise UsageError(f"--only: {exc}") from None
    with opened_services(config) as svc:
        state = svc.ops.readiness()
    if args.json:
        print(json.dumps(state.to_dict()))
    else:
        for check in state.checks:
            print(f"{check.name:<6} {'ok' if check.ok else 'FAIL':<4}  {check.detail}")
        print("ready" if state.ready else "not ready")
    return 0 if state.ready else 1
