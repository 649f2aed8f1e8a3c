"""Helpers shared by the command modules: configuration, the services, search criteria options.

Imports of the archive itself happen inside the functions: building a command's options (and
``--help``) must not load the store, the audit log or password hashing.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from server.config import Config
    from server.services.context import Services
    from server.store import Store

DATE_FORMAT = "YYYY-MM-DD or YYYY-MM-DDTHH:MM, in the archive's time zone"


def config_from_env() -> Config:
    from server.config import load_config

    return load_config()


@contextmanager
def opened_store(config: Config | None = None) -> Iterator[Store]:
    from server.store import open_store

    store = open_store(config or config_from_env())
    try:
        yield store
    finally:
        store.close()


@contextmanager
def opened_services(config: Config | None = None) -> Iterator[Services]:
    """The services bundle of one command run (``main`` has checked that the archive exists)."""
    from server.services.context import Services

    with Services.open(config or config_from_env()) as svc:
        yield svc


def add_criteria_arguments(parser: argparse.ArgumentParser) -> None:
    """The search criteria options of DESIGN.md §6, shared by ``search`` and ``export``.

    ``--from``/``--to`` are checked by the criteria parser (so a missing one gets the same message
    as in the console and the API), hence not ``required=True`` here.
    """
    parser.add_argument("--from", dest="from_", metavar="DATE", help=f"required: first day or time, {DATE_FORMAT}")
    parser.add_argument("--to", metavar="DATE", help=f"required: last day (inclusive) or time, {DATE_FORMAT}")
    parser.add_argument("--mailbox", metavar="ADDR", help="archived mailbox (comma-separated for several)")
    parser.add_argument("--sender", metavar="ADDR", help="full address of the sender, or @example.com for a whole domain")
    parser.add_argument("--recipient", metavar="ADDR",
                        help="full address of a recipient (To, Cc or Bcc), or @example.com for a whole domain")  # fmt: skip
    parser.add_argument("--keyword", metavar="TEXT",
                        help='words that must all occur; "a phrase"; OR; ( ); -word excludes; word* prefix '
                             "(docs/search.md)")  # fmt: skip
    parser.add_argument("--scope", metavar="subject,body,attachment",
                        help="where --keyword looks (default: all three)")  # fmt: skip
    parser.add_argument("--department", metavar="PATH", help="department path, e.g. /Sales/EMEA")
    parser.add_argument("--include-subdepartments", action="store_true", help="also the departments under --department")


def criteria_params(args: argparse.Namespace) -> dict[str, str | bool | None]:
    """The flat criteria the services validate (the same names as the console and the API)."""
    return {
        "from": args.from_,
        "to": args.to,
        "mailbox": args.mailbox,
        "sender": args.sender,
        "recipient": args.recipient,
        "keyword": args.keyword,
        "scope": args.scope,
        "department": args.department,
        "include_subdepartments": args.include_subdepartments,
    }
