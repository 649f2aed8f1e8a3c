"""The ``mailarchive`` command. Each command lives in its own module with ``configure(parser)``.

Start-up stays light: only the module of the command being run is imported (``COMMANDS`` names
each module with the one-line help ``mailarchive --help`` shows), so ``mailarchive search``
does not load the SMTP server, the importer or Flask.

Commands work on an existing archive (``server.datadir``); one that may run without sets
``needs_archive=False``. Exit codes: 0 success, 1 failure at run time (store or audit log
unavailable, damaged mail), 2 bad input or a refused request (one line on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# command -> (module under server.cli, one-line help); add a line when adding a command.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("serve", "run the archive server (web console, SMTP journal receiver, ...)"),
    "worker": ("worker", "run the background job worker (Export All, maintenance)"),
    "search": ("search", "search the archive (a time range is required); page or stream the results"),
    "export": ("export", "write archived mail to a file: one .eml (--id) or a zip of every match"),
    "audit": ("audit", "verify or query the archive log (audit trail), print its head"),
    "verify": ("verify", "check the whole archive: every message, blob and ledger entry, and the audit chain"),
    "import": ("imports", "archive .eml files, mbox files and Maildir folders (recursively)"),
    "directory": ("directory", "company directory: accounts and departments"),
    "user": ("user", "console users, roles and API tokens"),
    "archiving": ("archiving", "enable or disable archiving of journal mail, or show the summary"),
    "pop3": ("pop3", "the POP3 account for third-party archiving: enable, disable, password, status"),
    "purge": ("purge", "delete mail whose retention has ended and that no legal hold covers (--dry-run first)"),
    "hold": ("hold", "legal holds: place, list and release holds that keep mail from the purge"),
    "retention": ("retention", "the retention period: show, change, re-stamp existing mail"),
    "demo-data": ("demo", "archive generated sample mail of the last weeks (to try the console)"),
    "reconcile": ("reconcile", "check the search index against the stored raw mail; --repair re-indexes"),
    "status": ("status", "readiness: store, Redis, spool and disk space (exit 1 when not ready)"),
    "bench": ("bench", "benchmark import, search and SMTP on synthetic mail (see docs/performance.md)"),
}
EPILOG = ("Run 'mailarchive COMMAND --help' for the options of a command. Exit codes: 0 success, "
          "1 failure at run time, 2 bad input or refused.")  # fmt: skip


class UsageError(ValueError):
    """Bad command-line input; printed as one line, exit code 2."""


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil: argparse does that for
    every option added, and shutil loads zlib, bz2 and lzma (~5 ms of a search's start-up)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
        return 80


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, its width read as argparse does (the terminal's, less 2)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or _terminal_columns() - 2)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # one line, exit 2, as DESIGN.md §6 asks
        raise UsageError(message)


class _Version(argparse.Action):
    """``--version``: reads the installed distribution's version only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from server import __version__

        print(f"mailarchive {__version__}")
        parser.exit()


def add_commands(parser: argparse.ArgumentParser, dest: str) -> argparse._SubParsersAction:
    """Sub-commands of a command group (``user add``...); the group alone prints its help."""
    parser.set_defaults(func=_Help(parser))
    return parser.add_subparsers(dest=dest, metavar="COMMAND", parser_class=_Parser)


class _Help:
    """The action of a command given without its sub-command: print its usage (exit 0)."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser

    def __call__(self, _args: argparse.Namespace) -> int:
        self.parser.print_help()
        return 0


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser, with only the command named in ``argv`` fully configured (lazy loading)."""
    parser = _Parser(prog="mailarchive", description="Enterprise mail archive server", epilog=EPILOG)
    parser.add_argument("--version", action=_Version)
    parser.set_defaults(func=_Help(parser))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    # A known command gets only its own sub-parser: building all eighteen (each help text through
    # gettext) is a fifth of a short command's start-up. Without one (``--help``, a typo) every
    # command is listed, so usage and "invalid choice" messages name them all.
    names = [chosen] if chosen in COMMANDS else list(COMMANDS)
    for name in names:
        module, help_text = COMMANDS[name]
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(f"server.cli.{module}").configure(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a refusal of the services is its one-line message and exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(argv).parse_args(argv)
        if getattr(args, "needs_archive", True) and not isinstance(args.func, _Help):  # serve creates one
            _require_archive()
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit, so a reader that went away is handled below
        return code
    except BrokenPipeError:
        return _reader_gone()
    except UsageError as exc:
        return _fail(str(exc), 2)
    except KeyboardInterrupt:
        print("mailarchive: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        return _known_failure(exc)


def _reader_gone() -> int:
    """The reader of stdout closed it early (``mailarchive search --all --jsonl | head``): it has what
    it wanted, so this is no error; stdout goes to /dev/null so the exit's flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


def _require_archive() -> None:
    """Refuse (exit 2) a data directory that holds no archive rather than create an empty one."""
    from server.config import load_config
    from server.datadir import require_archive

    require_archive(load_config())


def _known_failure(exc: Exception) -> int:
    """Map the exceptions a command may end with; anything else is a bug and shows its traceback."""
    from server.config import ConfigError
    from server.query.criteria import CriteriaError
    from server.services.errors import ServiceError
    from server.store.protocol import StoreError

    if isinstance(exc, ServiceError):
        return _fail(exc.message, exc.exit_code)
    if isinstance(exc, ConfigError | CriteriaError):
        return _fail(str(exc), 2)
    if isinstance(exc, StoreError):  # e.g. the cluster went away while a stream was being read
        return _fail(f"the archive store failed: {exc}", 1)
    raise exc


def _fail(message: str, code: int) -> int:
    print(f"mailarchive: error: {message}", file=sys.stderr)
    return code
