"""Where each backend's store lives during a run: SQLite in the data dir, Elasticsearch at a URL.

Without ``--es-url`` the Elasticsearch runs use osmem-server, the in-memory server the test suite
uses (DESIGN.md §9); its figures say nothing about a real cluster and are labelled as such.
"""

from __future__ import annotations

import argparse
import sys
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
    try:
        from osmem_server import OsmemServer

        from bench import importrun, osmem_cli
    except ImportError as exc:
        raise Unavailable(f"no Elasticsearch: pass --es-url, or install osmem-server ({exc})") from None
    osmem_cli.use_osmem_node()  # this process: directory load, search via the store, profile
    server = OsmemServer.start()
    previous = importrun.COMMAND
    importrun.COMMAND = [sys.executable, "-m", "bench.osmem_cli"]  # subprocesses: import, serve, user
    try:
        yield server.url
    finally:
        importrun.COMMAND = previous
        server.close()
