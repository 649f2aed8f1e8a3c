"""``mailarchive`` for benchmark runs against osmem-server (TEST-ONLY, never for production).

osmem-server speaks plain JSON and the official client insists on Elasticsearch's compatibility
headers; the test suite bridges them with ``tests/support/es_node.OsmemNode``. The benchmark runs
the real commands (import, serve, user) as subprocesses, so this entry point installs that node as
the default and hands over to ``server.cli.main``. With ``--es-url`` (a real cluster) it is not used.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def use_osmem_node() -> None:
    """Make every ElasticsearchStore of this process talk to osmem-server."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from server.store.elasticsearch import ElasticsearchStore
    from tests.support.es_node import OsmemNode

    original = ElasticsearchStore.from_config.__func__  # type: ignore[attr-defined]

    def from_config(cls, config, *, client=None, node_class=None):  # noqa: ANN001, ANN202
        return original(cls, config, client=client, node_class=node_class or OsmemNode)

    ElasticsearchStore.from_config = classmethod(from_config)  # type: ignore[method-assign]


if __name__ == "__main__":
    use_osmem_node()
    from server.cli import main

    raise SystemExit(main())
