"""``mailarchive user add|passwd|role|list|token|disable|enable``: console accounts from the server.

The operator path for what the console cannot do by design (create the first administrators,
reset a forgotten password, issue API tokens to email administrators and scripts' accounts; an
archive administrator makes its own tokens on the console, never through here). The service audits every change and every refused
attempt with actor ``cli``. Generated passwords and tokens are printed once, never stored in clear.
An archive administrator's password is never printed or read here: adding one, granting the role
and ``passwd`` print a one-time set-password link to pass on instead (docs/security.md).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys

from server.cli import add_commands
from server.cli.common import opened_services
from server.config import Config
from server.services.actor import Actor
from server.users import PasswordLink, Role

ROLES = ", ".join([*(r.value for r in Role), "none"])


def configure(parser: argparse.ArgumentParser) -> None:
    commands = add_commands(parser, "user_command")
    add = commands.add_parser("add", help="create a user (prints a generated password unless --password-stdin; "
                                          "for an archive-admin a set-password link)")  # fmt: skip
    add.add_argument("name", help="user name: 1-64 of a-z 0-9 . _ @ -")
    add.add_argument("--role", required=True, help=f"required: one of {ROLES}")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.set_defaults(func=run_add)
    passwd = commands.add_parser("passwd", help="set a new password (generated and printed unless --password-stdin)")
    passwd.add_argument("name", help="user name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    passwd.set_defaults(func=run_passwd)
    link = commands.add_parser("use-link", help="set a password through a set-password link (its holder's step; "
                                                "audited as done by cli)")  # fmt: skip
    link.add_argument("token", help="the link, or its last part after /set-password/")
    link.add_argument("--password-stdin", action="store_true", required=True, help="read the password from stdin")
    link.set_defaults(func=run_use_link)
    role = commands.add_parser("role", help="change a user's role (postmaster is built in)")
    role.add_argument("name", help="user name")
    role.add_argument("role", help=ROLES)
    role.set_defaults(func=run_role)
    listing = commands.add_parser("list", help="list users and roles")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(func=run_list)
    token = commands.add_parser("token", help="print a new API token for Authorization: Bearer TOKEN (not for an "
                                              "archive-admin: it makes its own on the console, My account > API tokens)")  # fmt: skip
    token.add_argument("name", help="user name")
    token.set_defaults(func=run_token)
    for verb, disabled in (("disable", True), ("enable", False)):
        toggle = commands.add_parser(verb, help=f"{verb} sign-in and API tokens of a user")
        toggle.add_argument("name", help="user name")
        toggle.set_defaults(func=run_toggle, disabled=disabled)


def _password(args: argparse.Namespace) -> str | None:
    """The first line of stdin with ``--password-stdin`` (checked by the service), else None."""
    return sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None


def _print_link(config: Config, link: PasswordLink, pending_role: str) -> None:
    host = config.web.bind if config.web.bind not in ("0.0.0.0", "::", "") else socket.getfqdn()
    print(f"set-password link (one use, valid until {link.expires_at}; pass it on to {link.username}):")
    print(f"  http://{host}:{config.web.port}{link.path}")
    if pending_role:
        print(f"the {pending_role} role takes effect once {link.username} has set a password there")


def run_add(args: argparse.Namespace) -> int:
    password = _password(args)
    with opened_services() as svc:
        created = svc.accounts.add(Actor.cli(), args.name, args.role, password)
        print(f"user {created.username} added with role {created.pending_role or created.role or 'none'}"
              + (" (pending)" if created.pending_role else ""))  # fmt: skip
        if created.link:
            _print_link(svc.config, created.link, created.pending_role)
        elif password is None:
            print(f"password: {created.password}")
    return 0


def run_passwd(args: argparse.Namespace) -> int:
    password = _password(args)
    with opened_services() as svc:
        done = svc.accounts.reset_password(Actor.cli(), args.name, password)
        if done.link:
            print(f"{done.username} is an archive administrator: it sets its own password")
            _print_link(svc.config, done.link, done.pending_role)
            return 0
    print(f"password of {done.username} changed" + ("" if password else f"; new password: {done.password}"))
    return 0


def run_use_link(args: argparse.Namespace) -> int:
    """For scripts (the benchmark) and a holder with a shell; the entry names ``cli`` as the user of
    the link, so it is visible that the operator, not the person, chose this password."""
    password = _password(args) or ""
    with opened_services() as svc:
        user = svc.accounts.use_link(Actor.cli(), args.token.rstrip("/").rsplit("/", 1)[-1], password)
    print(f"password of {user.username} set; role now {user.role or 'none'}")
    return 0


def run_role(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        change = svc.accounts.set_role(Actor.cli(), args.name, args.role)
        if change.link:
            print(f"{change.user.username}: {change.previous or 'none'} -> {change.user.pending_role} (pending)")
            _print_link(svc.config, change.link, change.user.pending_role)
            return 0
    print(f"{change.user.username}: {change.previous or 'none'} -> {change.user.role or 'none'}")
    return 0


def run_toggle(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        user = svc.accounts.set_disabled(Actor.cli(), args.name, args.disabled)
    print(f"{user.username} {'disabled' if args.disabled else 'enabled'}")
    return 0


def run_token(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        print(svc.accounts.create_token(Actor.cli(), args.name))
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Reading the account list is not an operation on the archive: no audit entry."""
    with opened_services() as svc:
        rows = [{"username": u.username, "role": u.role, "pending_role": u.pending_role, "created_at": u.created_at,
                 "disabled": u.disabled} for u in svc.users.list()]  # fmt: skip
    if args.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        pending = f"  ({r['pending_role']} pending)" if r["pending_role"] else ""
        print(f"{r['username']:<24} {r['role'] or 'none':<14} {r['created_at']}{'  (disabled)' if r['disabled'] else ''}{pending}")
    return 0
