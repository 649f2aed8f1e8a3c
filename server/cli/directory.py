"""``mailarchive directory import FILE``: load the company directory (accounts and departments).

Accounts are upserted by address; an account missing from the file is left as it is (its status
changes only when the file says so), and no archived mail is ever touched (rules 10-11).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from server.cli import add_commands
from server.cli.common import opened_services
from server.services.actor import Actor


def configure(parser: argparse.ArgumentParser) -> None:
    commands = add_commands(parser, "directory_command")
    load = commands.add_parser("import", help="load accounts from CSV (address,name,department,status) or JSON")
    load.add_argument("file", metavar="FILE", help="CSV with a header line, or a JSON list of objects")
    load.add_argument("--json", action="store_true", help="print the result as JSON")
    load.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        written, departments = svc.ingest.directory(Actor.cli(), Path(args.file))
    if args.json:
        print(json.dumps({"accounts": written, "departments": departments}))
    else:
        print(f"imported {written:,} accounts; the directory now has {departments:,} departments")
    return 0
