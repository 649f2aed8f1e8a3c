"""``mailarchive bench``: the benchmark harness of bench/ (a source-checkout tool, not shipped).

The harness lives beside the package rather than in it, because it needs the source tree (results
files, docs/performance.md, the SMTP bench); this command only finds it and hands over.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from server.cli import UsageError

ROOT = Path(__file__).resolve().parents[2]


def _importable() -> None:
    if not (ROOT / "bench" / "run.py").is_file():
        raise UsageError(f"the benchmark harness is not here ({ROOT / 'bench'}); run it from a source checkout")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def _harness_options():
    _importable()
    from bench import options

    return options


def configure(parser: argparse.ArgumentParser) -> None:
    if (ROOT / "bench" / "run.py").is_file():
        _harness_options().add_arguments(parser)
    parser.set_defaults(func=run, needs_archive=False)  # scratch archives of its own


def run(args: argparse.Namespace) -> int:
    _importable()
    from bench import run as harness

    harness.run(args)
    return 0
