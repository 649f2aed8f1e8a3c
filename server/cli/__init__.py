"""The ``mailarchive`` command. Each command group lives in its own module with ``register(sub)``.

Exit codes: 0 success, 1 failure at run time, 2 bad input (one line on stderr). Commands work on an
existing archive (``server.datadir``); one that may run without sets ``needs_archive=False``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from server.config import ConfigError, load_config
from server.datadir import require_archive
from server.query.criteria import CriteriaError

# Modules under server.cli that define ``register(subparsers)``; add a line when adding a group.
COMMAND_MODULES = [
    "serve",
    "search",
    "export",
    "audit",
    "imports",
    "directory",
    "bench",
    "user",
    "archiving",
    "demo",
]


class UsageError(ValueError):
    """Bad command-line input; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as DESIGN.md §6 asks
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mailarchive", description="Enterprise mail archive server")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"server.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "needs_archive", True):  # serve creates one; bench makes its own
            require_archive(load_config())
        return int(args.func(args) or 0)
    except (UsageError, CriteriaError, ConfigError) as exc:
        print(f"mailarchive: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mailarchive: interrupted", file=sys.stderr)
        return 130
