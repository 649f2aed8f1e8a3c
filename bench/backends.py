"""Where each backend's store lives during a run: SQLite in the data dir, Elasticsearch at a URL.

Without ``--es-url`` the Elasticsearch runs start the project's engine (engine/: one real
Elasticsearch node on 127.0.0.1, the same the test suite runs, tests/support/es_node.py) with its
data on disk under the run's data dir and Elasticsearch's default refresh interval, and stop it
at the end of the run.
"""

from __future__ import annotations

import argparse
import os
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


def archive_prefix(url: str) -> str:
    """The index prefix of the one archive on a cluster (``--archive`` of an Elasticsearch data
    dir kept by ``--keep-data``: each run made its own prefix, ``bench<size>t<time>``)."""
    from elasticsearch import Elasticsearch

    with Elasticsearch(url, request_timeout=60) as es:
        aliases = es.indices.get_alias(index="*-messages-*")
    prefixes = sorted({a[: -len("-messages")] for idx in aliases.values() for a in idx["aliases"] if a.endswith("-messages")})
    if len(prefixes) != 1:
        raise Unavailable(f"--archive needs exactly one archive on {url}; it holds {prefixes or 'none'}")
    return prefixes[0]


def node_cpu_seconds(url: str) -> float | None:
    """CPU seconds the Elasticsearch node processes have used so far (``_nodes/stats/process``,
    summed over the nodes), or None when the cluster does not say. The import's own CPU figures
    count the importer's process tree only; on Elasticsearch the node does much of the work."""
    from elasticsearch import Elasticsearch

    with Elasticsearch(url, request_timeout=60) as es:
        nodes = es.nodes.stats(metric="process")["nodes"].values()
    millis = [node.get("process", {}).get("cpu", {}).get("total_in_millis") for node in nodes]
    return sum(millis) / 1000 if millis and None not in millis else None


def with_node_cpu(imported: dict, node_seconds: float | None) -> dict:
    """The import's figures plus the node's CPU during it: per message, and the rate client and
    node together allow with every core of this machine free (both run here)."""
    messages = imported.get("messages") or 0
    if node_seconds is None or not messages:
        return imported
    total = imported.get("cpu_seconds", 0.0) + node_seconds
    cores = os.cpu_count() or 1
    return {**imported, "node_cpu_seconds": round(node_seconds, 2),
            "node_cpu_ms_per_msg": round(node_seconds / messages * 1000, 3),
            "client_and_node_cpu_ms_per_msg": round(total / messages * 1000, 3),
            "client_and_node_cpu_bound_msg_per_s": round(cores * messages / total, 1) if total else 0.0}  # fmt: skip
