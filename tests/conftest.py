"""Fixtures shared by every test: an isolated data dir and configuration, the shared corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import Config, load_config

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
