"""``mailarchive pop3 enable [--password-stdin] | password --password-stdin | disable | status [--json]``.

The operator's path to the Third-party Archive Integration settings, on the server itself: the
same ``server.services.pop3`` calls as the console page, audited with actor ``cli``. ``enable``
without ``--password-stdin`` keeps the password set before (and refuses if there is none).
"""

from __future__ import annotations

import argparse
import json
import sys

from server.cli import add_commands
from server.cli.common import opened_services
from server.services.actor import Actor
from server.services.pop3 import Pop3Status


def configure(parser: argparse.ArgumentParser) -> None:
    commands = add_commands(parser, "pop3_command")
    enable = commands.add_parser("enable", help="allow POP3 logins (audited)")
    enable.add_argument("--password-stdin", action="store_true", help="set the password from the first line of stdin")
    enable.set_defaults(func=run, action="enable")
    password = commands.add_parser("password", help="set the POP3 password (audited)")
    password.add_argument("--password-stdin", action="store_true", required=True, help="read it from stdin's first line")
    password.set_defaults(func=run, action="password")
    disable = commands.add_parser("disable", help="refuse POP3 logins; the download position is kept (audited)")
    disable.set_defaults(func=run, action="disable", password_stdin=False)
    status = commands.add_parser("status", help="account, addresses, ports and download position")
    status.add_argument("--json", action="store_true", help="print the status as a JSON object")
    status.set_defaults(func=run, action="status", password_stdin=False)


def run(args: argparse.Namespace) -> int:
    secret = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None
    with opened_services() as svc:
        pop3, actor = svc.pop3, Actor.cli()
        if args.action == "enable":
            status = pop3.enable(actor, secret)
        elif args.action == "password":
            status = pop3.set_password(actor, secret or "")
        elif args.action == "disable":
            status = pop3.disable(actor)
        else:
            status = pop3.status(actor)
    if getattr(args, "json", False):
        print(json.dumps(status.to_dict()))
    else:
        print_status(status)
    return 0


def print_status(status: Pop3Status) -> None:
    rows = {
        "POP3 access": "enabled" if status.enabled else "disabled",
        "account": status.account,
        "password": "set" if status.password_set else "not set",
        "server address": status.bind,
        "POP3 port": f"{status.port}{' (STLS)' if status.stls else ''}",
        "POP3 over TLS port": status.tls_port or "-",
        "messages per session": status.window,
        "acknowledged up to": f"arrival number {status.position} of {status.watermark}",
    }
    for key, value in rows.items():
        print(f"{key:<22} {value}")
