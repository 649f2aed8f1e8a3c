"""``mailarchive archiving enable|disable|status``: the archiving switch from the server itself.

The same operation as the console's Archive Mail Management page (server.archive_admin),
audited with actor ``cli``; ``status`` prints the archive summary.
"""

from __future__ import annotations

import argparse
import json
import sys

from server.archive_admin import archive_summary, switch_archiving
from server.audit.log import AuditLog, AuditUnavailable
from server.cli.audit import CLI_ACTOR, CLI_ROLE
from server.cli.common import config_from_env, opened_store


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("archiving", help="enable or disable archiving of journal mail, or show the summary")
    commands = parser.add_subparsers(dest="archiving_command", required=True, parser_class=type(parser))
    for verb, enabled in (("enable", True), ("disable", False)):
        switch = commands.add_parser(verb, help=f"{verb} archiving of journal mail (audited)")
        switch.set_defaults(func=run_switch, enabled=enabled)
    status = commands.add_parser("status", help="archive summary: status, mailboxes, retention, administrators")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=run_status)


def run_switch(args: argparse.Namespace) -> int:
    config = config_from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with opened_store(config) as store:
        try:
            state = switch_archiving(store, AuditLog.for_config(store, config), args.enabled, actor=CLI_ACTOR, role=CLI_ROLE)
        except AuditUnavailable as exc:
            print(f"mailarchive: refused, the audit log cannot be written: {exc}", file=sys.stderr)
            return 1
    print(f"archiving {'enabled' if state['enabled'] else 'disabled'}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    config = config_from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with opened_store(config) as store:
        summary = archive_summary(store, config)
    if args.json:
        print(json.dumps(summary.to_dict()))
        return 0
    for key, value in summary.to_dict().items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{key.replace('_', ' '):<24} {shown if shown not in (None, '') else '-'}")
    return 0
