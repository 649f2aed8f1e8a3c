"""``mailarchive hold add|list|release``: legal holds from the server itself (server.services.holds).

``add`` takes the search criteria options of ``mailarchive search``; the time range is optional
(a hold without one covers all time, including mail that arrives later).
"""

from __future__ import annotations

import argparse
import json

from server.cli import add_commands
from server.cli.common import add_criteria_arguments, criteria_params, opened_services
from server.cli.terminal import safe
from server.services.actor import Actor


def configure(parser: argparse.ArgumentParser) -> None:
    commands = add_commands(parser, "hold_command")
    add = commands.add_parser("add", help="place a named legal hold by search criteria (audited)")
    add.add_argument("name", help="a name for the hold, e.g. the case reference")
    add.add_argument("--reason", required=True, metavar="TEXT", help="why the mail is held (recorded in the audit log)")
    add_criteria_arguments(add)
    add.add_argument("--json", action="store_true", help="print the hold as a JSON object")
    add.set_defaults(func=run_add)
    listing = commands.add_parser("list", help="every hold with its criteria and how many messages it matches")
    listing.add_argument("--json", action="store_true", help="print the holds as a JSON array")
    listing.set_defaults(func=run_list)
    release = commands.add_parser("release", help="release a hold (audited); its mail may then expire")
    release.add_argument("id", help="the hold's id, e.g. hold-3")
    release.set_defaults(func=run_release)


def run_add(args: argparse.Namespace) -> int:
    params = {k: v for k, v in criteria_params(args).items() if v not in (None, False, "")}
    with opened_services() as svc:
        hold = svc.holds.place(Actor.cli(), args.name, args.reason, params)
    if args.json:
        print(json.dumps(hold.to_dict()))
    else:
        print(f"{hold.id}: placed '{hold.name}', {hold.marked} messages held now")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        holds = svc.holds.list(Actor.cli())
    if args.json:
        print(json.dumps([h.to_dict() for h in holds]))
        return 0
    if not holds:
        print("no legal holds")
    for h in holds:
        criteria = " ".join(f"{k}={v}" for k, v in h.criteria.items() if k != "scope")
        matched = h.matched if h.matched is not None else "-"
        print(safe(f"{h.id:<10} {h.status:<9} {matched!s:>8}  {h.name}  [{criteria}]  placed {h.placed_at} by {h.placed_by}"))
    return 0


def run_release(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        hold = svc.holds.release(Actor.cli(), args.id)
    print(f"{hold.id}: released '{hold.name}'")
    return 0
