"""``mailarchive user add|passwd|role|list|token|disable|enable``: console accounts from the server.

The operator path for what the console cannot do by design (create the first administrators,
reset a forgotten password, issue API tokens). Every change is audited with actor ``cli``.
Generated passwords and tokens are printed once and never stored in clear.
"""

from __future__ import annotations

import argparse
import json
import sys

from server.audit.operations import Op
from server.cli import UsageError
from server.cli.common import config_from_env, opened_store
from server.cli.operator import Refused, record
from server.users import Role, UserError, UserService, check_password, generate_password, parse_role

ROLES = ", ".join([*(r.value for r in Role), "none"])


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("user", help="console users, roles and API tokens")
    commands = parser.add_subparsers(dest="user_command", required=True, parser_class=type(parser))
    add = commands.add_parser("add", help="create a user (prints a generated password unless --password-stdin)")
    add.add_argument("name")
    add.add_argument("--role", required=True, help=ROLES)
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.set_defaults(func=run_add)
    passwd = commands.add_parser("passwd", help="set a new password (generated and printed unless --password-stdin)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(func=run_passwd)
    role = commands.add_parser("role", help="change a user's role (postmaster is built in)")
    role.add_argument("name")
    role.add_argument("role", help=ROLES)
    role.set_defaults(func=run_role)
    listing = commands.add_parser("list", help="list users and roles")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)
    token = commands.add_parser("token", help="print a new API token for Authorization: Bearer TOKEN")
    token.add_argument("name")
    token.set_defaults(func=run_token)
    for verb, disabled in (("disable", True), ("enable", False)):
        toggle = commands.add_parser(verb, help=f"{verb} sign-in and API tokens of a user")
        toggle.add_argument("name")
        toggle.set_defaults(func=run_toggle, disabled=disabled)


def _run(action):  # noqa: ANN001, ANN202
    """Open config and store, turn ``UserError`` into a usage error and a refused audit into exit 1."""
    config = config_from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with opened_store(config) as store:
        try:
            return action(UserService(store), lambda *a, **kw: record(store, config, *a, **kw))
        except UserError as exc:
            raise UsageError(str(exc)) from None
        except Refused:
            return 1


def _password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    check_password(password)
    return password


def run_add(args: argparse.Namespace) -> int:
    def action(users: UserService, audit) -> int:  # noqa: ANN001
        name, role, password = users.check_new(args.name), parse_role(args.role), _password(args)
        audit(Op.USER_CHANGE, name, {"change": "create", "role": role})
        created = users.add(name, role, password)
        print(f"user {created.username} added with role {created.role or 'none'}")
        if password is None:
            print(f"password: {created.password}")
        return 0

    return _run(action)


def run_passwd(args: argparse.Namespace) -> int:
    def action(users: UserService, audit) -> int:  # noqa: ANN001
        user, password = users.require(args.name), _password(args)
        audit(Op.USER_CHANGE, user.username, {"change": "password"})
        new = password if password is not None else generate_password()
        users.set_password(user.username, new)
        print(f"password of {user.username} changed" + ("" if password else f"; new password: {new}"))
        return 0

    return _run(action)


def run_role(args: argparse.Namespace) -> int:
    def action(users: UserService, audit) -> int:  # noqa: ANN001
        user, role = users.check_role_change(args.name, args.role)
        audit(Op.ROLE_CHANGE, user.username, {"from": user.role, "to": role})
        users.set_role(user.username, role)
        print(f"{user.username}: {user.role or 'none'} -> {role or 'none'}")
        return 0

    return _run(action)


def run_toggle(args: argparse.Namespace) -> int:
    def action(users: UserService, audit) -> int:  # noqa: ANN001
        user = users.require(args.name)
        audit(Op.USER_CHANGE, user.username, {"change": "disable" if args.disabled else "enable"})
        users.set_disabled(user.username, args.disabled)
        print(f"{user.username} {'disabled' if args.disabled else 'enabled'}")
        return 0

    return _run(action)


def run_token(args: argparse.Namespace) -> int:
    def action(users: UserService, audit) -> int:  # noqa: ANN001
        user = users.require(args.name)
        audit(Op.USER_CHANGE, user.username, {"change": "api_token"})
        print(users.create_token(user.username))
        return 0

    return _run(action)


def run_list(args: argparse.Namespace) -> int:
    def action(users: UserService, audit) -> int:  # noqa: ANN001, ARG001 - reading needs no entry
        rows = [{"username": u.username, "role": u.role, "created_at": u.created_at, "disabled": u.disabled}
                for u in users.list()]  # fmt: skip
        if args.json:
            print(json.dumps(rows))
            return 0
        for r in rows:
            print(f"{r['username']:<24} {r['role'] or 'none':<14} {r['created_at']}{'  (disabled)' if r['disabled'] else ''}")
        return 0

    return _run(action)
