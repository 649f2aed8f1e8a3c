"""Where each backend's store lives during a run: SQLite in the data dir, Elasticsearch at a URL.

Without ``--es-url`` the Elasticsearch runs start the project's engine (engine/: one real
Elasticsearch node on 127.0.0.1, the same the test suite runs, tests/support/es_node.py) with its
data on disk under the run's data dir and Elasticsearch's default refresh interval, and stop it
at the end of the run.
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
    from tests.support.es_node import EngineError, EngineNode

    engine_data = data_dir / "engine"
    engine_data.mkdir(parents=True, exist_ok=True)
    try:
        node = EngineNode.start(data=engine_data)
    except EngineError as exc:
        raise Unavailable(f"no Elasticsearch: pass --es-url, or make the engine start ({exc})") from None
    try:
        yield node.url
    finally:
        node.close()
