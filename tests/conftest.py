"""Fixtures shared by every test: an isolated data dir and configuration, the shared corpus, the
search engine (one real Elasticsearch node per session, started on first use)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.config import Config, load_config

# New indices on the session's node refresh this often: writes with refresh=wait_for (the store's)
# return after at most this long instead of Elasticsearch's default second.
TEST_REFRESH_INTERVAL = "100ms"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "real"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Embedded defaults in a fresh data dir; environment and mailarchive.toml are ignored."""
    return load_config(env={"MAILARCHIVE_CONFIG": "none"}, data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not (CORPUS / "manifest.tsv").is_file():
        pytest.skip(f"shared test corpus not found at {CORPUS} (it sits beside the project in the developers' workspace)")
    return CORPUS


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """The Elasticsearch every ES test uses: ``MAILARCHIVE_TEST_ES_URL`` if set (a running
    ``make engine`` or any cluster), else a node this session starts once and stops at its end."""
    url = os.environ.get("MAILARCHIVE_TEST_ES_URL")
    if url:
        yield url.rstrip("/")
        return
    from tests.support.es_node import EngineNode

    node = EngineNode.start(refresh_interval=TEST_REFRESH_INTERVAL)
    try:
        yield node.url
    finally:
        node.close()
