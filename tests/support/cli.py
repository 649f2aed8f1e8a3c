"""An archive for command-line tests: the environment pointed at it, the archive created.

Commands other than ``serve`` refuse a data directory that holds no archive (``server.datadir``),
so a test first creates one, as ``mailarchive serve`` would have on a real installation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import Config, load_config
from server.store import open_store


def cli_archive(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Config:
    """Point ``MAILARCHIVE_*`` at ``data_dir`` (SQLite, no TOML file, UTC) and create the archive there."""
    monkeypatch.setenv("MAILARCHIVE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MAILARCHIVE_CONFIG", "none")
    monkeypatch.setenv("MAILARCHIVE_STORE", "sqlite")
    monkeypatch.delenv("MAILARCHIVE_TIMEZONE", raising=False)
    config = load_config()
    open_store(config).close()
    return config


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """Run ``mailarchive ARGV`` in-process: (exit code, stdout, stderr)."""
    from server.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
