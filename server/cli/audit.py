"""``mailarchive audit verify|query``: check the hash chain, read the log from the server itself.

``verify`` exits 1 naming the first bad entry, so it can run from cron and alert. Querying is an
operator action on the server, audited with actor ``cli`` like the other operator commands.
"""

from __future__ import annotations

import argparse
import json
import sys

from server.audit.log import AuditLog, AuditUnavailable
from server.audit.operations import Op
from server.audit.query import csv_lines, iter_matches, parse_audit_query, query_page
from server.audit.verify import verify
from server.cli.common import config_from_env, opened_store
from server.store import StoreError

CLI_ACTOR = "cli"
CLI_ROLE = "operator"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("audit", help="verify or query the archive log (audit trail)")
    commands = parser.add_subparsers(dest="audit_command", required=True, parser_class=type(parser))
    check = commands.add_parser("verify", help="check the whole hash chain and the anchors; exit 1 if tampered")
    check.set_defaults(func=run_verify)
    query = commands.add_parser("query", help="list log entries in a time range (newest first)")
    query.add_argument("--from", dest="from_", required=True, metavar="DATE")
    query.add_argument("--to", required=True, metavar="DATE")
    query.add_argument("--actor", metavar="NAME", help="administrator user name")
    query.add_argument("--operation", metavar="OP", help="one of: " + ", ".join(op.value for op in Op))
    query.add_argument("--keyword", metavar="TEXT", help="substring of target or details")
    query.add_argument("--limit", metavar="N", help="entries to show (default 50; --csv writes all)")
    query.add_argument("--cursor", metavar="SEQ", help="next page: the next_cursor of the previous page")
    output = query.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help='print {"total", "results", "next_cursor"}')
    output.add_argument("--csv", action="store_true", help="write every matching entry as CSV")
    query.set_defaults(func=run_query)


def run_verify(args: argparse.Namespace) -> int:
    config = config_from_env()
    with opened_store(config) as store:
        log = AuditLog.for_config(store, config)
        try:
            verdict = verify(store, log.anchors)
        except StoreError as exc:
            print(f"mailarchive: error: the audit log could not be read, nothing verified: {exc}", file=sys.stderr)
            return 1
        if not verdict.ok:
            where = f"first bad entry: {verdict.first_bad}: " if verdict.first_bad else ""
            print(f"audit log TAMPERED: {where}{verdict.reason}", file=sys.stderr)
            return 1
        if verdict.entries:
            log.anchor_now()  # from now on, deleting what was just checked is detected too
    print(f"audit log intact: {verdict.entries} entries")
    return 0


def run_query(args: argparse.Namespace) -> int:
    config = config_from_env()
    params = {"from": args.from_, "to": args.to, "actor": args.actor, "operation": args.operation,
              "keyword": args.keyword, "limit": args.limit, "cursor": args.cursor}  # fmt: skip
    query = parse_audit_query(params, tz=config.timezone)
    with opened_store(config) as store:
        page = query_page(store, query)
        details = {**{k: v for k, v in params.items() if v}, "total": page["total"]}
        try:
            AuditLog.for_config(store, config).record(
                actor=CLI_ACTOR, role=CLI_ROLE, operation=Op.AUDIT_EXPORT if args.csv else Op.AUDIT_QUERY, details=details
            )
        except AuditUnavailable as exc:
            print(f"mailarchive: error: {exc}", file=sys.stderr)
            return 1
        if args.csv:
            sys.stdout.writelines(csv_lines(iter_matches(store, query)))
            return 0
    if args.json:
        print(json.dumps(page, ensure_ascii=False))
    else:
        _print_table(page)
    return 0


def _print_table(page: dict) -> None:
    for r in page["results"]:
        details = json.dumps(r["details"], ensure_ascii=False) if r["details"] else ""
        print(f"{r['seq']:>7}  {r['time']}  {r['actor']:<16} {r['operation']:<20} {r['result']:<8} {r['target']} {details}")
    print(f"{page['total']} entries" + (f"; next page: --cursor {page['next_cursor']}" if page["next_cursor"] else ""))
