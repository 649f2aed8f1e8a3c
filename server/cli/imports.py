"""``mailarchive import PATH... [--mailbox ADDR] [--json]``: backfill the archive from mail files.

An explicit administrator action, so it archives whatever the archiving switch says (DESIGN.md §4
rule 12) and is audited by the service (operation ``import``, actor ``cli``) before anything is
written, and again with its outcome.
"""

from __future__ import annotations

import argparse
import json
import sys

from server.cli.common import opened_services
from server.services.actor import Actor


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help=".eml files, mbox files or Maildir folders")
    parser.add_argument("--mailbox", metavar="ADDR", help="the mailbox these files come from (added to every message)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from server.indexing.importer import print_summary

    with opened_services() as svc:
        summary = svc.ingest.import_files(Actor.cli(), args.paths, mailbox=args.mailbox, workers=args.workers,
                                          progress=None if args.json else sys.stderr)  # fmt: skip
    if args.json:
        print(json.dumps(summary.to_dict()))
    else:
        print_summary(summary)
    return 1 if summary.failed or summary.unreadable_files else 0
