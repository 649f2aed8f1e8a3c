"""Command-line options of the benchmark, kept apart so ``mailarchive --help`` stays cheap to load."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
BACKENDS = ("sqlite", "elasticsearch")


def _int_list(text: str) -> list[int]:
    try:
        return [int(x.replace("_", "").replace("k", "000").replace("M", "000000")) for x in text.split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be whole numbers separated by commas, got {text!r}") from None


def _backends(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"backends are {', '.join(BACKENDS)}; got {text!r}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=_int_list, default=None, help="corpus sizes (default 10000,100000; --quick 2000)")
    parser.add_argument("--backends", type=_backends, default=list(BACKENDS), help="sqlite,elasticsearch")
    parser.add_argument("--quick", action="store_true", help="small corpus, one search round, no SMTP or API part")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same synthetic corpus (default 1)")
    parser.add_argument("--format", choices=("mbox", "maildir"), default="mbox", dest="fmt",
                        help="how the corpus is written for the import stage (default mbox)")
    parser.add_argument("--name", default="bench", help="results file prefix (bench/results/NAME-DATE.json)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work", help="cache and data dirs")
    parser.add_argument("--results", type=Path, default=RESULTS, help="directory of the results files")
    parser.add_argument("--doc", type=Path, default=DOC, help="performance doc whose table is regenerated")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/performance.md")
    parser.add_argument("--es-url", default=os.environ.get("MAILARCHIVE_BENCH_ES_URL"),
                        help="an Elasticsearch cluster to use instead of starting the engine (engine/)")
    parser.add_argument("--skip", default="", help="comma-separated stages to skip: parse,notmuch,search,api,cli,scan,smtp,pop3,profile,export")
    parser.add_argument("--parse-limit", type=int, default=20_000, metavar="N",
                        help="parse loops over the first N messages only (the per-message cost does not depend "
                             "on corpus size; eml-parser needs ~6 CPU ms a message); 0 = all")
    parser.add_argument("--smtp-messages", type=int, default=2000, help="messages sent in the SMTP stage (default 2000)")
    parser.add_argument("--export-size", type=int, default=None, metavar="N",
                        help="messages in the Export All bench (default 100000, --quick 300)")
    parser.add_argument("--pop3-messages", type=int, default=10_000, metavar="N",
                        help="messages the POP3 stage retrieves (one window) from each size's archive")
    parser.add_argument("--profile", type=int, default=None, metavar="N",
                        help="profile the pipeline on the first N messages (default 3000, --quick 0)")
    parser.add_argument("--keep-data", action="store_true", help="keep the imported data dirs under --work")
    parser.add_argument("--archive", type=Path, default=None, metavar="DATA_DIR",
                        help="measure the search, API and CLI stages on this existing archive instead of importing a "
                             "corpus: a SQLite data dir, or an Elasticsearch one kept by --keep-data (its node is "
                             "started on DATA_DIR/engine; with --es-url, that cluster); adds a 'bench' user and "
                             "audit entries to it")
