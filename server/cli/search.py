"""``mailarchive search --from DATE --to DATE [criteria] [--limit N] [--json]`` (DESIGN.md §6).

Reading the archive is audited (operation ``search``, actor ``cli``) before any result is shown;
if the entry cannot be written the command prints nothing and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from zoneinfo import ZoneInfo

from server.audit.log import AuditLog, AuditUnavailable
from server.audit.operations import Op
from server.cli.audit import CLI_ACTOR, CLI_ROLE
from server.cli.common import add_criteria_arguments, config_from_env, criteria_from_args, opened_store
from server.config import Config
from server.model import Message
from server.query.criteria import MAX_LIMIT, parse_limit
from server.query.highlight import result_rows
from server.store import Store

SUBJECT_WIDTH = 60


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("search", help="search the archive (a time range is required)")
    add_criteria_arguments(parser, required_range=False)  # the criteria parser explains a missing range
    parser.add_argument("--limit", metavar="N", help=f"results to show (default 50, at most {MAX_LIMIT})")
    parser.add_argument("--json", action="store_true", help='print {"total", "results": [...]}')
    parser.set_defaults(func=run)


def audit_cli(store: Store, config: Config, operation: Op, *, target: str = "", details: dict[str, Any]) -> bool:
    """Record an operator command in the audit log; False (after saying why) if that failed."""
    try:
        AuditLog.for_config(store, config).record(
            actor=CLI_ACTOR, role=CLI_ROLE, operation=operation, target=target, details=details
        )
    except AuditUnavailable as exc:
        print(f"mailarchive: error: refused, the audit log cannot be written: {exc}", file=sys.stderr)
        return False
    return True


def run(args: argparse.Namespace) -> int:
    config = config_from_env()
    criteria = criteria_from_args(args, config)
    limit = parse_limit(args.limit)
    with opened_store(config) as store:
        page = store.search(criteria, limit=limit)
        if not audit_cli(store, config, Op.SEARCH, details={**criteria.as_params(), "total": page.total}):
            return 1
    if args.json:
        rows = result_rows(page.results, criteria)
        print(json.dumps({"total": page.total, "results": rows}, ensure_ascii=False))
    else:
        _print_table(page.results, page.total, ZoneInfo(config.timezone))
    return 0


def _print_table(results: list[Message], total: int, zone: ZoneInfo) -> None:
    """One line a message, times in the configured zone (the zone the --from/--to dates are in)."""
    for m in results:
        subject = m.subject if len(m.subject) <= SUBJECT_WIDTH else m.subject[: SUBJECT_WIDTH - 1] + "…"
        print(f"{m.date.astimezone(zone):%Y-%m-%d %H:%M}  {m.sender or '-':<32}  {subject or '(no subject)'}  [{m.id}]")
    shown = f"{len(results)} of {total}" if len(results) < total else f"{total}"
    print(f"{shown} message{'s' if total != 1 else ''}")
