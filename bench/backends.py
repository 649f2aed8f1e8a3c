"""Where each backend's store lives during a run: SQLite in the data dir, Elasticsearch at a URL.

Without ``--es-url`` the Elasticsearch runs use osmem-server, the in-memory server the test suite
uses (DESIGN.md §9); its figures say nothing about a real cluster and are labelled as such.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class Unavailable(RuntimeError):
    """This part of the benchmark cannot run here yet; the message says why."""


@contextmanager
def store_url(backend: str, args: argparse.Namespace, data_dir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield "sqlite"
        return
    if args.es_url:
        yield args.es_url
        return
    raise Unavailable("no Elasticsearch: pass --es-url (osmem-server support comes with tests/support/es.py)")
