"""Helpers shared by the command modules: configuration, the store, search criteria arguments."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from server.config import Config, load_config
from server.query.criteria import Criteria, parse_criteria
from server.store import Store, open_store


def config_from_env() -> Config:
    return load_config()


@contextmanager
def opened_store(config: Config | None = None) -> Iterator[Store]:
    store = open_store(config or config_from_env())
    try:
        yield store
    finally:
        store.close()


def add_criteria_arguments(parser: argparse.ArgumentParser, *, required_range: bool = True) -> None:
    """The search criteria options of DESIGN.md §6, shared by ``search`` and ``export``."""
    parser.add_argument("--from", dest="from_", required=required_range, metavar="DATE")
    parser.add_argument("--to", required=required_range, metavar="DATE")
    parser.add_argument("--mailbox", metavar="ADDR", help="archived mailbox (comma-separated for several)")
    parser.add_argument("--sender", metavar="ADDR")
    parser.add_argument("--recipient", metavar="ADDR")
    parser.add_argument("--keyword", metavar="TEXT")
    parser.add_argument("--scope", metavar="subject,body,attachment")
    parser.add_argument("--department", metavar="PATH")
    parser.add_argument("--include-subdepartments", action="store_true")


def criteria_from_args(args: argparse.Namespace, config: Config) -> Criteria:
    return parse_criteria(
        {
            "from": args.from_,
            "to": args.to,
            "mailbox": args.mailbox,
            "sender": args.sender,
            "recipient": args.recipient,
            "keyword": args.keyword,
            "scope": args.scope,
            "department": args.department,
            "include_subdepartments": args.include_subdepartments,
        },
        tz=config.timezone,
    )
