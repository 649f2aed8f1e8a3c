"""``mailarchive audit verify|head|query``: check the hash chain, print its head, read the log.

``head`` prints ``SEQ:HASH`` of the newest entry: record it outside the machine (a ticket, a
mail to the auditor) and pass it back as ``verify --head`` to prove nothing up to it changed.

``verify`` exits 1 naming the first bad entry, so it can run from cron and alert. Querying is an
operator action on the server, audited with actor ``cli`` like the other operator commands.
"""

from __future__ import annotations

import argparse
import json
import sys

from server.audit.operations import Op
from server.audit.verify import parse_head
from server.cli import add_commands
from server.cli.common import DATE_FORMAT, opened_services
from server.cli.terminal import json_line, safe
from server.model import format_time
from server.services.actor import Actor
from server.store import StoreError


def configure(parser: argparse.ArgumentParser) -> None:
    commands = add_commands(parser, "audit_command")
    check = commands.add_parser("verify", help="check the whole hash chain and the anchors; exit 1 if tampered")
    add_head_option(check)
    check.set_defaults(func=run_verify)
    head = commands.add_parser("head", help="print the newest entry's SEQ:HASH, to record outside this machine")
    head.add_argument("--json", action="store_true", help='print {"seq", "hash", "time"}')
    head.set_defaults(func=run_head)
    query = commands.add_parser("query", help="list log entries in a time range (newest first)")
    query.add_argument("--from", dest="from_", required=True, metavar="DATE", help=f"required: first day, {DATE_FORMAT}")
    query.add_argument("--to", required=True, metavar="DATE", help=f"required: last day (inclusive), {DATE_FORMAT}")
    query.add_argument("--actor", metavar="NAME", help="administrator user name (cli for operator commands)")
    query.add_argument("--operation", metavar="OP", help="one of: " + ", ".join(op.value for op in Op))
    query.add_argument("--keyword", metavar="TEXT", help="substring of target or details")
    query.add_argument("--limit", metavar="N", help="entries to show (default 50; --csv writes all)")
    query.add_argument("--cursor", metavar="SEQ", help="next page: the next_cursor of the previous page")
    output = query.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help='print {"total", "results", "next_cursor"}')
    output.add_argument("--csv", action="store_true", help="write every matching entry as CSV")
    query.set_defaults(func=run_query)


def add_head_option(parser: argparse.ArgumentParser) -> None:
    """``--head SEQ:HASH`` (``audit verify`` and ``mailarchive verify``)."""
    parser.add_argument("--head", type=_head, metavar="SEQ:HASH",
                        help="a head printed earlier by 'mailarchive audit head': prove nothing up to it changed")  # fmt: skip


def _head(text: str) -> tuple[int, str]:
    try:
        return parse_head(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def run_head(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        last = svc.audit_trail.head()
    if last is None:
        print("mailarchive: error: the audit log is empty: there is no head to record", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"seq": last.seq, "hash": last.hash, "time": format_time(last.time)}))
    else:
        print(f"{last.seq}:{last.hash}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        try:
            verdict = svc.audit_trail.verify_chain(head=args.head)
        except StoreError as exc:
            print(f"mailarchive: error: the audit log could not be read, nothing verified: {exc}", file=sys.stderr)
            return 1
    if not verdict.ok:
        where = f"first bad entry: {verdict.first_bad}: " if verdict.first_bad else ""
        print(f"audit log TAMPERED: {where}{verdict.reason}", file=sys.stderr)
        return 1
    print(f"audit log intact: {verdict.entries} entries")
    return 0


def run_query(args: argparse.Namespace) -> int:
    params = {"from": args.from_, "to": args.to, "actor": args.actor, "operation": args.operation,
              "keyword": args.keyword, "limit": args.limit, "cursor": args.cursor}  # fmt: skip
    with opened_services() as svc:
        if args.csv:
            export = svc.audit_trail.export(Actor.cli(), params, timezone=svc.archive.timezone())
            sys.stdout.writelines(export.lines)
            return 0
        _, page = svc.audit_trail.query(Actor.cli(), params, timezone=svc.archive.timezone())
    if args.json:
        print(json_line(page))
    else:
        _print_table(page)
    return 0


def _print_table(page: dict) -> None:
    for r in page["results"]:
        details = json.dumps(r["details"], ensure_ascii=False) if r["details"] else ""
        print(safe(f"{r['seq']:>7}  {r['time']}  {r['actor']:<16} {r['operation']:<20} {r['result']:<8} {r['target']} {details}"))
    print(f"{page['total']} entries" + (f"; next page: --cursor {page['next_cursor']}" if page["next_cursor"] else ""))
