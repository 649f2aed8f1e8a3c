"""``mailarchive verify``: check the whole archive and exit 1 naming what is wrong.

Every message is read in arrival order and its raw blob hashed, so this takes about as long as
reading the archive once; a progress bar (tqdm, on a terminal) shows how far it got. Interrupted
(Ctrl-C, a reboot), the next run continues from its checkpoint; ``--restart`` starts over.
Exit codes: 0 intact, 1 problems found (the first ones listed, then counts per kind) or the store
could not be read, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from server.cli.audit import add_head_option
from server.cli.common import opened_services
from server.services.actor import Actor
from server.store import StoreError


def configure(parser: argparse.ArgumentParser) -> None:
    add_head_option(parser)
    parser.add_argument("--restart", action="store_true", help="discard an interrupted run's checkpoint and start over")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (it is shown only on a terminal)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with opened_services() as svc:
        if svc.verify.unfinished() and not args.restart:
            print("resuming the interrupted verification (--restart to start over)", file=sys.stderr)
        try:
            with _progress(disabled=args.no_progress) as progress:
                report = svc.verify.run(Actor.cli(), head=args.head, restart=args.restart, progress=progress)
        except StoreError as exc:
            print(f"mailarchive: error: the archive could not be read, verification stopped: {exc}", file=sys.stderr)
            return 1
    summary = f"{report.messages} messages, {report.batches} ledger batches, {report.audit_entries} audit entries"
    if report.ok:
        print(f"archive intact: {summary}")
        return 0
    print(f"archive TAMPERED: {report.total_problems} problems ({summary})", file=sys.stderr)
    for kind, text in report.problems:
        print(f"  {kind}: {text}", file=sys.stderr)
    if report.total_problems > len(report.problems):
        print(f"  ... and {report.total_problems - len(report.problems)} more", file=sys.stderr)
    print("  by kind: " + ", ".join(f"{kind} {n}" for kind, n in report.counts.items()), file=sys.stderr)
    return 1


@contextmanager
def _progress(*, disabled: bool) -> Iterator[Callable[[int, int], None]]:
    from tqdm import tqdm

    bar = tqdm(unit="msg", desc="verifying", file=sys.stderr, disable=True if disabled else None, dynamic_ncols=True)

    def update(done: int, total: int) -> None:
        bar.total = max(total, done)
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
