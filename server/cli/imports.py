"""``mailarchive import PATH... [--mailbox ADDR] [--json]``: backfill the archive from mail files.

An explicit administrator action, so it archives whatever the archiving switch says (DESIGN.md §4
rule 12) and is audited (operation ``import``, actor ``cli``) before anything is written.
"""

from __future__ import annotations

import argparse
import json
import sys

from server.audit.log import AuditLog, AuditUnavailable
from server.audit.operations import Op, Result
from server.cli import UsageError
from server.cli.audit import CLI_ACTOR, CLI_ROLE
from server.cli.common import config_from_env, opened_store
from server.indexing.importer import print_summary, run_import
from server.indexing.mailreaders import ImportPathError, discover


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("import", help="archive .eml files, mbox files and Maildir folders (recursively)")
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument("--mailbox", metavar="ADDR", help="the mailbox these files come from (added to every message)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    mailbox = (args.mailbox or "").strip().lower() or None
    if mailbox is not None and ("@" not in mailbox or " " in mailbox):
        raise UsageError(f"--mailbox must be an e-mail address, got {args.mailbox!r}")
    try:
        discover(args.paths)  # bad paths are bad input: refuse before anything is written or audited
    except ImportPathError as exc:
        raise UsageError(str(exc)) from None
    config = config_from_env()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with opened_store(config) as store:
        audit = AuditLog.for_config(store, config)
        target = ", ".join(args.paths)[:1000]
        try:
            audit.record(actor=CLI_ACTOR, role=CLI_ROLE, operation=Op.IMPORT, target=target,
                         details={"phase": "start", "paths": list(args.paths), "mailbox": mailbox})
        except AuditUnavailable as exc:
            print(f"mailarchive: import refused, the audit log cannot be written: {exc}", file=sys.stderr)
            return 1
        summary = run_import(args.paths, store, config, mailbox=mailbox, workers=args.workers,
                             progress=None if args.json else sys.stderr)
        result = Result.FAILURE if summary.failed or summary.unreadable_files else Result.SUCCESS
        try:
            audit.record(actor=CLI_ACTOR, role=CLI_ROLE, operation=Op.IMPORT, target=target,
                         details={"phase": "done", "mailbox": mailbox, **summary.to_dict()}, result=result)
        except AuditUnavailable as exc:
            print(f"mailarchive: warning: the import finished but its audit entry failed: {exc}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary.to_dict()))
    else:
        print_summary(summary)
    return 1 if summary.failed or summary.unreadable_files else 0
