"""``mailarchive search --from DATE --to DATE [criteria]``: one page, the next with ``--cursor``, or
every match with ``--all`` (``--jsonl`` streams one JSON object a line, so a script can list more
than the 1,000 a page holds).

Reading the archive is audited by the service (operation ``search``, actor ``cli``) before any
result is shown; if the entry cannot be written the command prints nothing and exits 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from datetime import tzinfo

from server.cli import UsageError
from server.cli.common import add_criteria_arguments, criteria_params, opened_services
from server.cli.terminal import json_line, safe
from server.query.criteria import MAX_LIMIT
from server.timezones import zone as time_zone

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from server.model import Message
    from server.query.criteria import Criteria

SUBJECT_WIDTH = 60


def configure(parser: argparse.ArgumentParser) -> None:
    add_criteria_arguments(parser)
    parser.add_argument("--limit", metavar="N", help=f"results on one page (default 50, at most {MAX_LIMIT})")
    parser.add_argument("--cursor", metavar="CURSOR", help="the next page: the next_cursor printed with the previous one")
    parser.add_argument("--sort", metavar="ORDER",
                        help="-date newest first (the default), date oldest first, -size largest first, size smallest "
                             "first; a leading dash needs the = form: --sort=-size")  # fmt: skip
    parser.add_argument("--all", action="store_true", help="every match, streamed (instead of one page)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help='print {"total", "results": [...], "next_cursor"}')
    output.add_argument("--jsonl", action="store_true", help="print one JSON object a line (with --all: every match)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.all and (args.cursor or args.limit):
        raise UsageError("--all lists every match; it takes no --cursor or --limit")
    if args.all and args.json:
        raise UsageError("--all streams every match: use --jsonl (one object a line) instead of --json")
    from server.services.actor import Actor

    with opened_services() as svc:
        zone = _display_zone(svc.archive.timezone())
        if args.all:
            matches = svc.archive.search_all(Actor.cli(), criteria_params(args), sort=args.sort)
            return _print(matches.messages, matches.total, None, zone, args, matches.criteria)
        criteria, page = svc.archive.search(Actor.cli(), criteria_params(args), limit=args.limit, cursor=args.cursor,
                                            sort=args.sort)  # fmt: skip
    if args.json:
        # only the JSON forms highlight: a table's start-up skips that module
        from server.query.highlight import result_rows

        print(json_line({"total": page.total, "results": result_rows(page.results, criteria), "next_cursor": page.next_cursor}))
        return 0
    return _print(page.results, page.total, page.next_cursor, zone, args, criteria)


def _display_zone(name: str) -> tzinfo:
    """The zone the table shows dates in; an unknown one is refused (exit 2) before anything is read."""
    try:
        return time_zone(name)
    except ValueError as exc:
        raise UsageError(f"{exc}: the archive's time zone must be an IANA name such as Europe/Berlin") from None


def _print(messages: Iterable[Message], total: int, next_cursor: str | None, zone: tzinfo,
           args: argparse.Namespace, criteria: Criteria) -> int:  # fmt: skip
    """One line a message: JSON (``--jsonl``, as the rows of ``--json``) or a table in the archive's zone."""
    if args.jsonl:
        from server.query.highlight import result_rows
    shown = 0
    for m in messages:
        shown += 1
        if args.jsonl:
            print(json_line(result_rows([m], criteria)[0]))
            continue
        subject = m.subject if len(m.subject) <= SUBJECT_WIDTH else m.subject[: SUBJECT_WIDTH - 1] + "…"
        print(safe(f"{m.date.astimezone(zone):%Y-%m-%d %H:%M}  {m.sender or '-':<32}  {subject or '(no subject)'}  [{m.id}]"))
    if not args.jsonl:
        count = f"{shown} of {total}" if shown < total else f"{total}"
        more = f"; next page: --cursor {next_cursor}" if next_cursor else ""
        print(f"{count} message{'s' if total != 1 else ''}{more}")
    return 0
