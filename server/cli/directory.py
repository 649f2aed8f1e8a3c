"""``mailarchive directory import FILE``: load the company directory (accounts and departments).

Accounts are upserted by address; an account missing from the file is left as it is (its status
changes only when the file says so), and no archived mail is ever touched (rules 10-11).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from server.audit.log import AuditLog, AuditUnavailable
from server.audit.operations import Op
from server.cli import UsageError
from server.cli.audit import CLI_ACTOR, CLI_ROLE
from server.cli.common import config_from_env, opened_store
from server.indexing.directoryfile import DirectoryFileError, read_directory_file


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("directory", help="company directory: accounts and departments")
    commands = parser.add_subparsers(dest="directory_command", required=True, parser_class=type(parser))
    load = commands.add_parser("import", help="load accounts from CSV (address,name,department,status) or JSON")
    load.add_argument("file", metavar="FILE")
    load.add_argument("--json", action="store_true", help="print the result as JSON")
    load.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    try:
        accounts = read_directory_file(Path(args.file))
    except DirectoryFileError as exc:
        raise UsageError(str(exc)) from None
    config = config_from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with opened_store(config) as store:
        departments = sorted({a.department for a in accounts if a.department})
        try:
            AuditLog.for_config(store, config).record(
                actor=CLI_ACTOR, role=CLI_ROLE, operation=Op.DIRECTORY_IMPORT, target=str(args.file),
                details={"accounts": len(accounts), "departments": len(departments)},
            )
        except AuditUnavailable as exc:
            print(f"mailarchive: directory import refused, the audit log cannot be written: {exc}", file=sys.stderr)
            return 1
        written = store.upsert_accounts(accounts)
        total_departments = len(store.list_departments())
    result = {"accounts": written, "departments": total_departments}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"imported {written:,} accounts; the directory now has {total_departments:,} departments")
    return 0
