"""``mailarchive archiving enable|disable|status``: the archiving switch from the server itself.

The same operation as the console's Archive Mail Management page (server.services.archiving),
audited with actor ``cli``; ``status`` prints the archive summary.
"""

from __future__ import annotations

import argparse
import json

from server.cli import add_commands
from server.cli.common import opened_services
from server.services.actor import Actor


def configure(parser: argparse.ArgumentParser) -> None:
    commands = add_commands(parser, "archiving_command")
    for verb, enabled in (("enable", True), ("disable", False)):
        switch = commands.add_parser(verb, help=f"{verb} archiving of journal mail (audited)")
        switch.set_defaults(func=run_switch, enabled=enabled)
    status = commands.add_parser("status", help="archive summary: status, mailboxes, retention, administrators")
    status.add_argument("--json", action="store_true", help="print the summary as a JSON object")
    status.set_defaults(func=run_status)


def run_switch(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        state = svc.archiving.switch(Actor.cli(), args.enabled)
    print(f"archiving {'enabled' if state['enabled'] else 'disabled'}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        summary = svc.archiving.summary()
    if args.json:
        print(json.dumps(summary.to_dict()))
        return 0
    for key, value in summary.to_dict().items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{key.replace('_', ' '):<24} {shown if shown not in (None, '') else '-'}")
    return 0
